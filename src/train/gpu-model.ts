// A cross-encoder living on the GPU, ready to score and to train: parameters + encoder + loss buffers.
// The trainer, the batch-size probe, the parity check, the benchmark and the page's worker all go through this.

import type { Tensor } from '../gpu/buffers.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';
import { fill } from '../kernels/elementwise.ts';
import type { ModelConfig } from '../model/config.ts';
import { GpuCrossEncoder } from '../model/gpu/encoder.ts';
import { GpuParams } from '../model/gpu/params.ts';
import type { PairBatch } from '../model/tokenize.ts';
import { type LossKind, lossForwardBackward } from './loss-gpu.ts';
import { AdamW, type AdamWOptions } from './optimizer.ts';

export interface TrainStepOptions {
  loss: LossKind;
  /** [B] 1 = relevant (bce). Listwise needs the positive first in each group instead. */
  labels?: Float32Array;
  groupSize: number;
  /** Hidden dropout probability (0 = off). */
  dropout: number;
  seed: number;
  /** Multiplies the gradient (1/accumulation steps). */
  gradScale?: number;
  /** Read the logits back (costs a small transfer). Default true. */
  readLogits?: boolean;
}

export interface TrainStepResult {
  loss: number;
  logits: Float32Array;
}

export class GpuModel {
  private dLogits: Tensor | undefined;
  private labels: Tensor | undefined;
  private lossBuf: Tensor | undefined;

  private constructor(
    readonly rt: GpuRuntime,
    readonly cfg: ModelConfig,
    readonly params: GpuParams,
    readonly encoder: GpuCrossEncoder,
  ) {}

  static async create(rt: GpuRuntime, cfg: ModelConfig, params: ReadonlyMap<string, Float32Array>): Promise<GpuModel> {
    const p = await GpuParams.upload(rt, cfg, params);
    return new GpuModel(rt, cfg, p, new GpuCrossEncoder(rt, cfg, p));
  }

  /** Raw logits [B] for a tokenised batch (no dropout, nothing kept for backward). */
  async score(batch: PairBatch): Promise<Float32Array> {
    const logits = await this.encoder.forward(batch, { train: false });
    return this.rt.readF32(logits.buffer, batch.batch);
  }

  private async buffers(B: number): Promise<void> {
    if (this.dLogits && this.dLogits.shape[0] === B) return;
    for (const t of [this.dLogits, this.labels]) if (t) this.rt.pool.release(t);
    this.dLogits = await this.rt.pool.tensor([B, 1], 'grad.logits');
    this.labels = await this.rt.pool.tensor([B], 'labels');
    this.lossBuf ??= await this.rt.pool.tensor([4], 'loss');
  }

  /** Forward, loss, backward for one micro-batch: gradients are added into params' g buffers. Waits for the loss. */
  async trainStep(batch: PairBatch, o: TrainStepOptions): Promise<TrainStepResult> {
    const r = await this.recordStep(batch, o);
    const loss = await r.loss;
    const logits = await r.logits;
    return { loss, logits };
  }

  /**
   * The same, returning as soon as the work is recorded: the loss (and logits, unless readLogits is false) come as
   * promises that resolve when the GPU has run the step, so the caller can record the next step meanwhile.
   */
  async recordStep(batch: PairBatch, o: TrainStepOptions): Promise<{ loss: Promise<number>; logits: Promise<Float32Array> }> {
    await this.params.allocGrads();
    const B = batch.batch;
    await this.buffers(B);
    if (o.loss === 'bce') {
      if (!o.labels || o.labels.length !== B) throw new Error(`bce loss: need ${B} labels, got ${o.labels?.length ?? 0}`);
      this.rt.write(this.labels!.buffer, o.labels);
    }
    const logits = await this.encoder.forward(batch, { train: true, dropout: o.dropout, seed: o.seed });
    await lossForwardBackward(this.rt, {
      kind: o.loss, logits, labels: this.labels, dLogits: this.dLogits!, loss: this.lossBuf!, lossSlot: 0,
      pairs: B, groupSize: o.groupSize, gradScale: o.gradScale,
    });
    const loss = this.rt.readLater(this.lossBuf!.buffer, 4).then((b) => new Float32Array(b)[0]);
    const out = o.readLogits === false ? Promise.resolve(new Float32Array(0)) : this.rt.readLater(logits.buffer, B * 4).then((b) => new Float32Array(b));
    // Neither promise may go unhandled if the caller gives up on the step (an error further on rejects both).
    loss.catch(() => undefined);
    out.catch(() => undefined);
    await this.encoder.backward(this.dLogits!);
    if (o.loss === 'listwise') {
      // A group softmax is unchanged by a shift shared by every score, so the classifier's output bias has an exactly
      // zero gradient; write the exact value instead of f32 rounding noise (which AdamW would amplify).
      const outB = this.params.head.outB;
      await fill(this.rt, { y: outB.g!, n: outB.numel, value: 0 });
    }
    return { loss, logits: out };
  }

  optimizer(opts: Partial<AdamWOptions> = {}): Promise<AdamW> {
    return AdamW.create(this.rt, this.params, opts);
  }

  release(): void {
    this.encoder.releaseWorkspace();
    for (const t of [this.dLogits, this.labels, this.lossBuf]) if (t) this.rt.pool.release(t);
    this.params.release();
  }
}
