// Float64 reference of torch.optim.AdamW (amsgrad=False, maximize=False), the formula of its single-tensor path:
//   θ ← θ·(1 − lr·λ)                       decoupled weight decay (only for parameters in the decay group)
//   m ← m + (g − m)(1 − β1)                 (lerp)
//   v ← β2·v + (1 − β2)·g²
//   θ ← θ − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
// ε is added after the square root of the bias-corrected second moment, as torch does.

import { hasWeightDecay } from '../params.ts';

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamWRefState {
  /** Steps taken so far (torch's per-parameter `step`; all parameters step together here). */
  step: number;
  m: Map<string, Float64Array>;
  v: Map<string, Float64Array>;
}

export function createAdamWRefState(params: ReadonlyMap<string, Float64Array>): AdamWRefState {
  const m = new Map<string, Float64Array>();
  const v = new Map<string, Float64Array>();
  for (const [k, p] of params) {
    m.set(k, new Float64Array(p.length));
    v.set(k, new Float64Array(p.length));
  }
  return { step: 0, m, v };
}

/**
 * One AdamW step on every parameter, in place. `decay(name)` picks the decay group (default: HF's rule, no decay
 * for biases and LayerNorm weights). A parameter without a gradient is an error (torch would skip it; in our
 * engine every parameter always has one, so a gap is a bug worth hearing about).
 */
export function adamwStepRef(
  params: Map<string, Float64Array>, grads: ReadonlyMap<string, Float64Array>, state: AdamWRefState, h: AdamWHyper,
  decay: (name: string) => boolean = hasWeightDecay,
): void {
  state.step += 1;
  for (const [name, p] of params) {
    const g = grads.get(name);
    if (!g) throw new Error(`AdamW: no gradient for ${name}`);
    adamwTensorStep(p, g, state.m.get(name)!, state.v.get(name)!, state.step, { ...h, weightDecay: decay(name) ? h.weightDecay : 0 });
  }
}

/** One AdamW step t (1, 2, …) on one tensor p[n] with gradient g[n] and moments m[n], v[n], all in place. */
export function adamwTensorStep(p: Float64Array, g: ArrayLike<number>, m: Float64Array, v: Float64Array, t: number, h: AdamWHyper): void {
  const bc1 = 1 - h.beta1 ** t;
  const bc2Sqrt = Math.sqrt(1 - h.beta2 ** t);
  const stepSize = h.lr / bc1;
  const wd = 1 - h.lr * h.weightDecay;
  for (let i = 0; i < p.length; i++) {
    p[i] *= wd;
    m[i] += (g[i] - m[i]) * (1 - h.beta1);
    v[i] = v[i] * h.beta2 + (1 - h.beta2) * g[i] * g[i];
    const denom = Math.sqrt(v[i]) / bc2Sqrt + h.eps;
    p[i] -= stepSize * (m[i] / denom);
  }
}

/** sqrt(Σ over tensors of Σ x²): clip_grad_norm_'s total norm. */
export function globalNorm(tensors: Iterable<ArrayLike<number>>): number {
  let sq = 0;
  for (const g of tensors) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  return Math.sqrt(sq);
}

/**
 * torch.nn.utils.clip_grad_norm_ in float64, in place: the global L2 norm over every gradient, then each gradient
 * times min(1, maxNorm / (norm + 1e-6)). Returns the norm before clipping (what torch returns).
 */
export function clipGradNormRef(grads: ReadonlyMap<string, Float64Array>, maxNorm: number): number {
  const norm = globalNorm(grads.values());
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  if (coef < 1) for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return norm;
}
