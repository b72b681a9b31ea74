// The cross-encoder on the GPU: forward and backward for BERT / XLM-RoBERTa sequence classification, llm.c style.
// Each stage's forward and backward sit side by side below, shapes in comments. T = B·L tokens (B pairs, L the
// padded length), H hidden, I intermediate, nh heads.
//
//   embeddings   e = word[ids] + type[tt] + pos[pos]            [T,H]   → x0 = LN(e)        (dropout)
//   layer        qkv = x·Wqkvᵀ + b                               [T,3H]
//                ctx = attention(qkv, mask)                      [T,H]   (fused; logsumexp kept for backward)
//                h1p = dropout(ctx·Woᵀ + bo) + x                 [T,H]   → h1 = LN1(h1p)
//                f   = h1·Wiᵀ + bi                               [T,I]   → g = gelu(f) (recomputed in backward)
//                h2p = dropout(g·Wfoᵀ + bfo) + h1                [T,H]   → out = LN2(h2p)
//   head         c = out[first token of each pair]               [B,H]
//                p = tanh(c·Wdᵀ + bd)                            [B,H]   (BERT pooler / XLM-R classifier.dense)
//                logits = p·Woutᵀ + bout                         [B,1]
//
// Kept for backward, per layer: x (the previous layer's output), qkv, ctx, lse, h1p, h1, f, h2p and the two LayerNorm
// statistics. GELU's output is recomputed (cheap, and the largest activation). Dropout masks are recomputed from
// their seeds. Weight gradients accumulate (+=) so several micro-batches can add into one optimizer step; each
// weight-gradient matmul adds its bias gradient (the row sums of dY) in the same pass.

import type { Tensor } from '../../gpu/buffers.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import type { GpuRuntime } from '../../gpu/runtime.ts';
import { attentionBackward, attentionForward } from '../../kernels/attention.ts';
import {
  copy,
  dropout,
  fill,
  firstTokenRows,
  gatherRows,
  geluBackward,
  geluForward,
  scatterRows,
  tanhBackward,
  tanhForward,
  add,
} from '../../kernels/elementwise.ts';
import {
  type EmbeddingBatchGpu,
  bertPositionIds,
  embeddingBackward,
  embeddingForward,
  robertaPositionIds,
  uploadEmbeddingBatch,
} from '../../kernels/embedding.ts';
import { layerNormBackward, layerNormForward } from '../../kernels/layernorm.ts';
import { matmul } from '../../kernels/matmul.ts';
import type { ModelConfig } from '../config.ts';
import type { PairBatch } from '../tokenize.ts';
import type { GpuParams, LayerSlots, Slot } from './params.ts';

/** Activations one layer keeps for its backward. */
interface LayerActs {
  qkv: Tensor; // [T,3H]
  ctx: Tensor; // [T,H]
  lse: Tensor; // [B,nh,L]
  h1p: Tensor; // [T,H]
  h1: Tensor; // [T,H]
  mean1: Tensor; rstd1: Tensor; // [T]
  f: Tensor; // [T,I]
  h2p: Tensor; // [T,H]
  mean2: Tensor; rstd2: Tensor; // [T]
  out: Tensor; // [T,H] this layer's output (the next layer's x)
}

/** Buffers for one batch shape (B pairs × L tokens), reused across steps of that shape. */
interface Workspace {
  B: number;
  L: number;
  T: number;
  mask: Tensor; // u32 [B,L]
  rows: Tensor; // u32 [B] first-token row of each pair
  e: Tensor; // [T,H] embeddings before LN
  meanE: Tensor; rstdE: Tensor;
  x0: Tensor; // [T,H]
  layers: LayerActs[];
  cls: Tensor; // [B,H]
  pre: Tensor; // [B,H] dense(cls) before tanh
  pooled: Tensor; // [B,H]
  logits: Tensor; // [B,1]
  // backward scratch
  dA: Tensor; dB: Tensor; // [T,H] ping-pong
  dG: Tensor; dF: Tensor; // [T,I]
  g: Tensor; // [T,I] recomputed GELU output
  dqkv: Tensor; // [T,3H]
  tmpH: Tensor; // [T,H] dropout scratch
  dCls: Tensor; dPooled: Tensor; dPre: Tensor; // [B,H]
  all: Tensor[];
}

export interface ForwardOptions {
  /** Keep what backward needs, and apply dropout (when > 0). */
  train: boolean;
  /** Hidden dropout probability (config.hidden_dropout_prob in training; 0 for parity and scoring). */
  dropout?: number;
  /** Seed for this step's dropout masks. */
  seed?: number;
}

export class GpuCrossEncoder {
  private ws: Workspace | undefined;
  private emb: EmbeddingBatchGpu | undefined;
  private fwd: Required<ForwardOptions> = { train: false, dropout: 0, seed: 0 };

  constructor(
    readonly rt: GpuRuntime,
    readonly cfg: ModelConfig,
    readonly params: GpuParams,
  ) {}

  /** Position ids the way HF computes them: BERT 0..L-1; RoBERTa family from padding_idx + 1, padding = padding_idx. */
  positionIds(batch: PairBatch): Uint32Array {
    return this.cfg.arch === 'bert'
      ? bertPositionIds(batch.batch, batch.length)
      : robertaPositionIds(batch.input_ids, batch.batch, batch.length, this.cfg.padTokenId);
  }

  private async workspace(B: number, L: number): Promise<Workspace> {
    if (this.ws && this.ws.B === B && this.ws.L === L) return this.ws;
    this.releaseWorkspace();
    const { hidden: H, intermediate: I, heads: nh } = this.cfg;
    const T = B * L;
    const all: Tensor[] = [];
    const t = async (shape: number[], label: string, dtype: 'f32' | 'u32' = 'f32') => {
      const x = await this.rt.pool.tensor(shape, label, dtype);
      all.push(x);
      return x;
    };
    const layers: LayerActs[] = [];
    for (let i = 0; i < this.cfg.layers; i++) {
      layers.push({
        qkv: await t([T, 3 * H], `L${i}.qkv`),
        ctx: await t([T, H], `L${i}.ctx`),
        lse: await t([B, nh, L], `L${i}.lse`),
        h1p: await t([T, H], `L${i}.h1p`),
        h1: await t([T, H], `L${i}.h1`),
        mean1: await t([T], `L${i}.mean1`),
        rstd1: await t([T], `L${i}.rstd1`),
        f: await t([T, I], `L${i}.f`),
        h2p: await t([T, H], `L${i}.h2p`),
        mean2: await t([T], `L${i}.mean2`),
        rstd2: await t([T], `L${i}.rstd2`),
        out: await t([T, H], `L${i}.out`),
      });
    }
    this.ws = {
      B, L, T,
      mask: await t([B, L], 'mask', 'u32'),
      rows: await t([B], 'cls.rows', 'u32'),
      e: await t([T, H], 'emb.sum'),
      meanE: await t([T], 'emb.mean'),
      rstdE: await t([T], 'emb.rstd'),
      x0: await t([T, H], 'emb.out'),
      layers,
      cls: await t([B, H], 'head.cls'),
      pre: await t([B, H], 'head.pre'),
      pooled: await t([B, H], 'head.pooled'),
      logits: await t([B, 1], 'logits'),
      dA: await t([T, H], 'grad.A'),
      dB: await t([T, H], 'grad.B'),
      dG: await t([T, I], 'grad.g'),
      dF: await t([T, I], 'grad.f'),
      g: await t([T, I], 'gelu.out'),
      dqkv: await t([T, 3 * H], 'grad.qkv'),
      tmpH: await t([T, H], 'dropout.tmp'),
      dCls: await t([B, H], 'grad.cls'),
      dPooled: await t([B, H], 'grad.pooled'),
      dPre: await t([B, H], 'grad.pre'),
      all,
    };
    this.rt.write(this.ws.rows.buffer, firstTokenRows(B, L));
    return this.ws;
  }

  releaseWorkspace(): void {
    if (this.ws) for (const t of this.ws.all) this.rt.pool.release(t);
    this.ws = undefined;
    this.emb?.release();
    this.emb = undefined;
  }

  /** Bytes the workspace for B pairs × L tokens takes (activations and backward scratch). */
  static workspaceBytes(cfg: ModelConfig, B: number, L: number): number {
    const { hidden: H, intermediate: I, heads: nh, layers } = cfg;
    const T = B * L;
    const perLayer = T * (3 * H + H + H + H + I + H + H) + B * nh * L + 4 * T;
    const rest = B * L + B + 2 * T * H + 2 * T + 4 * B * H + B + 2 * T * H + 3 * T * I + 3 * T * H + T * H + 3 * B * H;
    return 4 * (layers * perLayer + rest);
  }

  // ---- forward ------------------------------------------------------------------------------------------------

  /** Runs the model on a tokenised batch; returns the logits tensor [B,1] (read it with rt.readF32). */
  async forward(batch: PairBatch, opts: ForwardOptions): Promise<Tensor> {
    const cfg = this.cfg;
    if (cfg.numLabels !== 1) throw new KernelShapeError('encoder', `cross-encoders have num_labels 1; this config has ${cfg.numLabels}`);
    if (batch.length > cfg.maxSequenceLength) {
      throw new KernelShapeError('encoder', `batch length ${batch.length} exceeds the model's ${cfg.maxSequenceLength} positions; lower max_length`);
    }
    this.fwd = { train: opts.train, dropout: opts.train ? (opts.dropout ?? 0) : 0, seed: opts.seed ?? 0 };
    const ws = await this.workspace(batch.batch, batch.length);
    const { T } = ws;
    const H = cfg.hidden;
    this.rt.write(ws.mask.buffer, Uint32Array.from(batch.attention_mask));
    this.emb?.release();
    this.emb = await uploadEmbeddingBatch(
      this.rt,
      { inputIds: batch.input_ids, positionIds: this.positionIds(batch), tokenTypeIds: batch.token_type_ids },
      {
        vocabSize: cfg.vocabSize,
        maxPositions: cfg.maxPositions,
        typeVocabSize: cfg.typeVocabSize,
        wordPaddingIdx: cfg.padTokenId,
        positionPaddingIdx: cfg.arch === 'bert' ? undefined : cfg.padTokenId,
      },
    );
    const P = this.params;
    await embeddingForward(this.rt, {
      ids: this.emb.ids, posIds: this.emb.posIds, typeIds: this.emb.typeIds,
      word: P.emb.word.p, pos: P.emb.position.p, type: P.emb.tokenType.p,
      out: ws.e, tokens: T, cols: H,
    });
    await layerNormForward(this.rt, { x: ws.e, gamma: P.emb.lnW.p, beta: P.emb.lnB.p, y: ws.x0, mean: ws.meanE, rstd: ws.rstdE, rows: T, cols: H, eps: cfg.layerNormEps });
    await this.dropoutInPlace(ws.x0, T * H, 1);
    let x = ws.x0;
    for (let i = 0; i < cfg.layers; i++) {
      await this.layerForward(i, x, ws);
      x = ws.layers[i].out;
    }
    await this.headForward(x, ws);
    return ws.logits;
  }

  /** Dropout seed for (step seed, site): distinct per layer and site so masks are independent. */
  private siteSeed(site: number): number {
    return (Math.imul(this.fwd.seed >>> 0, 0x9e3779b1) + Math.imul(site, 0x85ebca77)) >>> 0;
  }

  /** x = dropout(x) in place through tmpH (dropout is its own backward with the same seed). */
  private async dropoutInPlace(x: Tensor, n: number, site: number): Promise<void> {
    if (this.fwd.dropout <= 0) return;
    const ws = this.ws!;
    await dropout(this.rt, { x, y: ws.tmpH, n, p: this.fwd.dropout, seed: this.siteSeed(site) });
    await copy(this.rt, { x: ws.tmpH, y: x, n });
  }

  private async layerForward(i: number, x: Tensor, ws: Workspace): Promise<void> {
    const { rt, cfg } = this;
    const { T, B, L } = ws;
    const H = cfg.hidden;
    const I = cfg.intermediate;
    const w = this.params.layers[i];
    const a = ws.layers[i];
    // qkv [T,3H] = x·Wqkvᵀ + bqkv
    await matmul(rt, { a: x, b: w.qkvW.p, c: a.qkv, M: T, N: 3 * H, K: H, transB: true, bias: w.qkvB.p });
    // ctx [T,H] = softmax(QKᵀ/√d + mask)·V, per head
    await attentionForward(rt, { qkv: a.qkv, mask: ws.mask, ctx: a.ctx, lse: a.lse, batch: B, seqLen: L, heads: cfg.heads, headDim: cfg.headDim });
    // h1p = dropout(ctx·Woᵀ + bo) + x
    await this.residualLinear(a.ctx, w.aoW, w.aoB, x, a.h1p, T, H, H, 10 + 2 * i);
    await layerNormForward(rt, { x: a.h1p, gamma: w.ln1W.p, beta: w.ln1B.p, y: a.h1, mean: a.mean1, rstd: a.rstd1, rows: T, cols: H, eps: cfg.layerNormEps });
    // f [T,I] = h1·Wiᵀ + bi; g = gelu(f)
    await matmul(rt, { a: a.h1, b: w.fiW.p, c: a.f, M: T, N: I, K: H, transB: true, bias: w.fiB.p });
    await geluForward(rt, { x: a.f, y: ws.g, n: T * I });
    // h2p = dropout(g·Wfoᵀ + bfo) + h1
    await this.residualLinear(ws.g, w.foW, w.foB, a.h1, a.h2p, T, H, I, 11 + 2 * i);
    await layerNormForward(rt, { x: a.h2p, gamma: w.ln2W.p, beta: w.ln2B.p, y: a.out, mean: a.mean2, rstd: a.rstd2, rows: T, cols: H, eps: cfg.layerNormEps });
  }

  /** out [T,N] = dropout(inp·Wᵀ + b) + residual. Without dropout the residual is added by the matmul itself. */
  private async residualLinear(inp: Tensor, W: Slot, b: Slot, residual: Tensor, out: Tensor, T: number, N: number, K: number, site: number): Promise<void> {
    const rt = this.rt;
    if (this.fwd.dropout <= 0) {
      await copy(rt, { x: residual, y: out, n: T * N });
      await matmul(rt, { a: inp, b: W.p, c: out, M: T, N, K, transB: true, bias: b.p, accumulate: true });
      return;
    }
    const ws = this.ws!;
    await matmul(rt, { a: inp, b: W.p, c: out, M: T, N, K, transB: true, bias: b.p });
    await dropout(rt, { x: out, y: ws.tmpH, n: T * N, p: this.fwd.dropout, seed: this.siteSeed(site) });
    await add(rt, { a: ws.tmpH, b: residual, c: out, n: T * N });
  }

  private async headForward(x: Tensor, ws: Workspace): Promise<void> {
    const { rt, cfg } = this;
    const { B, T } = ws;
    const H = cfg.hidden;
    const h = this.params.head;
    await gatherRows(rt, { x, idx: ws.rows, out: ws.cls, n: B, cols: H, rowsIn: T });
    // XLM-R's classifier applies dropout before dense and before out_proj; BERT's pooler output gets dropout once.
    // Parity runs with dropout 0; training with a small dropout here matters little, so the head runs without it.
    await matmul(rt, { a: ws.cls, b: h.denseW.p, c: ws.pre, M: B, N: H, K: H, transB: true, bias: h.denseB.p });
    await tanhForward(rt, { x: ws.pre, y: ws.pooled, n: B * H });
    await matmul(rt, { a: ws.pooled, b: h.outW.p, c: ws.logits, M: B, N: 1, K: H, transB: true, bias: h.outB.p });
  }

  // ---- backward -----------------------------------------------------------------------------------------------

  /**
   * Adds the gradients of every parameter (into params' g buffers) for dLogits [B,1], given the last forward(train).
   * Call params.allocGrads() once before.
   */
  async backward(dLogits: Tensor): Promise<void> {
    const ws = this.ws;
    if (!ws || !this.fwd.train || !this.emb) throw new KernelShapeError('encoder', 'backward() needs a forward({ train: true }) first');
    const { rt, cfg } = this;
    const { B, T } = ws;
    const H = cfg.hidden;
    const P = this.params;
    const h = P.head;
    // logits = pooled·Woutᵀ + bout
    await matmul(rt, { a: dLogits, b: ws.pooled, c: h.outW.g!, M: 1, N: H, K: B, transA: true, accumulate: true, biasGrad: h.outB.g! });
    await matmul(rt, { a: dLogits, b: h.outW.p, c: ws.dPooled, M: B, N: H, K: 1 });
    // pooled = tanh(pre)
    await tanhBackward(rt, { y: ws.pooled, dy: ws.dPooled, dx: ws.dPre, n: B * H });
    // pre = cls·Wdᵀ + bd
    await matmul(rt, { a: ws.dPre, b: ws.cls, c: h.denseW.g!, M: H, N: H, K: B, transA: true, accumulate: true, biasGrad: h.denseB.g! });
    await matmul(rt, { a: ws.dPre, b: h.denseW.p, c: ws.dCls, M: B, N: H, K: H });
    // cls = out[rows]: the gradient of the last layer's output is zero except at the first token of each pair
    await fill(rt, { y: ws.dA, n: T * H, value: 0 });
    await scatterRows(rt, { dOut: ws.dCls, idx: ws.rows, dx: ws.dA, n: B, cols: H, rowsIn: T, accumulate: false });
    // dA holds d(out of layer i); each layer leaves d(its input) in dA again.
    for (let i = cfg.layers - 1; i >= 0; i--) {
      const x = i > 0 ? ws.layers[i - 1].out : ws.x0;
      await this.layerBackward(i, x, ws);
    }
    // x0 = dropout(LN(e))
    await this.dropoutInPlace(ws.dA, T * H, 1);
    await layerNormBackward(rt, {
      dy: ws.dA, x: ws.e, gamma: P.emb.lnW.p, mean: ws.meanE, rstd: ws.rstdE,
      dx: ws.dB, dgamma: P.emb.lnW.g!, dbeta: P.emb.lnB.g!, rows: T, cols: H,
    });
    await embeddingBackward(rt, {
      dOut: ws.dB,
      cols: H,
      tables: [
        { dTable: P.emb.word.g!, plan: this.emb.plans.word },
        { dTable: P.emb.position.g!, plan: this.emb.plans.pos },
        { dTable: P.emb.tokenType.g!, plan: this.emb.plans.type },
      ],
    });
  }

  /** In: ws.dA = d(layer output). Out: ws.dA = d(layer input x). */
  private async layerBackward(i: number, x: Tensor, ws: Workspace): Promise<void> {
    const { rt, cfg } = this;
    const { T, B, L } = ws;
    const H = cfg.hidden;
    const I = cfg.intermediate;
    const w: LayerSlots = this.params.layers[i];
    const a = ws.layers[i];
    // out = LN2(h2p): dB = d(h2p)
    await layerNormBackward(rt, { dy: ws.dA, x: a.h2p, gamma: w.ln2W.p, mean: a.mean2, rstd: a.rstd2, dx: ws.dB, dgamma: w.ln2W.g!, dbeta: w.ln2B.g!, rows: T, cols: H });
    // h2p = dropout(g·Wfoᵀ + bfo) + h1: d(pre-dropout) = dropout(dB) (same mask), residual passes dB to h1
    const dLin2 = await this.dropoutGrad(ws.dB, T * H, 11 + 2 * i);
    await geluForward(rt, { x: a.f, y: ws.g, n: T * I }); // recompute g
    await matmul(rt, { a: dLin2, b: ws.g, c: w.foW.g!, M: H, N: I, K: T, transA: true, accumulate: true, biasGrad: w.foB.g! });
    await matmul(rt, { a: dLin2, b: w.foW.p, c: ws.dG, M: T, N: I, K: H });
    // g = gelu(f)
    await geluBackward(rt, { x: a.f, dy: ws.dG, dx: ws.dF, n: T * I });
    // f = h1·Wiᵀ + bi; d(h1) = dB (residual) + dF·Wi, accumulated into dB
    await matmul(rt, { a: ws.dF, b: a.h1, c: w.fiW.g!, M: I, N: H, K: T, transA: true, accumulate: true, biasGrad: w.fiB.g! });
    await matmul(rt, { a: ws.dF, b: w.fiW.p, c: ws.dB, M: T, N: H, K: I, accumulate: true });
    // h1 = LN1(h1p): dA = d(h1p)
    await layerNormBackward(rt, { dy: ws.dB, x: a.h1p, gamma: w.ln1W.p, mean: a.mean1, rstd: a.rstd1, dx: ws.dA, dgamma: w.ln1W.g!, dbeta: w.ln1B.g!, rows: T, cols: H });
    // h1p = dropout(ctx·Woᵀ + bo) + x
    const dLin1 = await this.dropoutGrad(ws.dA, T * H, 10 + 2 * i);
    await matmul(rt, { a: dLin1, b: a.ctx, c: w.aoW.g!, M: H, N: H, K: T, transA: true, accumulate: true, biasGrad: w.aoB.g! });
    await matmul(rt, { a: dLin1, b: w.aoW.p, c: ws.dB, M: T, N: H, K: H }); // dB = d(ctx)
    await attentionBackward(rt, {
      qkv: a.qkv, mask: ws.mask, ctx: a.ctx, lse: a.lse, dCtx: ws.dB, dqkv: ws.dqkv,
      batch: B, seqLen: L, heads: cfg.heads, headDim: cfg.headDim,
    });
    // qkv = x·Wqkvᵀ + b; d(x) = dA (residual) + dqkv·Wqkv
    await matmul(rt, { a: ws.dqkv, b: x, c: w.qkvW.g!, M: 3 * H, N: H, K: T, transA: true, accumulate: true, biasGrad: w.qkvB.g! });
    // The key bias adds q_i·b_k to every score of query i: a shift shared by the whole softmax row, which softmax
    // ignores. Its gradient is exactly zero; write that instead of f32 rounding noise (AdamW would amplify it).
    await fill(rt, { y: w.qkvB.g!, n: H, value: 0, offset: H });
    await matmul(rt, { a: ws.dqkv, b: w.qkvW.p, c: ws.dA, M: T, N: H, K: 3 * H, accumulate: true });
  }

  /** The gradient through dropout: the same mask applied to dy (into tmpH), or dy itself without dropout. */
  private async dropoutGrad(dy: Tensor, n: number, site: number): Promise<Tensor> {
    if (this.fwd.dropout <= 0) return dy;
    const ws = this.ws!;
    await dropout(this.rt, { x: dy, y: ws.tmpH, n, p: this.fwd.dropout, seed: this.siteSeed(site) });
    return ws.tmpH;
  }
}
