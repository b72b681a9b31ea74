// AdamW over the model's flat GPU buffers: decay groups (no decay on biases and LayerNorm weights: one contiguous
// range per arena), gradient clipping by global norm, and a guard that skips an update whose gradients hold NaN/Inf.
// All of it runs on the GPU in a few dispatches (per arena: the squared partial sums and one update per decay group;
// one prepare pass), and nothing waits for the GPU: record() returns at once with a promise of the step's report
// (norm, applied), which the trainer reads a step late. The step count that bias correction needs lives on the GPU
// (a skipped update does not count); `step` here is the count as far as the reports read so far tell.

import type { Tensor } from '../gpu/buffers.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';
import { MAX_TABLE_ROWS, STATE, STATE_WORDS, adamwApply, adamwPrepare, adamwTable } from '../kernels/adamw.ts';
import { fill } from '../kernels/elementwise.ts';
import { sumChunkGroups, sumSquaresChunks } from '../kernels/reduce.ts';
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
  private confirmed = 0;
  /** Updates recorded whose report has not been read yet. */
  private inFlight = 0;
  private state!: Tensor;
  private partials!: Tensor;
  private partialsPerArena!: number;

  private constructor(
    private readonly rt: GpuRuntime,
    private readonly params: GpuParams,
    readonly opts: AdamWOptions,
  ) {}

  static async create(rt: GpuRuntime, params: GpuParams, opts: Partial<AdamWOptions> = {}): Promise<AdamW> {
    const o = new AdamW(rt, params, { ...DEFAULT_ADAMW, ...opts });
    await params.allocGrads();
    await params.allocOptimizer();
    o.partialsPerArena = Math.max(...params.arenas.map((a) => sumChunkGroups(a.elements)));
    o.partials = await rt.pool.tensor([params.arenas.length * o.partialsPerArena], 'grad.norm.partials');
    await fill(rt, { y: o.partials, n: params.arenas.length * o.partialsPerArena, value: 0 });
    o.state = await rt.pool.tensor([STATE_WORDS], 'adamw.state', 'u32');
    rt.write(o.state.buffer, new Uint32Array(STATE_WORDS));
    return o;
  }

  /** Updates applied so far (torch's `step`, which bias correction uses), as far as the reports read tell. */
  get step(): number {
    return this.confirmed;
  }

  /** Sets the count (resuming a run); only between updates whose reports have all been read. */
  set step(n: number) {
    if (this.inFlight) throw new Error('AdamW.step cannot be set while updates are in flight; await their reports first');
    this.confirmed = n;
    this.rt.write(this.state.buffer, Uint32Array.of(n), STATE.count * 4);
  }

  /**
   * Records one update with learning rate `lr` from the accumulated gradients (then zeroes them) and returns at
   * once; `report` resolves when the GPU has done it. Await reports in order.
   */
  async record(lr: number): Promise<{ report: Promise<StepReport> }> {
    const { rt, params, opts } = this;
    if (this.inFlight + 1 > MAX_TABLE_ROWS - 1) throw new Error(`AdamW: ${this.inFlight} updates in flight; read their reports first`);
    // Written before this update's work in queue order; the earlier updates' prepare passes already read theirs.
    rt.write(this.state.buffer, adamwTable({ ...opts, lr }, this.confirmed, this.inFlight), STATE.base * 4);
    let count = 0;
    for (const [i, a] of params.arenas.entries()) {
      count = i * this.partialsPerArena + (await sumSquaresChunks(rt, { x: a.g!, out: this.partials, outOffset: i * this.partialsPerArena }));
    }
    await adamwPrepare(rt, { partials: this.partials, count, state: this.state, maxNorm: opts.maxGradNorm });
    const hyper = { lr, beta1: opts.beta1, beta2: opts.beta2, eps: opts.eps };
    for (const a of params.arenas) {
      const ranges: [number, number, number][] = [[0, a.decayEnd, opts.weightDecay], [a.decayEnd, a.elements, 0]];
      for (const [from, to, weightDecay] of ranges) {
        if (to <= from) continue;
        const part = (t: Tensor): Tensor => ({ ...t, offset: (t.offset ?? 0) + from * 4, shape: [to - from] });
        await adamwApply(rt, { ...hyper, weightDecay, p: part(a.p), g: part(a.g!), m: part(a.m!), v: part(a.v!), state: this.state });
      }
    }
    this.inFlight++;
    const words = rt.readLater(this.state.buffer, 16);
    const report = words.then(
      (buf) => {
        const w = new Uint32Array(buf);
        const gradNorm = new Float32Array(buf)[STATE.norm];
        const applied = w[STATE.apply] === 1;
        this.inFlight--;
        if (applied) this.confirmed++;
        return { gradNorm, applied };
      },
      (e: unknown) => {
        this.inFlight--;
        throw e;
      },
    );
    report.catch(() => undefined); // the caller reads it later; a failure meanwhile is not an unhandled one
    return { report };
  }

  /** One update, waiting for its report (tests, the parity check; the trainer uses record()). */
  async update(lr: number): Promise<StepReport> {
    return (await this.record(lr)).report;
  }

  release(): void {
    this.rt.pool.release(this.state);
    this.rt.pool.release(this.partials);
  }
}
