// Launchers for shaders/adamw.wgsl (float64 reference in src/model/reference/adamw.ts): AdamW over flat buffers in a
// few dispatches a step.
//   adamwTable(h, count, inFlight)               the words the CPU writes into `state` before an update: the
//                                                bias-correction scalars for every step number it could have
//   adamwPrepare(rt, {partials, count, state, maxNorm?})
//                                                global norm (from squared partial sums), NaN/Inf guard, clip
//                                                coefficient, the step count and its scalars: all on the GPU
//   adamwApply(rt, {p, g, m, v, n?, state, lr, beta1, beta2, eps, weightDecay})
//                                                one torch.optim.AdamW step over one contiguous range (p, g, m, v
//                                                [n], one decay group), skipped when prepare found the norm not
//                                                finite; g is zeroed either way
// `state` is a small u32 buffer (STATE_WORDS) the optimizer keeps; see the shader header for its layout.

import { needElements } from './checks.ts';
import type { Tensor } from '../gpu/buffers.ts';
import { numel, overlaps } from '../gpu/buffers.ts';
import { KernelShapeError } from '../gpu/errors.ts';
import { f32bits, grid, launch } from '../gpu/launch.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';

export interface AdamwHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay; 0 for parameters in the no-decay group. */
  weightDecay: number;
  /** 1 for the first update (torch increments `step` before using it). */
  step: number;
}

/** Word offsets in `state` (mirrors shaders/adamw.wgsl). */
export const STATE = { norm: 0, count: 1, coef: 2, apply: 3, base: 8, rows: 9, table: 10 } as const;
/** Most step numbers one table covers (updates in flight + 1). */
export const MAX_TABLE_ROWS = 8;
export const STATE_WORDS = STATE.table + 2 * MAX_TABLE_ROWS;

const KERNEL = 'adamw';

/** The f32 scalars torch derives from its Python floats (float64 arithmetic, then rounded). */
export function adamwScalars(h: AdamwHyper): { decay: number; w1: number; c2: number; negStep: number; bc2sqrt: number } {
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  return { decay: 1 - h.lr * h.weightDecay, w1: 1 - h.beta1, c2: 1 - h.beta2, negStep: -h.lr / bc1, bc2sqrt: Math.sqrt(bc2) };
}

function checkHyper(h: Omit<AdamwHyper, 'step'> & { maxNorm?: number }): void {
  const bad = (what: string) => {
    throw new KernelShapeError(KERNEL, what);
  };
  if (!(Number.isFinite(h.lr) && h.lr >= 0)) bad(`lr must be a finite number >= 0 (got ${h.lr})`);
  if (!(h.beta1 >= 0 && h.beta1 < 1)) bad(`beta1 must be in [0, 1) (got ${h.beta1})`);
  if (!(h.beta2 >= 0 && h.beta2 < 1)) bad(`beta2 must be in [0, 1) (got ${h.beta2})`);
  if (!(Number.isFinite(h.eps) && h.eps > 0)) bad(`eps must be a positive number (got ${h.eps})`);
  if (!(Number.isFinite(h.weightDecay) && h.weightDecay >= 0)) bad(`weightDecay must be a finite number >= 0 (got ${h.weightDecay})`);
}

/**
 * The words written at STATE.base before an update: `count` updates are known applied, `inFlight` more were
 * recorded but not yet read back (each may have been skipped), so this update's step is count + 1 … count + 1 +
 * inFlight; row j holds -lr/bc1 and sqrt(bc2) for step count + 1 + j, computed in float64 like torch.
 */
export function adamwTable(h: Omit<AdamwHyper, 'step' | 'weightDecay'>, count: number, inFlight: number): Uint32Array {
  if (!Number.isInteger(count) || count < 0) throw new KernelShapeError(KERNEL, `step count must be an integer >= 0 (got ${count})`);
  const rows = inFlight + 1;
  if (!Number.isInteger(inFlight) || inFlight < 0 || rows > MAX_TABLE_ROWS) {
    throw new KernelShapeError(KERNEL, `${inFlight} updates in flight; at most ${MAX_TABLE_ROWS - 1} may be unread`);
  }
  const words = new Uint32Array(2 + 2 * rows);
  words[0] = count + 1;
  words[1] = rows;
  for (let j = 0; j < rows; j++) {
    const s = adamwScalars({ ...h, weightDecay: 0, step: count + 1 + j });
    words[2 + 2 * j] = f32bits(s.negStep);
    words[3 + 2 * j] = f32bits(s.bc2sqrt);
  }
  return words;
}

export interface AdamwPrepareArgs {
  /** Squared partial sums of every gradient element (unused entries zero). */
  partials: Tensor;
  /** How many partials to add. */
  count: number;
  /** u32 [STATE_WORDS]. */
  state: Tensor;
  /** clip_grad_norm_'s max_norm; undefined = no clipping (the norm still guards against NaN/Inf). */
  maxNorm?: number;
}

export async function adamwPrepare(rt: GpuRuntime, a: AdamwPrepareArgs): Promise<void> {
  const kernel = `${KERNEL}.prepare`;
  if (!Number.isInteger(a.count) || a.count <= 0) throw new KernelShapeError(kernel, `count must be a positive integer (got ${a.count})`);
  needElements(kernel, a.partials, a.count, 'partials');
  needElements(kernel, a.state, STATE_WORDS, 'state');
  if (a.maxNorm !== undefined && !(a.maxNorm > 0)) throw new KernelShapeError(kernel, `maxNorm must be a positive number (got ${a.maxNorm})`);
  if (overlaps(a.partials, a.state)) throw new KernelShapeError(kernel, 'state may not alias partials');
  await launch(rt, {
    kernel,
    shader: 'adamw',
    entry: 'prepare',
    constants: { CLIP: a.maxNorm !== undefined ? 1 : 0 },
    bindings: [a.partials, a.state],
    params: [a.count, f32bits(a.maxNorm ?? 0)],
    workgroups: [1],
  });
}

export interface AdamwApplyArgs extends Omit<AdamwHyper, 'step'> {
  /** Parameters [n], updated in place. */
  p: Tensor;
  /** Gradients [n]; read, then zeroed. */
  g: Tensor;
  /** First moment (exp_avg) [n], zero before the first step. */
  m: Tensor;
  /** Second moment (exp_avg_sq) [n], zero before the first step. */
  v: Tensor;
  /** Elements to update (default: all of p). */
  n?: number;
  /** The state adamwPrepare wrote for this update. */
  state: Tensor;
}

export async function adamwApply(rt: GpuRuntime, a: AdamwApplyArgs): Promise<void> {
  checkHyper(a);
  const n = a.n ?? numel(a.p.shape);
  if (!Number.isInteger(n) || n <= 0) throw new KernelShapeError(KERNEL, `n must be a positive integer (got ${n})`);
  const ts = { p: a.p, g: a.g, m: a.m, v: a.v };
  for (const [name, t] of Object.entries(ts)) needElements(KERNEL, t, n, name);
  const all = Object.values(ts);
  all.forEach((t, i) => all.forEach((u, j) => {
    if (i < j && overlaps(t, u)) throw new KernelShapeError(KERNEL, `p '${a.p.label}', g, m and v may not overlap`);
  }));
  needElements(KERNEL, a.state, STATE_WORDS, 'state');
  if (all.some((t) => overlaps(t, a.state))) throw new KernelShapeError(KERNEL, `state '${a.state.label}' may not overlap p, g, m or v`);
  const s = adamwScalars({ ...a, step: 1 });
  await launch(rt, {
    kernel: KERNEL,
    shader: 'adamw',
    entry: 'adamw',
    bindings: [a.p, a.g, a.m, a.v, a.state],
    params: [n, f32bits(s.decay), f32bits(s.w1), f32bits(a.beta2), f32bits(s.c2), f32bits(a.eps)],
    volatile: true, // the decay factor follows the learning rate, which changes every step
    workgroups: grid(rt, Math.ceil(n / 256)),
  });
}
