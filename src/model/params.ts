// The parameters of a cross-encoder, by their Hugging Face names and shapes, in one fixed order; which ones get
// weight decay; and validation of a loaded tensor map against that list.
//
// BERT:  bert.embeddings.*, bert.encoder.layer.{i}.*, bert.pooler.dense.*, classifier.{weight,bias}
// XLM-R: roberta.embeddings.*, roberta.encoder.layer.{i}.*, classifier.dense.*, classifier.out_proj.*
// Both heads compute out(tanh(dense(h[:, 0]))): only the names differ.

import type { ModelConfig } from './config.ts';
import type { FloatTensor } from './safetensors.ts';

export interface ParamSpec {
  name: string;
  shape: number[];
  /** AdamW weight decay applies (HF convention: not for biases and LayerNorm weights). */
  decay: boolean;
}

export interface EmbeddingNames {
  word: string; // [vocab, H]
  position: string; // [maxPositions, H]
  tokenType: string; // [typeVocab, H]
  lnW: string; // [H]
  lnB: string; // [H]
}

export interface LayerNames {
  qW: string; qB: string; // [H, H], [H]
  kW: string; kB: string;
  vW: string; vB: string;
  aoW: string; aoB: string; // attention output dense [H, H], [H]
  ln1W: string; ln1B: string; // attention.output.LayerNorm [H]
  fiW: string; fiB: string; // intermediate.dense [I, H], [I]
  foW: string; foB: string; // output.dense [H, I], [H]
  ln2W: string; ln2B: string; // output.LayerNorm [H]
}

export interface HeadNames {
  denseW: string; denseB: string; // BERT pooler.dense / XLM-R classifier.dense: [H, H], [H]
  outW: string; outB: string; // BERT classifier / XLM-R classifier.out_proj: [numLabels, H], [numLabels]
}

export interface ModelParamNames {
  embeddings: EmbeddingNames;
  layers: LayerNames[];
  head: HeadNames;
}

export function modelParamNames(cfg: ModelConfig): ModelParamNames {
  const p = cfg.prefix;
  const e = `${p}.embeddings`;
  const layers: LayerNames[] = [];
  for (let i = 0; i < cfg.layers; i++) {
    const l = `${p}.encoder.layer.${i}`;
    layers.push({
      qW: `${l}.attention.self.query.weight`, qB: `${l}.attention.self.query.bias`,
      kW: `${l}.attention.self.key.weight`, kB: `${l}.attention.self.key.bias`,
      vW: `${l}.attention.self.value.weight`, vB: `${l}.attention.self.value.bias`,
      aoW: `${l}.attention.output.dense.weight`, aoB: `${l}.attention.output.dense.bias`,
      ln1W: `${l}.attention.output.LayerNorm.weight`, ln1B: `${l}.attention.output.LayerNorm.bias`,
      fiW: `${l}.intermediate.dense.weight`, fiB: `${l}.intermediate.dense.bias`,
      foW: `${l}.output.dense.weight`, foB: `${l}.output.dense.bias`,
      ln2W: `${l}.output.LayerNorm.weight`, ln2B: `${l}.output.LayerNorm.bias`,
    });
  }
  const head: HeadNames = cfg.arch === 'bert'
    ? { denseW: 'bert.pooler.dense.weight', denseB: 'bert.pooler.dense.bias', outW: 'classifier.weight', outB: 'classifier.bias' }
    : { denseW: 'classifier.dense.weight', denseB: 'classifier.dense.bias', outW: 'classifier.out_proj.weight', outB: 'classifier.out_proj.bias' };
  return {
    embeddings: {
      word: `${e}.word_embeddings.weight`,
      position: `${e}.position_embeddings.weight`,
      tokenType: `${e}.token_type_embeddings.weight`,
      lnW: `${e}.LayerNorm.weight`,
      lnB: `${e}.LayerNorm.bias`,
    },
    layers,
    head,
  };
}

/** The rule the fixtures (and transformers' Trainer) use: no decay for '*bias' or anything named LayerNorm. */
export function hasWeightDecay(name: string): boolean {
  return !(name.endsWith('bias') || name.includes('LayerNorm'));
}

/** Every trainable parameter, in a fixed order (embeddings, layers, head). */
export function paramSpecs(cfg: ModelConfig): ParamSpec[] {
  const n = modelParamNames(cfg);
  const H = cfg.hidden;
  const I = cfg.intermediate;
  const out: ParamSpec[] = [];
  const add = (name: string, shape: number[]) => out.push({ name, shape, decay: hasWeightDecay(name) });
  add(n.embeddings.word, [cfg.vocabSize, H]);
  add(n.embeddings.position, [cfg.maxPositions, H]);
  add(n.embeddings.tokenType, [cfg.typeVocabSize, H]);
  add(n.embeddings.lnW, [H]);
  add(n.embeddings.lnB, [H]);
  for (const l of n.layers) {
    add(l.qW, [H, H]); add(l.qB, [H]);
    add(l.kW, [H, H]); add(l.kB, [H]);
    add(l.vW, [H, H]); add(l.vB, [H]);
    add(l.aoW, [H, H]); add(l.aoB, [H]);
    add(l.ln1W, [H]); add(l.ln1B, [H]);
    add(l.fiW, [I, H]); add(l.fiB, [I]);
    add(l.foW, [H, I]); add(l.foB, [H]);
    add(l.ln2W, [H]); add(l.ln2B, [H]);
  }
  add(n.head.denseW, [H, H]);
  add(n.head.denseB, [H]);
  add(n.head.outW, [cfg.numLabels, H]);
  add(n.head.outB, [cfg.numLabels]);
  return out;
}

export function headParamNameList(cfg: ModelConfig): string[] {
  const h = modelParamNames(cfg).head;
  return [h.denseW, h.denseB, h.outW, h.outB];
}

export class ParamValidationError extends Error {
  override name = 'ParamValidationError';
}

export interface ValidatedParams {
  /** Every spec'd parameter, original HF name → f32 values (head entries absent when `newHead` lists them). */
  params: Map<string, Float32Array>;
  /** Head parameters the checkpoint lacks (encoder-only checkpoints): initialise them with initNewHead. */
  newHead: string[];
  /** Tensors in the file that the model does not use, each with why (position_ids buffers, LM heads …). */
  ignored: string[];
  notes: string[];
}

/**
 * Names that older or differently-wrapped checkpoints use for the same tensor: LayerNorm gamma/beta, and no
 * "bert."/"roberta." prefix (a bare BertModel / XLMRobertaModel as saved by sentence-transformers).
 */
export function canonicalName(cfg: ModelConfig, name: string): string {
  let n = name.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
  if (n.startsWith('embeddings.') || n.startsWith('encoder.') || n.startsWith('pooler.')) n = `${cfg.prefix}.${n}`;
  return n;
}

function ignoreReason(name: string): string {
  if (name.endsWith('position_ids')) return 'position_ids buffer (positions are computed)';
  if (name.startsWith('cls.') || name.startsWith('lm_head.')) return 'language-model head (unused by a cross-encoder)';
  if (name.includes('pooler.')) return 'pooler (unused by this architecture)';
  return 'not part of the model';
}

/**
 * Checks a loaded tensor map against paramSpecs(cfg): every parameter present with its exact shape (errors name the
 * tensor, expected and got shapes; all problems are listed at once). Values are returned as Float32Array.
 */
export function validateParams(cfg: ModelConfig, tensors: ReadonlyMap<string, FloatTensor>): ValidatedParams {
  const specs = paramSpecs(cfg);
  const byName = new Map<string, FloatTensor>();
  const originalName = new Map<string, string>();
  for (const [name, t] of tensors) {
    const c = canonicalName(cfg, name);
    byName.set(c, t);
    originalName.set(c, name);
  }
  const head = new Set(headParamNameList(cfg));
  const problems: string[] = [];
  const params = new Map<string, Float32Array>();
  const newHead: string[] = [];
  const notes: string[] = [];
  for (const s of specs) {
    const t = byName.get(s.name);
    if (!t) {
      if (head.has(s.name) && cfg.headIsNew) newHead.push(s.name);
      else problems.push(`missing tensor ${s.name} (expected shape [${s.shape}])`);
      continue;
    }
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      problems.push(`tensor ${originalName.get(s.name)} has shape [${t.shape}], expected [${s.shape}] from config.json`);
      continue;
    }
    params.set(s.name, t.data instanceof Float32Array ? t.data : Float32Array.from(t.data));
  }
  if (problems.length) {
    throw new ParamValidationError(`the checkpoint does not match config.json (${cfg.architecture || cfg.modelType}, hidden ${cfg.hidden}, ${cfg.layers} layers):\n  ${problems.join('\n  ')}`);
  }
  const known = new Set(specs.map((s) => s.name));
  const ignored: string[] = [];
  for (const [c, orig] of originalName) if (!known.has(c)) ignored.push(`${orig}: ${ignoreReason(orig)}`);
  if (ignored.length) notes.push(`ignored ${ignored.length} tensor(s) the cross-encoder does not use`);
  if (newHead.length) notes.push(`the checkpoint has no classification head: ${newHead.join(', ')} start from random init (std ${cfg.initializerRange})`);
  return { params, newHead, ignored, notes };
}

/**
 * transformers' _init_weights for a new head: Linear weights ~ N(0, initializer_range), biases 0.
 * `random` returns uniforms in [0, 1) (pass a seeded generator for reproducible runs).
 */
export function initNewHead(cfg: ModelConfig, names: readonly string[], random: () => number): Map<string, Float32Array> {
  const specs = new Map(paramSpecs(cfg).map((s) => [s.name, s]));
  const out = new Map<string, Float32Array>();
  for (const name of names) {
    const s = specs.get(name);
    if (!s) throw new ParamValidationError(`initNewHead: ${name} is not a parameter of this model`);
    const n = s.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    if (name.endsWith('weight')) {
      for (let i = 0; i < n; i++) {
        // Box–Muller
        const u = 1 - random();
        const w = random();
        v[i] = cfg.initializerRange * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
      }
    }
    out.set(name, v);
  }
  return out;
}
