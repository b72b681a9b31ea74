// Dropout in float64, mask for mask what the GPU drops: the elementwise kernel's counter hash (PCG) redone on the
// CPU. Sites and per-site seeds: src/model/dropout.ts; the kernels' constants (threshold, f32 scale):
// dropoutConstants in src/kernels/elementwise.ts.

import type { AttentionDropout } from '../../kernels/attention.ts';
import { dropoutConstants } from '../../kernels/elementwise.ts';

function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The GPU's dropout mask bit for element i (identical, bit for bit). */
export function dropoutKeep(seed: number, i: number, threshold: number): boolean {
  const k = pcg(seed >>> 0);
  const h = pcg((pcg((i ^ k) >>> 0) + k) >>> 0);
  return h >>> 8 >= threshold;
}

/** Per-element factors (0 or the kernel's f32 1/(1-p)) of n elements at a site; undefined when p is 0. */
export function dropoutFactors(n: number, p: number, seed: number): Float64Array | undefined {
  if (p <= 0) return undefined;
  if (p >= 1) return new Float64Array(n);
  const { threshold, scale } = dropoutConstants(p);
  const f = new Float64Array(n);
  for (let i = 0; i < n; i++) f[i] = dropoutKeep(seed, i, threshold) ? scale : 0;
  return f;
}

/** x ∘ f, or x itself when there is no dropout (f undefined). */
export function times(x: Float64Array, f: Float64Array | undefined): Float64Array {
  return f ? x.map((v, i) => v * f[i]) : x;
}

/** y[n] = dropout(x[n]) with the kernel's mask; the backward is the same call on dy. */
export function dropoutForward(x: ArrayLike<number>, p: number, seed: number): Float64Array {
  return times(Float64Array.from(x), dropoutFactors(x.length, p, seed));
}

/**
 * The dropout factor of P[b,h,i,j] (0 or 1/(1-p) as the f32 the kernel uses; 1 without dropout): the attention
 * kernel's mask bit for bit.
 */
export function attentionDropFactor(d: AttentionDropout | undefined, H: number, L: number, b: number, h: number, i: number, j: number): number {
  if (!d || d.p === 0) return 1;
  const { threshold, scale } = dropoutConstants(d.p);
  const index = (((b * H + h) * L + i) * L + j) % 2 ** 32; // u32 arithmetic wraps
  return dropoutKeep(d.seed, index, threshold) ? scale : 0;
}
