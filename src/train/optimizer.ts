// AdamW over the model's GPU parameters: decay groups (no decay on biases and LayerNorm weights, per slot),
// gradient clipping by global norm (computed and applied on the GPU), and a guard that skips an update whose
// gradients hold NaN/Inf — the kernel leaves weights and moments untouched and the caller is told.

import type { Tensor } from '../gpu/buffers.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';
import { adamwStep } from '../kernels/adamw.ts';
import { globalNorm } from '../kernels/reduce.ts';
import type { GpuParams } from '../model/gpu/params.ts';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** clip_grad_norm_'s max_norm; undefined = no clipping (the norm is still computed for the NaN guard). */
  maxGradNorm?: number;
}

export const DEFAULT_ADAMW: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1.0 };

export interface StepReport {
  /** The global gradient norm before clipping. */
  gradNorm: number;
  /** False when the norm was NaN/Inf and the update was skipped. */
  applied: boolean;
}

export class AdamW {
  /** Updates applied so far (torch's `step`, which bias correction uses). */
  step = 0;
  private norm!: Tensor;
  private partials!: Tensor;

  private constructor(
    private readonly rt: GpuRuntime,
    private readonly params: GpuParams,
    readonly opts: AdamWOptions,
  ) {}

  static async create(rt: GpuRuntime, params: GpuParams, opts: Partial<AdamWOptions> = {}): Promise<AdamW> {
    const o = new AdamW(rt, params, { ...DEFAULT_ADAMW, ...opts });
    await params.allocGrads();
    await params.allocOptimizer();
    o.norm = await rt.pool.tensor([1], 'grad.norm');
    o.partials = await rt.pool.tensor([params.slots.length], 'grad.norm.partials');
    return o;
  }

  /**
   * One update with learning rate `lr` from the accumulated gradients, then zeroes the gradients.
   * Reads back the gradient norm (4 bytes) so a skipped update can be reported.
   */
  async update(lr: number): Promise<StepReport> {
    const { rt, params, opts } = this;
    const slots = params.slots;
    await globalNorm(rt, { tensors: slots.map((s) => s.g!), partials: this.partials, out: this.norm });
    const gradNorm = (await rt.readF32(this.norm.buffer, 1))[0];
    const applied = Number.isFinite(gradNorm);
    const step = applied ? this.step + 1 : Math.max(1, this.step);
    for (const s of slots) {
      await adamwStep(rt, {
        p: s.p, g: s.g!, m: s.m!, v: s.v!, n: s.numel,
        lr, beta1: opts.beta1, beta2: opts.beta2, eps: opts.eps,
        weightDecay: s.decay ? opts.weightDecay : 0,
        step,
        norm: this.norm,
        maxNorm: opts.maxGradNorm,
        zeroGrad: true,
      });
    }
    if (applied) this.step = step;
    return { gradNorm, applied };
  }

  release(): void {
    this.rt.pool.release(this.norm);
    this.rt.pool.release(this.partials);
  }
}
