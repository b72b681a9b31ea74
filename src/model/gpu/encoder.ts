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
//   head         c = out[first token of each pair]               [B,H]   (XLM-R: dropout)
//                p = tanh(c·Wdᵀ + bd)                            [B,H]   (BERT pooler / XLM-R classifier.dense)
//                logits = dropout(p)·Woutᵀ + bout                [B,1]
// Attention drops its softmax probabilities inside the fused kernel. Rates and sites: src/model/dropout.ts.
//
// Kept for backward, per layer: x (the previous layer's output), qkv, ctx, lse, h1p, h1, f, h2p and the two LayerNorm
// statistics. GELU's output is recomputed (cheap, and the largest activation). Dropout masks are recomputed from
// their seeds. Weight gradients accumulate (+=) so several micro-batches can add into one optimizer step; each
// weight-gradient matmul adds its bias gradient (the row sums of dY) in the same pass.

import { type Tensor, numel } from '../../gpu/buffers.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import type { GpuRuntime } from '../../gpu/runtime.ts';
import { type AttentionDropout, attentionBackward, attentionForward } from '../../kernels/attention.ts';
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
import { DROPOUT_SITE, siteSeed } from '../dropout.ts';
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

/** The tensors of one batch shape (B pairs × L tokens): views over the workspace's buffers. */
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
  clsIn: Tensor; // [B,H] the head's dense input: cls, after dropout for XLM-R's classifier
  pre: Tensor; // [B,H] dense(clsIn) before tanh
  pooled: Tensor; // [B,H]
  outIn: Tensor; // [B,H] the classifier's input: pooled after dropout
  logits: Tensor; // [B,1]
  // backward scratch
  // [T,H] gradients, used in turn: dHidden of the hidden state between layers (in: d(layer output), out: d(layer
  // input)); dInner of a [T,H] tensor inside a layer (d(h2p), d(h1), d(ctx)) and, last, d(e) for the embeddings.
  dHidden: Tensor; dInner: Tensor;
  dG: Tensor; dF: Tensor; // [T,I]
  g: Tensor; // [T,I] recomputed GELU output
  dqkv: Tensor; // [T,3H]
  delta: Tensor; // [B,nh,L] attention backward scratch
  tmpH: Tensor; // [T,H] dropout scratch
  dCls: Tensor; dPooled: Tensor; dPre: Tensor; // [B,H]
}

/** Element counts of every workspace tensor for B pairs of L tokens (the layout of Workspace, per layer ×layers). */
function workspaceShapes(cfg: ModelConfig, B: number, L: number) {
  const { hidden: H, intermediate: I, heads: nh } = cfg;
  const T = B * L;
  return {
    layer: { qkv: [T, 3 * H], ctx: [T, H], lse: [B, nh, L], h1p: [T, H], h1: [T, H], mean1: [T], rstd1: [T], f: [T, I], h2p: [T, H], mean2: [T], rstd2: [T], out: [T, H] },
    f32: {
      e: [T, H], meanE: [T], rstdE: [T], x0: [T, H], cls: [B, H], clsIn: [B, H], pre: [B, H], pooled: [B, H], outIn: [B, H], logits: [B, 1],
      dHidden: [T, H], dInner: [T, H], dG: [T, I], dF: [T, I], g: [T, I], dqkv: [T, 3 * H], delta: [B, nh, L], tmpH: [T, H],
      dCls: [B, H], dPooled: [B, H], dPre: [B, H],
    },
    u32: { mask: [B, L], rows: [B] },
  } as const;
}

type LayerName = keyof ReturnType<typeof workspaceShapes>['layer'];
type F32Name = keyof ReturnType<typeof workspaceShapes>['f32'];
type U32Name = keyof ReturnType<typeof workspaceShapes>['u32'];

/**
 * The buffers behind every Workspace: allocated once for the largest batch the run will see (`pairs` pairs and
 * `tokens` = pairs × max length tokens), then viewed at each batch's own shape. Every tensor is a row-major prefix of
 * its buffer ([T,H] rows are b·L + t), so a shorter or smaller batch simply uses less of it: memory does not grow
 * with the number of distinct padded lengths.
 */
interface WorkspaceBuffers {
  pairs: number;
  tokens: number;
  layers: Record<LayerName, GPUBuffer>[];
  f32: Record<F32Name, GPUBuffer>;
  u32: Record<U32Name, GPUBuffer>;
  all: GPUBuffer[];
}

export interface ForwardOptions {
  /** Keep what backward needs, and apply dropout (when > 0). */
  train: boolean;
  /** Hidden dropout probability (config.hidden_dropout_prob in training; 0 for parity and scoring). */
  dropout?: number;
  /** Dropout on the attention probabilities (attention_probs_dropout_prob); 0 when absent. */
  attentionDropout?: number;
  /** Dropout in the classification head (classifier_dropout ?? hidden_dropout_prob); 0 when absent. */
  classifierDropout?: number;
  /** Seed for this step's dropout masks. */
  seed?: number;
}

export class GpuCrossEncoder {
  private bufs: WorkspaceBuffers | undefined;
  private ws: Workspace | undefined;
  private emb: EmbeddingBatchGpu | undefined;
  private fwd: Required<ForwardOptions> = { train: false, dropout: 0, attentionDropout: 0, classifierDropout: 0, seed: 0 };

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

  /**
   * Makes room for batches of up to `pairs` pairs × `length` tokens (allocated once; grows only, never shrinks).
   * The trainer reserves its micro-batch at max_length before the first step; without it the first batch sets the
   * size and a larger one later grows it (the old buffers go back to the pool, which frees them).
   */
  async reserve(pairs: number, length: number): Promise<void> {
    const b = this.bufs;
    if (b && pairs <= b.pairs && pairs * length <= b.tokens) return;
    const P = Math.max(pairs, b?.pairs ?? 0);
    const T = Math.max(pairs * length, b?.tokens ?? 0);
    this.releaseWorkspace();
    const all: GPUBuffer[] = [];
    const alloc = async (elements: number, label: string) => {
      const x = await this.rt.pool.alloc(elements * 4, label);
      all.push(x);
      return x;
    };
    // Sized for P pairs and T tokens: [T,…] tensors by T, [B,…] by P, [B,nh,L] = nh·T.
    const cap = workspaceShapes(this.cfg, P, T / P);
    const count = (shape: readonly number[]) => Math.ceil(numel(shape));
    const layers: Record<LayerName, GPUBuffer>[] = [];
    for (let i = 0; i < this.cfg.layers; i++) {
      const l = {} as Record<LayerName, GPUBuffer>;
      for (const [k, shape] of Object.entries(cap.layer)) l[k as LayerName] = await alloc(count(shape), `L${i}.${k}`);
      layers.push(l);
    }
    const f32 = {} as Record<F32Name, GPUBuffer>;
    for (const [k, shape] of Object.entries(cap.f32)) f32[k as F32Name] = await alloc(count(shape), k);
    const u32 = {} as Record<U32Name, GPUBuffer>;
    for (const [k, shape] of Object.entries(cap.u32)) u32[k as U32Name] = await alloc(count(shape), k);
    this.bufs = { pairs: P, tokens: T, layers, f32, u32, all };
  }

  /** Views of the workspace at B pairs × L tokens (reserving room first when the batch does not fit). */
  private async workspace(B: number, L: number): Promise<Workspace> {
    if (this.ws && this.ws.B === B && this.ws.L === L) return this.ws;
    await this.reserve(B, L);
    const b = this.bufs!;
    const shapes = workspaceShapes(this.cfg, B, L);
    const view = (buffer: GPUBuffer, shape: readonly number[], label: string, dtype: 'f32' | 'u32' = 'f32'): Tensor => ({ buffer, shape: [...shape], dtype, label });
    const layers = b.layers.map((l, i) => {
      const a = {} as LayerActs;
      for (const [k, shape] of Object.entries(shapes.layer)) a[k as LayerName] = view(l[k as LayerName], shape, `L${i}.${k}`);
      return a;
    });
    const f32 = {} as Record<F32Name, Tensor>;
    for (const [k, shape] of Object.entries(shapes.f32)) f32[k as F32Name] = view(b.f32[k as F32Name], shape, k);
    this.ws = { B, L, T: B * L, layers, ...f32, mask: view(b.u32.mask, shapes.u32.mask, 'mask', 'u32'), rows: view(b.u32.rows, shapes.u32.rows, 'cls.rows', 'u32') };
    this.rt.write(this.ws.rows.buffer, firstTokenRows(B, L));
    return this.ws;
  }

  /** Gives the workspace back to the pool (the next forward reserves again). */
  releaseWorkspace(): void {
    if (this.bufs) for (const t of this.bufs.all) this.rt.pool.release(t);
    this.bufs = undefined;
    this.ws = undefined;
    this.emb?.release();
    this.emb = undefined;
  }

  /** Bytes the workspace for B pairs × L tokens takes (activations and backward scratch). */
  static workspaceBytes(cfg: ModelConfig, B: number, L: number): number {
    const s = workspaceShapes(cfg, B, L);
    const sum = (o: Record<string, readonly number[]>) => Object.values(o).reduce((a, shape) => a + 4 * Math.max(1, numel(shape)), 0);
    return cfg.layers * sum(s.layer) + sum(s.f32) + sum(s.u32);
  }

  // ---- forward ------------------------------------------------------------------------------------------------

  /** Runs the model on a tokenised batch; returns the logits tensor [B,1] (read it with rt.readF32). */
  async forward(batch: PairBatch, opts: ForwardOptions): Promise<Tensor> {
    const cfg = this.cfg;
    if (cfg.numLabels !== 1) throw new KernelShapeError('encoder', `cross-encoders have num_labels 1; this config has ${cfg.numLabels}`);
    if (batch.length > cfg.maxSequenceLength) {
      throw new KernelShapeError('encoder', `batch length ${batch.length} exceeds the model's ${cfg.maxSequenceLength} positions; lower max_length`);
    }
    const rate = (p: number | undefined) => (opts.train ? (p ?? 0) : 0);
    this.fwd = {
      train: opts.train, dropout: rate(opts.dropout), attentionDropout: rate(opts.attentionDropout), classifierDropout: rate(opts.classifierDropout),
      seed: opts.seed ?? 0,
    };
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
    await this.dropoutInPlace(ws.x0, T * H, DROPOUT_SITE.embeddings);
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
    return siteSeed(this.fwd.seed, site);
  }

  /** Layer i's attention-probability dropout (the same for its forward and backward), or none. */
  private attentionDropout(i: number): AttentionDropout | undefined {
    const p = this.fwd.attentionDropout;
    return p > 0 ? { p, seed: this.siteSeed(DROPOUT_SITE.attentionProbs(i)) } : undefined;
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
    await attentionForward(rt, { qkv: a.qkv, mask: ws.mask, ctx: a.ctx, lse: a.lse, batch: B, seqLen: L, heads: cfg.heads, headDim: cfg.headDim, dropout: this.attentionDropout(i) });
    // h1p = dropout(ctx·Woᵀ + bo) + x
    await this.residualLinear(a.ctx, w.aoW, w.aoB, x, a.h1p, T, H, H, DROPOUT_SITE.attentionOutput(i));
    await layerNormForward(rt, { x: a.h1p, gamma: w.ln1W.p, beta: w.ln1B.p, y: a.h1, mean: a.mean1, rstd: a.rstd1, rows: T, cols: H, eps: cfg.layerNormEps });
    // f [T,I] = h1·Wiᵀ + bi; g = gelu(f)
    await matmul(rt, { a: a.h1, b: w.fiW.p, c: a.f, M: T, N: I, K: H, transB: true, bias: w.fiB.p });
    await geluForward(rt, { x: a.f, y: ws.g, n: T * I });
    // h2p = dropout(g·Wfoᵀ + bfo) + h1
    await this.residualLinear(ws.g, w.foW, w.foB, a.h1, a.h2p, T, H, I, DROPOUT_SITE.ffnOutput(i));
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
    // XLM-R's classifier applies dropout before dense and before out_proj; BERT's pooled output gets it once,
    // before the classifier (HF: classifier_dropout ?? hidden_dropout_prob).
    const { clsIn, outIn } = this.headInputs(ws);
    if (clsIn !== ws.cls) await dropout(rt, { x: ws.cls, y: clsIn, n: B * H, p: this.fwd.classifierDropout, seed: this.siteSeed(DROPOUT_SITE.classifierDense) });
    await matmul(rt, { a: clsIn, b: h.denseW.p, c: ws.pre, M: B, N: H, K: H, transB: true, bias: h.denseB.p });
    await tanhForward(rt, { x: ws.pre, y: ws.pooled, n: B * H });
    if (outIn !== ws.pooled) await dropout(rt, { x: ws.pooled, y: outIn, n: B * H, p: this.fwd.classifierDropout, seed: this.siteSeed(DROPOUT_SITE.classifierOut) });
    await matmul(rt, { a: outIn, b: h.outW.p, c: ws.logits, M: B, N: 1, K: H, transB: true, bias: h.outB.p });
  }

  /** What dense and the output layer read: the dropped copies when the head has dropout, else cls and pooled. */
  private headInputs(ws: Workspace): { clsIn: Tensor; outIn: Tensor } {
    const on = this.fwd.classifierDropout > 0;
    return { clsIn: on && this.cfg.arch === 'xlm-roberta' ? ws.clsIn : ws.cls, outIn: on ? ws.outIn : ws.pooled };
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
    const { clsIn, outIn } = this.headInputs(ws);
    const pc = this.fwd.classifierDropout;
    // logits = outIn·Woutᵀ + bout, outIn = dropout(pooled) (the same mask: dropout is its own backward)
    await matmul(rt, { a: dLogits, b: outIn, c: h.outW.g!, M: 1, N: H, K: B, transA: true, accumulate: true, biasGrad: h.outB.g! });
    await matmul(rt, { a: dLogits, b: h.outW.p, c: ws.dPooled, M: B, N: H, K: 1 });
    let dPooled = ws.dPooled;
    if (outIn !== ws.pooled) {
      await dropout(rt, { x: ws.dPooled, y: ws.dCls, n: B * H, p: pc, seed: this.siteSeed(DROPOUT_SITE.classifierOut) });
      dPooled = ws.dCls;
    }
    // pooled = tanh(pre)
    await tanhBackward(rt, { y: ws.pooled, dy: dPooled, dx: ws.dPre, n: B * H });
    // pre = clsIn·Wdᵀ + bd, clsIn = cls or (XLM-R) dropout(cls)
    await matmul(rt, { a: ws.dPre, b: clsIn, c: h.denseW.g!, M: H, N: H, K: B, transA: true, accumulate: true, biasGrad: h.denseB.g! });
    await matmul(rt, { a: ws.dPre, b: h.denseW.p, c: ws.dCls, M: B, N: H, K: H });
    let dCls = ws.dCls;
    if (clsIn !== ws.cls) {
      await dropout(rt, { x: ws.dCls, y: ws.dPooled, n: B * H, p: pc, seed: this.siteSeed(DROPOUT_SITE.classifierDense) });
      dCls = ws.dPooled;
    }
    // cls = out[rows]: the gradient of the last layer's output is zero except at the first token of each pair
    await fill(rt, { y: ws.dHidden, n: T * H, value: 0 });
    await scatterRows(rt, { dOut: dCls, idx: ws.rows, dx: ws.dHidden, n: B, cols: H, rowsIn: T, accumulate: false });
    // dHidden holds d(out of layer i); each layer leaves d(its input) in dHidden again.
    for (let i = cfg.layers - 1; i >= 0; i--) {
      const x = i > 0 ? ws.layers[i - 1].out : ws.x0;
      await this.layerBackward(i, x, ws);
    }
    // x0 = dropout(LN(e))
    await this.dropoutInPlace(ws.dHidden, T * H, DROPOUT_SITE.embeddings);
    await layerNormBackward(rt, {
      dy: ws.dHidden, x: ws.e, gamma: P.emb.lnW.p, mean: ws.meanE, rstd: ws.rstdE,
      dx: ws.dInner, dgamma: P.emb.lnW.g!, dbeta: P.emb.lnB.g!, rows: T, cols: H,
    });
    await embeddingBackward(rt, {
      dOut: ws.dInner,
      cols: H,
      tables: [
        { dTable: P.emb.word.g!, plan: this.emb.plans.word },
        { dTable: P.emb.position.g!, plan: this.emb.plans.pos },
        { dTable: P.emb.tokenType.g!, plan: this.emb.plans.type },
      ],
    });
  }

  /** In: ws.dHidden = d(layer output). Out: ws.dHidden = d(layer input x). */
  private async layerBackward(i: number, x: Tensor, ws: Workspace): Promise<void> {
    const { rt, cfg } = this;
    const { T, B, L } = ws;
    const H = cfg.hidden;
    const I = cfg.intermediate;
    const w: LayerSlots = this.params.layers[i];
    const a = ws.layers[i];
    // out = LN2(h2p): dInner = d(h2p)
    await layerNormBackward(rt, { dy: ws.dHidden, x: a.h2p, gamma: w.ln2W.p, mean: a.mean2, rstd: a.rstd2, dx: ws.dInner, dgamma: w.ln2W.g!, dbeta: w.ln2B.g!, rows: T, cols: H });
    // h2p = dropout(g·Wfoᵀ + bfo) + h1: d(pre-dropout) = dropout(dInner) (same mask), residual passes dInner to h1
    const dLin2 = await this.dropoutGrad(ws.dInner, T * H, DROPOUT_SITE.ffnOutput(i));
    await geluForward(rt, { x: a.f, y: ws.g, n: T * I }); // recompute g
    await matmul(rt, { a: dLin2, b: ws.g, c: w.foW.g!, M: H, N: I, K: T, transA: true, accumulate: true, biasGrad: w.foB.g! });
    await matmul(rt, { a: dLin2, b: w.foW.p, c: ws.dG, M: T, N: I, K: H });
    // g = gelu(f)
    await geluBackward(rt, { x: a.f, dy: ws.dG, dx: ws.dF, n: T * I });
    // f = h1·Wiᵀ + bi; d(h1) = dInner (residual) + dF·Wi, accumulated into dInner
    await matmul(rt, { a: ws.dF, b: a.h1, c: w.fiW.g!, M: I, N: H, K: T, transA: true, accumulate: true, biasGrad: w.fiB.g! });
    await matmul(rt, { a: ws.dF, b: w.fiW.p, c: ws.dInner, M: T, N: H, K: I, accumulate: true });
    // h1 = LN1(h1p): dHidden = d(h1p)
    await layerNormBackward(rt, { dy: ws.dInner, x: a.h1p, gamma: w.ln1W.p, mean: a.mean1, rstd: a.rstd1, dx: ws.dHidden, dgamma: w.ln1W.g!, dbeta: w.ln1B.g!, rows: T, cols: H });
    // h1p = dropout(ctx·Woᵀ + bo) + x
    const dLin1 = await this.dropoutGrad(ws.dHidden, T * H, DROPOUT_SITE.attentionOutput(i));
    await matmul(rt, { a: dLin1, b: a.ctx, c: w.aoW.g!, M: H, N: H, K: T, transA: true, accumulate: true, biasGrad: w.aoB.g! });
    await matmul(rt, { a: dLin1, b: w.aoW.p, c: ws.dInner, M: T, N: H, K: H }); // dInner = d(ctx)
    await attentionBackward(rt, {
      qkv: a.qkv, mask: ws.mask, ctx: a.ctx, lse: a.lse, dCtx: ws.dInner, dqkv: ws.dqkv, delta: ws.delta,
      batch: B, seqLen: L, heads: cfg.heads, headDim: cfg.headDim, dropout: this.attentionDropout(i),
    });
    // qkv = x·Wqkvᵀ + b; d(x) = dHidden (residual) + dqkv·Wqkv
    await matmul(rt, { a: ws.dqkv, b: x, c: w.qkvW.g!, M: 3 * H, N: H, K: T, transA: true, accumulate: true, biasGrad: w.qkvB.g! });
    // The key bias adds q_i·b_k to every score of query i: a shift shared by the whole softmax row, which softmax
    // ignores. Its gradient is exactly zero; write that instead of f32 rounding noise (AdamW would amplify it).
    await fill(rt, { y: w.qkvB.g!, n: H, value: 0, offset: H });
    await matmul(rt, { a: ws.dqkv, b: w.qkvW.p, c: ws.dHidden, M: T, N: H, K: 3 * H, accumulate: true });
  }

  /** The gradient through dropout: the same mask applied to dy (into tmpH), or dy itself without dropout. */
  private async dropoutGrad(dy: Tensor, n: number, site: number): Promise<Tensor> {
    if (this.fwd.dropout <= 0) return dy;
    const ws = this.ws!;
    await dropout(this.rt, { x: dy, y: ws.tmpH, n, p: this.fwd.dropout, seed: this.siteSeed(site) });
    return ws.tmpH;
  }
}
