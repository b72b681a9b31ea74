// Launchers and float64 CPU references for shaders/reduce.wgsl.
//   rowSum(rt, {x, out, rows, cols})                 out[r] = Σ_c x[r,c]            x [rows, cols] -> out [rows]
//   rowMax(rt, {x, out, rows, cols})                 out[r] = max_c x[r,c]
//   colSum(rt, {x, out, rows, cols, accumulate})     out[c] (+)= Σ_r x[r,c]         x [rows, cols] -> out [cols]
//                                                    (bias gradients: db += Σ_rows dY); two passes, deterministic
//   sumSquaresInto(rt, {x, n, partials, slot})       partials[slot] = Σ_i x[i]²     (one slot per parameter tensor)
//   sumPartials(rt, {partials, count, out, sqrt})    out[outIndex] = Σ_i partials[i] (or its square root)
//   globalNorm(rt, {tensors, partials, out})         out[0] = sqrt(Σ over tensors of Σ x²)  (clip_grad_norm_'s norm)
//   sumSquaresChunks(rt, {x, n, out, outOffset})     out[outOffset + j] = Σ x² over workgroup j's share, j < groups
//                                                    (returned): pass 1 of the optimizer's norm over a flat buffer
// Every launcher records into the open compute pass and does not flush.

import { needElements } from './checks.ts';
import type { Tensor } from '../gpu/buffers.ts';
import { numel, overlaps } from '../gpu/buffers.ts';
import { KernelShapeError } from '../gpu/errors.ts';
import { grid, launch } from '../gpu/launch.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';

export interface RowReduceArgs {
  /** [rows, cols], contiguous. */
  x: Tensor;
  /** [rows]. */
  out: Tensor;
  rows: number;
  cols: number;
}

export interface ColSumArgs {
  /** [rows, cols], contiguous. */
  x: Tensor;
  /** [cols]. */
  out: Tensor;
  rows: number;
  cols: number;
  /** Add to what `out` holds (gradient accumulation) instead of overwriting it. */
  accumulate?: boolean;
}

export interface SumSquaresArgs {
  x: Tensor;
  /** Elements of x to use (default: all of x). */
  n?: number;
  /** One f32 per parameter tensor. */
  partials: Tensor;
  slot: number;
}

export interface SumPartialsArgs {
  partials: Tensor;
  /** How many leading partials to add. */
  count: number;
  out: Tensor;
  outIndex?: number;
  /** Write the square root of the sum (a norm from sums of squares). */
  sqrt?: boolean;
}

export interface GlobalNormArgs {
  tensors: Tensor[];
  /** At least tensors.length f32 (scratch, one slot per tensor). */
  partials: Tensor;
  /** out[outIndex] = the global L2 norm. */
  out: Tensor;
  outIndex?: number;
}

/** Threads per row: a power of two from 32 to 256, no more than the row needs (short rows waste no threads). */
export function rowThreads(cols: number): number {
  let wg = 32;
  while (wg < 256 && wg < cols) wg *= 2;
  return wg;
}

const ROWS_PER_BLOCK = 256; // must match shaders/reduce.wgsl
const COLS_PER_GROUP = 64;
/** Most workgroups one sum uses (and the size of the scratch it needs). */
const MAX_SUM_GROUPS = 4096;
/** Elements each thread adds serially before the tree takes over (bounds the f32 rounding of long sums). */
const PER_THREAD = 4;

function checkCount(kernel: string, what: Record<string, number>): void {
  for (const [k, v] of Object.entries(what)) {
    if (!Number.isInteger(v) || v <= 0) throw new KernelShapeError(kernel, `${k} must be a positive integer (got ${v})`);
  }
}

function checkSize(kernel: string, t: Tensor, want: number, what: string): void {
  needElements(kernel, t, want, what);
}

function checkDistinct(kernel: string, a: Tensor, b: Tensor): void {
  if (overlaps(a, b)) throw new KernelShapeError(kernel, `output '${b.label}' may not alias input '${a.label}'`);
}

async function rowReduce(rt: GpuRuntime, kernel: string, isMax: boolean, a: RowReduceArgs): Promise<void> {
  checkCount(kernel, { rows: a.rows, cols: a.cols });
  checkSize(kernel, a.x, a.rows * a.cols, 'x');
  checkSize(kernel, a.out, a.rows, 'out');
  checkDistinct(kernel, a.x, a.out);
  const wg = rowThreads(a.cols);
  await launch(rt, {
    kernel,
    shader: 'reduce',
    entry: 'row_reduce',
    prelude: `const WG = ${wg}u;`,
    constants: { IS_MAX: isMax ? 1 : 0 },
    bindings: [a.x, a.out],
    params: [a.rows, a.cols],
    workgroups: grid(rt, a.rows),
  });
}

/** out[r] = Σ_c x[r,c]. */
export function rowSum(rt: GpuRuntime, a: RowReduceArgs): Promise<void> {
  return rowReduce(rt, 'rowSum', false, a);
}

/** out[r] = max_c x[r,c]. */
export function rowMax(rt: GpuRuntime, a: RowReduceArgs): Promise<void> {
  return rowReduce(rt, 'rowMax', true, a);
}

/** out[c] (+)= Σ_r x[r,c]: blocks of 256 rows into partial sums, then one ordered pass per column. */
export async function colSum(rt: GpuRuntime, a: ColSumArgs): Promise<void> {
  const kernel = 'colSum';
  checkCount(kernel, { rows: a.rows, cols: a.cols });
  checkSize(kernel, a.x, a.rows * a.cols, 'x');
  checkSize(kernel, a.out, a.cols, 'out');
  checkDistinct(kernel, a.x, a.out);
  const blocks = Math.ceil(a.rows / ROWS_PER_BLOCK);
  const colGroups = Math.ceil(a.cols / COLS_PER_GROUP);
  const max = rt.info.limits.maxComputeWorkgroupsPerDimension;
  if (blocks > max || colGroups > max) {
    throw new KernelShapeError(kernel, `rows=${a.rows} cols=${a.cols} needs a ${colGroups}x${blocks} grid, over ${max} per dimension; split the call`);
  }
  const base = { kernel, shader: 'reduce', prelude: 'const WG = 256u;' };
  const accumulate = a.accumulate ? 1 : 0;
  if (blocks === 1) {
    await launch(rt, {
      ...base,
      entry: 'col_partial',
      constants: { DIRECT: 1, ACCUMULATE: accumulate },
      bindings: [a.x, a.out],
      params: [a.rows, a.cols, blocks],
      workgroups: [colGroups, 1],
    });
    return;
  }
  const partial = await rt.pool.tensor([blocks, a.cols], 'colSum.partial');
  try {
    await launch(rt, {
      ...base,
      entry: 'col_partial',
      constants: { DIRECT: 0, ACCUMULATE: 0 },
      bindings: [a.x, partial],
      params: [a.rows, a.cols, blocks],
      workgroups: [colGroups, blocks],
    });
    await launch(rt, {
      ...base,
      entry: 'col_finish',
      constants: { ACCUMULATE: accumulate },
      bindings: [partial, a.out],
      params: [a.rows, a.cols, blocks],
      workgroups: grid(rt, Math.ceil(a.cols / 256)),
    });
  } finally {
    // Safe to hand back at once: anything that reuses it is recorded (or queue-written, which submits first) later.
    rt.pool.release(partial);
  }
}

/** dst[dstOffset] = Σ src[0..n) (squared if `square`; square-rooted if `sqrt`), in one or two passes. */
async function sumInto(
  rt: GpuRuntime,
  kernel: string,
  src: Tensor,
  n: number,
  square: boolean,
  dst: Tensor,
  dstOffset: number,
  sqrt: boolean,
): Promise<void> {
  const groups = sumChunkGroups(n);
  const base = { kernel, shader: 'reduce', entry: 'sum_chunks', prelude: 'const WG = 256u;' };
  if (groups === 1) {
    await launch(rt, {
      ...base,
      constants: { SQUARE: square ? 1 : 0, SQRT: sqrt ? 1 : 0 },
      bindings: [src, dst],
      params: [n, 1, dstOffset],
      workgroups: [1],
    });
    return;
  }
  // Fixed scratch size, so ~200 parameter tensors of different sizes all reuse one pooled buffer.
  const scratch = await rt.pool.tensor([MAX_SUM_GROUPS], `${kernel}.scratch`);
  try {
    await launch(rt, {
      ...base,
      constants: { SQUARE: square ? 1 : 0, SQRT: 0 },
      bindings: [src, scratch],
      params: [n, groups, 0],
      workgroups: grid(rt, groups),
    });
    await launch(rt, {
      ...base,
      constants: { SQUARE: 0, SQRT: sqrt ? 1 : 0 },
      bindings: [scratch, dst],
      params: [groups, 1, dstOffset],
      workgroups: [1],
    });
  } finally {
    rt.pool.release(scratch);
  }
}

/** partials[slot] = Σ_i x[i]² over the first n elements of x. */
export async function sumSquaresInto(rt: GpuRuntime, a: SumSquaresArgs): Promise<void> {
  const kernel = 'sumSquaresInto';
  const n = a.n ?? numel(a.x.shape);
  checkCount(kernel, { n });
  checkSize(kernel, a.x, n, 'x');
  if (!Number.isInteger(a.slot) || a.slot < 0) throw new KernelShapeError(kernel, `slot must be a non-negative integer (got ${a.slot})`);
  checkSize(kernel, a.partials, a.slot + 1, 'partials');
  checkDistinct(kernel, a.x, a.partials);
  await sumInto(rt, kernel, a.x, n, true, a.partials, a.slot, false);
}

/** out[outIndex] = Σ partials[0..count) (or its square root with `sqrt`). */
export async function sumPartials(rt: GpuRuntime, a: SumPartialsArgs): Promise<void> {
  const kernel = 'sumPartials';
  const outIndex = a.outIndex ?? 0;
  checkCount(kernel, { count: a.count });
  checkSize(kernel, a.partials, a.count, 'partials');
  if (!Number.isInteger(outIndex) || outIndex < 0) throw new KernelShapeError(kernel, `outIndex must be a non-negative integer (got ${outIndex})`);
  checkSize(kernel, a.out, outIndex + 1, 'out');
  checkDistinct(kernel, a.partials, a.out);
  await sumInto(rt, kernel, a.partials, a.count, false, a.out, outIndex, a.sqrt ?? false);
}

/**
 * Pass 1 of a sum of squares over a long vector (a flat gradient buffer): up to MAX_SUM_GROUPS workgroups each write
 * the sum of their grid-strided share to out[outOffset + j]. Returns the number of partials written; adding them in
 * order (adamwPrepare does) gives Σ x², deterministically.
 */
export async function sumSquaresChunks(rt: GpuRuntime, a: { x: Tensor; n?: number; out: Tensor; outOffset?: number }): Promise<number> {
  const kernel = 'sumSquaresChunks';
  const n = a.n ?? numel(a.x.shape);
  const outOffset = a.outOffset ?? 0;
  checkCount(kernel, { n });
  checkSize(kernel, a.x, n, 'x');
  const groups = sumChunkGroups(n);
  checkSize(kernel, a.out, outOffset + groups, 'out');
  if (overlaps(a.x, a.out)) throw new KernelShapeError(kernel, `output '${a.out.label}' may not alias input '${a.x.label}'`);
  await launch(rt, {
    kernel,
    shader: 'reduce',
    entry: 'sum_chunks',
    prelude: 'const WG = 256u;',
    constants: { SQUARE: 1, SQRT: 0 },
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

/** The L2 norm over every element of every tensor (torch.nn.utils.clip_grad_norm_'s total_norm), left on the GPU. */
export async function globalNorm(rt: GpuRuntime, a: GlobalNormArgs): Promise<void> {
  if (a.tensors.length === 0) throw new KernelShapeError('globalNorm', 'no tensors given');
  for (let i = 0; i < a.tensors.length; i++) {
    await sumSquaresInto(rt, { x: a.tensors[i], partials: a.partials, slot: i });
  }
  await sumPartials(rt, { partials: a.partials, count: a.tensors.length, out: a.out, outIndex: a.outIndex, sqrt: true });
}

// ---- float64 CPU references -----------------------------------------------------------------------------------

export function rowSumRef(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += x[r * cols + c];
    out[r] = s;
  }
  return out;
}

export function rowMaxRef(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c]);
    out[r] = m;
  }
  return out;
}

/** Σ_r x[r,c] (+ out0[c] when given: the accumulate form). */
export function colSumRef(x: ArrayLike<number>, rows: number, cols: number, out0?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(cols);
  if (out0) for (let c = 0; c < cols; c++) out[c] = out0[c];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += x[r * cols + c];
  return out;
}

export function sumSquaresRef(x: ArrayLike<number>, n = x.length): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}

/** sqrt(Σ over tensors of Σ x²). */
export function globalNormRef(tensors: ArrayLike<number>[]): number {
  return Math.sqrt(tensors.reduce((s, t) => s + sumSquaresRef(t), 0));
}
