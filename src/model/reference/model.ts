// The whole cross-encoder in float64 on the CPU: forward keeps every activation the backward needs (the cache),
// backward returns the gradient of every parameter given dLogits. This is the ground truth the WebGPU engine is
// checked against, and it matches transformers run in float64 to ~1e-13. Dropout is off unless asked for (parity
// runs); with { rates, seed } it drops exactly what the GPU encoder drops for that step seed (src/model/dropout.ts).

import { firstTokenRows } from '../../kernels/elementwise.ts';
import type { ModelConfig } from '../config.ts';
import { DROPOUT_SITE, type DropoutRates, siteSeed } from '../dropout.ts';
import { modelParamNames, paramSpecs, type ModelParamNames } from '../params.ts';
import { dropoutFactors, times } from './dropout.ts';
import {
  add, addInto, attentionBackward, attentionForward, embeddingBackward, embeddingForward, gatherRows,
  geluBackward, geluForward, layerNormBackward, layerNormForward, linearBackward, linearForward, positionIds,
  scatterRows, tanhBackward, tanhForward, type AttentionCache, type LayerNormCache,
} from './layers.ts';

/** Same field names as PairBatch (src/model/tokenize.ts), so a tokenised batch passes straight in. */
export interface ReferenceBatch {
  input_ids: Int32Array; // [B, L]
  attention_mask: Int32Array; // [B, L]
  token_type_ids: Int32Array; // [B, L]
  batch: number;
  length: number;
}

export type ReferenceParams = ReadonlyMap<string, Float64Array>;

export interface LayerCache {
  x: Float64Array; // [B·L, H] layer input
  q: Float64Array; k: Float64Array; v: Float64Array; // [B·L, H]
  attn: AttentionCache; // probs [B, nh, L, L]
  ctx: Float64Array; // [B·L, H] attention output before the output projection
  res1: Float64Array; // [B·L, H] x + dense(ctx)
  ln1: LayerNormCache;
  h1: Float64Array; // [B·L, H] LayerNorm(res1)
  pre: Float64Array; // [B·L, I] intermediate dense, before GELU
  act: Float64Array; // [B·L, I] GELU(pre)
  res2: Float64Array; // [B·L, H] h1 + dense(act)
  ln2: LayerNormCache;
  out: Float64Array; // [B·L, H]
  drop: LayerDropout;
}

/** One layer's dropout: factors (0 or 1/(1-p)) after the attention output and FFN output denses, and the attention
 * probabilities' mask. Absent parts are off. */
export interface LayerDropout {
  attnOut?: Float64Array; // [B·L, H]
  ffnOut?: Float64Array; // [B·L, H]
  attention?: { p: number; seed: number };
}

/** Train-mode dropout for one step: the rates and the step's seed (the GPU's ForwardOptions.seed). */
export interface ReferenceDropout {
  rates: DropoutRates;
  seed: number;
}

export interface ReferenceCache {
  B: number;
  L: number;
  posIds: Uint32Array; // [B·L]
  embSum: Float64Array; // [B·L, H] word + position + type
  embLn: LayerNormCache;
  embOut: Float64Array; // [B·L, H] after dropout
  embDrop?: Float64Array;
  layers: LayerCache[];
  cls: Float64Array; // [B, H] first token of the last layer
  clsIn: Float64Array; // [B, H] dense's input: cls, or dropout(cls) for XLM-R
  clsDrop?: Float64Array;
  pooled: Float64Array; // [B, H] tanh(dense(clsIn))
  outIn: Float64Array; // [B, H] the output layer's input: dropout(pooled)
  outDrop?: Float64Array;
  batch: ReferenceBatch;
}

export interface ReferenceForward {
  /** [B, numLabels] (numLabels 1 for a reranker: one score per pair). */
  logits: Float64Array;
  cache: ReferenceCache;
}

function get(params: ReferenceParams, name: string): Float64Array {
  const p = params.get(name);
  if (!p) throw new Error(`reference model: parameter ${name} is missing`);
  return p;
}

/** Widens f32 parameters (as loaded) to f64 for the reference. */
export function toFloat64Params(params: ReadonlyMap<string, Float32Array | Float64Array>): Map<string, Float64Array> {
  return new Map([...params].map(([k, v]) => [k, Float64Array.from(v)]));
}

function checkBatch(cfg: ModelConfig, batch: ReferenceBatch): void {
  const n = batch.batch * batch.length;
  for (const [k, a] of [['input_ids', batch.input_ids], ['attention_mask', batch.attention_mask], ['token_type_ids', batch.token_type_ids]] as const) {
    if (a.length !== n) throw new Error(`reference model: ${k} has ${a.length} values, expected batch ${batch.batch} × length ${batch.length}`);
  }
  if (batch.length > cfg.maxSequenceLength) throw new Error(`reference model: length ${batch.length} exceeds the model's ${cfg.maxSequenceLength} positions`);
  for (let i = 0; i < n; i++) {
    if (batch.input_ids[i] < 0 || batch.input_ids[i] >= cfg.vocabSize) throw new Error(`reference model: token id ${batch.input_ids[i]} outside vocab ${cfg.vocabSize}`);
    if (batch.token_type_ids[i] < 0 || batch.token_type_ids[i] >= cfg.typeVocabSize) throw new Error(`reference model: token type ${batch.token_type_ids[i]} outside type_vocab_size ${cfg.typeVocabSize}`);
  }
}

/** One encoder layer forward: x [B·L, H] → LayerCache (out = the layer's output). */
export function layerForward(cfg: ModelConfig, params: ReferenceParams, l: ModelParamNames['layers'][number], x: Float64Array, mask: Int32Array, B: number, L: number, drop: LayerDropout = {}): LayerCache {
  const H = cfg.hidden;
  const I = cfg.intermediate;
  const M = B * L;
  const q = linearForward(x, get(params, l.qW), get(params, l.qB), M, H, H);
  const k = linearForward(x, get(params, l.kW), get(params, l.kB), M, H, H);
  const v = linearForward(x, get(params, l.vW), get(params, l.vB), M, H, H);
  const attn = attentionForward(q, k, v, mask, B, L, cfg.heads, cfg.headDim, drop.attention);
  const ctx = attn.out;
  const res1 = add(x, times(linearForward(ctx, get(params, l.aoW), get(params, l.aoB), M, H, H), drop.attnOut));
  const ln1 = layerNormForward(res1, get(params, l.ln1W), get(params, l.ln1B), M, H, cfg.layerNormEps);
  const pre = linearForward(ln1.y, get(params, l.fiW), get(params, l.fiB), M, H, I);
  const act = geluForward(pre);
  const res2 = add(ln1.y, times(linearForward(act, get(params, l.foW), get(params, l.foB), M, I, H), drop.ffnOut));
  const ln2 = layerNormForward(res2, get(params, l.ln2W), get(params, l.ln2B), M, H, cfg.layerNormEps);
  return {
    x, q, k, v, attn: { probs: attn.probs, drop: attn.drop }, ctx, res1, ln1: { mean: ln1.mean, rstd: ln1.rstd }, h1: ln1.y, pre, act, res2,
    ln2: { mean: ln2.mean, rstd: ln2.rstd }, out: ln2.y, drop,
  };
}

/** One encoder layer backward: dOut [B·L, H] → dX [B·L, H]; parameter gradients accumulate into `grads`. */
export function layerBackward(cfg: ModelConfig, params: ReferenceParams, l: ModelParamNames['layers'][number], c: LayerCache, dOut: Float64Array, grads: Map<string, Float64Array>, B: number, L: number): Float64Array {
  const H = cfg.hidden;
  const I = cfg.intermediate;
  const M = B * L;
  const g = (n: string) => get(grads, n);
  // out = LN2(h1 + dense_o(act))
  const dRes2 = layerNormBackward(dOut, c.res2, get(params, l.ln2W), c.ln2, M, H, g(l.ln2W), g(l.ln2B));
  const dAct = linearBackward(times(dRes2, c.drop.ffnOut), c.act, get(params, l.foW), M, I, H, g(l.foW), g(l.foB));
  const dPre = geluBackward(dAct, c.pre);
  const dH1 = linearBackward(dPre, c.h1, get(params, l.fiW), M, H, I, g(l.fiW), g(l.fiB));
  addInto(dH1, dRes2); // residual
  // h1 = LN1(x + dense_ao(attention(q, k, v)))
  const dRes1 = layerNormBackward(dH1, c.res1, get(params, l.ln1W), c.ln1, M, H, g(l.ln1W), g(l.ln1B));
  const dCtx = linearBackward(times(dRes1, c.drop.attnOut), c.ctx, get(params, l.aoW), M, H, H, g(l.aoW), g(l.aoB));
  const { dQ, dK, dV } = attentionBackward(dCtx, c.q, c.k, c.v, c.attn, B, L, cfg.heads, cfg.headDim);
  const dX = linearBackward(dQ, c.x, get(params, l.qW), M, H, H, g(l.qW), g(l.qB));
  addInto(dX, linearBackward(dK, c.x, get(params, l.kW), M, H, H, g(l.kW), g(l.kB)));
  addInto(dX, linearBackward(dV, c.x, get(params, l.vW), M, H, H, g(l.vW), g(l.vB)));
  addInto(dX, dRes1); // residual
  return dX;
}

/** Forward of the whole model: logits [B, numLabels] plus the cache for referenceBackward. */
export function referenceForward(cfg: ModelConfig, params: ReferenceParams, batch: ReferenceBatch, dropout?: ReferenceDropout): ReferenceForward {
  checkBatch(cfg, batch);
  const names = modelParamNames(cfg);
  const B = batch.batch;
  const L = batch.length;
  const H = cfg.hidden;
  const M = B * L;
  const e = names.embeddings;
  const posIds = positionIds(cfg.arch, batch.input_ids, B, L, cfg.padTokenId);
  const embSum = embeddingForward(get(params, e.word), get(params, e.position), get(params, e.tokenType), batch.input_ids, posIds, batch.token_type_ids, H);
  const embLn = layerNormForward(embSum, get(params, e.lnW), get(params, e.lnB), M, H, cfg.layerNormEps);
  const rates = dropout?.rates;
  const seedOf = (site: number) => siteSeed(dropout?.seed ?? 0, site);
  const hidden = (n: number, site: number) => dropoutFactors(n, rates?.hidden ?? 0, seedOf(site));
  const embDrop = hidden(M * H, DROPOUT_SITE.embeddings);
  const layers: LayerCache[] = [];
  let x = times(embLn.y, embDrop);
  for (const [i, l] of names.layers.entries()) {
    const attention = rates && rates.attention > 0 ? { p: rates.attention, seed: seedOf(DROPOUT_SITE.attentionProbs(i)) } : undefined;
    const drop = { attnOut: hidden(M * H, DROPOUT_SITE.attentionOutput(i)), ffnOut: hidden(M * H, DROPOUT_SITE.ffnOutput(i)), attention };
    const c = layerForward(cfg, params, l, x, batch.attention_mask, B, L, drop);
    layers.push(c);
    x = c.out;
  }
  // Head: BERT pooler.dense + tanh then classifier; XLM-R classifier.dense + tanh then out_proj. Same maths, but
  // dropout differs: BERT drops the pooled output; XLM-R drops before dense and before out_proj.
  const hd = names.head;
  const cls = gatherRows(x, firstTokenRows(B, L), H); // [B, H]
  const pc = rates?.classifier ?? 0;
  const clsDrop = cfg.arch === 'xlm-roberta' ? dropoutFactors(B * H, pc, seedOf(DROPOUT_SITE.classifierDense)) : undefined;
  const clsIn = times(cls, clsDrop);
  const pooled = tanhForward(linearForward(clsIn, get(params, hd.denseW), get(params, hd.denseB), B, H, H));
  const outDrop = dropoutFactors(B * H, pc, seedOf(DROPOUT_SITE.classifierOut));
  const outIn = times(pooled, outDrop);
  const logits = linearForward(outIn, get(params, hd.outW), get(params, hd.outB), B, H, cfg.numLabels);
  return {
    logits,
    cache: {
      B, L, posIds, embSum, embLn: { mean: embLn.mean, rstd: embLn.rstd }, embOut: times(embLn.y, embDrop), embDrop, layers,
      cls, clsIn, clsDrop, pooled, outIn, outDrop, batch,
    },
  };
}

/** Zeroed gradient arrays for every parameter. */
export function zeroGrads(cfg: ModelConfig): Map<string, Float64Array> {
  return new Map(paramSpecs(cfg).map((s) => [s.name, new Float64Array(s.shape.reduce((a, b) => a * b, 1))]));
}

/** Backward of the whole model: dLogits [B, numLabels] → gradient of every parameter (HF names). */
export function referenceBackward(cfg: ModelConfig, params: ReferenceParams, cache: ReferenceCache, dLogits: Float64Array | ArrayLike<number>): Map<string, Float64Array> {
  const names = modelParamNames(cfg);
  const { B, L, batch } = cache;
  const H = cfg.hidden;
  const M = B * L;
  if (dLogits.length !== B * cfg.numLabels) throw new Error(`reference backward: dLogits has ${dLogits.length} values, expected ${B}×${cfg.numLabels}`);
  const grads = zeroGrads(cfg);
  const g = (n: string) => get(grads, n);
  const hd = names.head;
  const dOutIn = linearBackward(Float64Array.from(dLogits), cache.outIn, get(params, hd.outW), B, H, cfg.numLabels, g(hd.outW), g(hd.outB));
  const dDense = tanhBackward(times(dOutIn, cache.outDrop), cache.pooled);
  const dClsIn = linearBackward(dDense, cache.clsIn, get(params, hd.denseW), B, H, H, g(hd.denseW), g(hd.denseB));
  let d = scatterRows(times(dClsIn, cache.clsDrop), firstTokenRows(B, L), new Float64Array(M * H), H);
  for (let i = names.layers.length - 1; i >= 0; i--) d = layerBackward(cfg, params, names.layers[i], cache.layers[i], d, grads, B, L);
  const e = names.embeddings;
  const dSum = layerNormBackward(times(d, cache.embDrop), cache.embSum, get(params, e.lnW), cache.embLn, M, H, g(e.lnW), g(e.lnB));
  embeddingBackward(dSum, batch.input_ids, cache.posIds, batch.token_type_ids, H, g(e.word), g(e.position), g(e.tokenType), {
    word: cfg.padTokenId,
    position: cfg.arch === 'xlm-roberta' ? cfg.padTokenId : undefined,
  });
  return grads;
}
