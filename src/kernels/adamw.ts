// Launchers and float64 CPU reference for shaders/adamw.wgsl.
//   adamwStep(rt, {p, g, m, v, n?, lr, beta1, beta2, eps, weightDecay, step, norm?, maxNorm?, zeroGrad?})
//       one torch.optim.AdamW step on one parameter tensor (p, g, m, v all [n]); weightDecay 0 for the no-decay
//       group (biases, LayerNorm weights). With `norm` (a 1-element buffer holding the global gradient L2 norm, e.g.
//       from globalNorm() in reduce.ts) the step is skipped, p/m/v untouched, when the norm is NaN or Inf, and with
//       `maxNorm` the gradient is clipped as clip_grad_norm_ does: all on the GPU, no round trip.

import { needElements } from './checks.ts';
import type { Tensor } from '../gpu/buffers.ts';
import { numel } from '../gpu/buffers.ts';
import { KernelShapeError } from '../gpu/errors.ts';
import { f32bits, grid, launch } from '../gpu/launch.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';
import { dummy } from './matmul.ts';

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

export interface AdamwArgs extends AdamwHyper {
  /** Parameters [n], updated in place. */
  p: Tensor;
  /** Gradients [n]; read, and zeroed when zeroGrad. */
  g: Tensor;
  /** First moment (exp_avg) [n], zero before the first step. */
  m: Tensor;
  /** Second moment (exp_avg_sq) [n], zero before the first step. */
  v: Tensor;
  /** Elements to update (default: all of p). */
  n?: number;
  /** 1 element: the global gradient norm. Enables the NaN/Inf guard (and clipping with maxNorm). */
  norm?: Tensor;
  /** clip_grad_norm_'s max_norm; needs `norm`. */
  maxNorm?: number;
  /** Zero g after reading it (also when the guard skips the step). */
  zeroGrad?: boolean;
}

const KERNEL = 'adamwStep';

/** The f32 scalars torch derives from its Python floats (float64 arithmetic, then rounded). */
export function adamwScalars(h: AdamwHyper): { decay: number; w1: number; c2: number; negStep: number; bc2sqrt: number } {
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  return { decay: 1 - h.lr * h.weightDecay, w1: 1 - h.beta1, c2: 1 - h.beta2, negStep: -h.lr / bc1, bc2sqrt: Math.sqrt(bc2) };
}

function checkHyper(h: AdamwHyper & { maxNorm?: number }): void {
  const bad = (what: string) => {
    throw new KernelShapeError(KERNEL, what);
  };
  if (!(Number.isFinite(h.lr) && h.lr >= 0)) bad(`lr must be a finite number >= 0 (got ${h.lr})`);
  if (!(h.beta1 >= 0 && h.beta1 < 1)) bad(`beta1 must be in [0, 1) (got ${h.beta1})`);
  if (!(h.beta2 >= 0 && h.beta2 < 1)) bad(`beta2 must be in [0, 1) (got ${h.beta2})`);
  if (!(Number.isFinite(h.eps) && h.eps > 0)) bad(`eps must be a positive number (got ${h.eps})`);
  if (!(Number.isFinite(h.weightDecay) && h.weightDecay >= 0)) bad(`weightDecay must be a finite number >= 0 (got ${h.weightDecay})`);
  if (!(Number.isInteger(h.step) && h.step >= 1)) bad(`step must be an integer >= 1 (the first update is step 1; got ${h.step})`);
  if (h.maxNorm !== undefined && !(h.maxNorm > 0)) bad(`maxNorm must be a positive number (got ${h.maxNorm})`);
}

export async function adamwStep(rt: GpuRuntime, a: AdamwArgs): Promise<void> {
  checkHyper(a);
  const n = a.n ?? numel(a.p.shape);
  if (!Number.isInteger(n) || n <= 0) throw new KernelShapeError(KERNEL, `n must be a positive integer (got ${n})`);
  const tensors = { p: a.p, g: a.g, m: a.m, v: a.v };
  for (const [name, t] of Object.entries(tensors)) {
    needElements(KERNEL, t, n, name);
  }
  const bufs = new Set([a.p.buffer, a.g.buffer, a.m.buffer, a.v.buffer]);
  if (bufs.size !== 4) throw new KernelShapeError(KERNEL, `p '${a.p.label}', g, m and v need four separate buffers`);
  if (a.maxNorm !== undefined && !a.norm) throw new KernelShapeError(KERNEL, 'maxNorm (clipping) needs the norm buffer: pass norm');
  if (a.norm) {
    if (numel(a.norm.shape) < 1) throw new KernelShapeError(KERNEL, `norm '${a.norm.label}' is empty`);
    if (bufs.has(a.norm.buffer)) throw new KernelShapeError(KERNEL, `norm '${a.norm.label}' may not share a buffer with p, g, m or v`);
  }
  const s = adamwScalars(a);
  await launch(rt, {
    kernel: KERNEL,
    shader: 'adamw',
    entry: 'adamw',
    constants: { HAS_NORM: a.norm ? 1 : 0, CLIP: a.maxNorm !== undefined ? 1 : 0, ZERO_GRAD: a.zeroGrad ? 1 : 0 },
    bindings: [a.p, a.g, a.m, a.v, a.norm ?? dummy(rt)],
    params: [n, f32bits(s.decay), f32bits(s.w1), f32bits(a.beta2), f32bits(s.c2), f32bits(a.eps), f32bits(s.negStep), f32bits(s.bc2sqrt), f32bits(a.maxNorm ?? 0)],
    workgroups: grid(rt, Math.ceil(n / 256)),
  });
}

// ---- float64 CPU reference ------------------------------------------------------------------------------------

export interface AdamwRefArgs extends AdamwHyper {
  p: ArrayLike<number>;
  g: ArrayLike<number>;
  m: ArrayLike<number>;
  v: ArrayLike<number>;
  /** The global gradient norm (for clipping and the guard). */
  totalNorm?: number;
  maxNorm?: number;
}

export interface AdamwState {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
  /** False when the guard skipped the step (non-finite norm). */
  applied: boolean;
}

/** One torch AdamW step (with clip_grad_norm_'s clipping and the NaN/Inf guard) in float64. */
export function adamwRef(a: AdamwRefArgs): AdamwState {
  const n = a.p.length;
  const p = Float64Array.from(a.p);
  const m = Float64Array.from(a.m);
  const v = Float64Array.from(a.v);
  if (a.totalNorm !== undefined && !Number.isFinite(a.totalNorm)) return { p, m, v, applied: false };
  const coef = a.maxNorm !== undefined && a.totalNorm !== undefined ? Math.min(a.maxNorm / (a.totalNorm + 1e-6), 1) : 1;
  const bc1 = 1 - a.beta1 ** a.step;
  const bc2 = 1 - a.beta2 ** a.step;
  for (let i = 0; i < n; i++) {
    const g = a.g[i] * coef;
    p[i] *= 1 - a.lr * a.weightDecay;
    m[i] = a.beta1 * m[i] + (1 - a.beta1) * g;
    v[i] = a.beta2 * v[i] + (1 - a.beta2) * g * g;
    const denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + a.eps;
    p[i] -= (a.lr / bc1) * (m[i] / denom);
  }
  return { p, m, v, applied: true };
}
