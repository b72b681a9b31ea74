// Launcher for shaders/reduce.wgsl (float64 reference: globalNorm in src/model/reference/adamw.ts).
//   sumSquaresChunks(rt, {x, n, out, outOffset})     out[outOffset + j] = Σ x² over workgroup j's share, j < groups
//                                                    (returned): pass 1 of the optimizer's norm over a flat buffer
// Records into the open compute pass and does not flush.

import { needElements } from './checks.ts';
import type { Tensor } from '../gpu/buffers.ts';
import { numel, overlaps } from '../gpu/buffers.ts';
import { KernelShapeError } from '../gpu/errors.ts';
import { grid, launch } from '../gpu/launch.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';

/** Most workgroups one sum uses (and so the most partials it writes). */
const MAX_SUM_GROUPS = 4096;
/** Elements each thread adds serially before the tree takes over (bounds the f32 rounding of long sums). */
const PER_THREAD = 4;

/**
 * Pass 1 of a sum of squares over a long vector (a flat gradient buffer): up to MAX_SUM_GROUPS workgroups each write
 * the sum of their grid-strided share to out[outOffset + j]. Returns the number of partials written; adding them in
 * order (adamwPrepare does) gives Σ x², deterministically.
 */
export async function sumSquaresChunks(rt: GpuRuntime, a: { x: Tensor; n?: number; out: Tensor; outOffset?: number }): Promise<number> {
  const kernel = 'sumSquaresChunks';
  const n = a.n ?? numel(a.x.shape);
  const outOffset = a.outOffset ?? 0;
  if (!Number.isInteger(n) || n <= 0) throw new KernelShapeError(kernel, `n must be a positive integer (got ${n})`);
  if (!Number.isInteger(outOffset) || outOffset < 0) throw new KernelShapeError(kernel, `outOffset must be a non-negative integer (got ${outOffset})`);
  needElements(kernel, a.x, n, 'x');
  const groups = sumChunkGroups(n);
  needElements(kernel, a.out, outOffset + groups, 'out');
  if (overlaps(a.x, a.out)) throw new KernelShapeError(kernel, `output '${a.out.label}' may not alias input '${a.x.label}'`);
  await launch(rt, {
    kernel,
    shader: 'reduce',
    entry: 'sum_squares_chunks',
    bindings: [a.x, a.out],
    params: [n, groups, outOffset],
    workgroups: grid(rt, groups),
  });
  return groups;
}

/** Workgroups (and partials) sumSquaresChunks uses for n elements. */
export function sumChunkGroups(n: number): number {
  return Math.min(MAX_SUM_GROUPS, Math.ceil(n / (256 * PER_THREAD)));
}
