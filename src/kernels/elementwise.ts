// Launchers for shaders/elementwise.wgsl (float64 reference in src/model/reference/).
//   copy, fill, add                                   plain arithmetic on flat f32 tensors of n elements
//   geluForward / geluBackward                        exact-erf GELU (torch.nn.GELU(), HF "gelu")
//   tanhForward / tanhBackward                        the pooler's / classification head's tanh
//   erf                                               GELU's f32 erf on its own, for its test
//   dropout                                           seeded, counter-based; the same call is its own backward
//   gatherRows / scatterRows                          pick the [CLS]/<s> row of every sequence and route its gradient
// Every launcher checks sizes and aliasing and throws KernelShapeError('elementwise', …); it records into the open
// compute pass and does not flush. Params are the fields of the entry point's uniform struct, in order.

import { needElements } from './checks.ts';
import { type Tensor, overlaps } from '../gpu/buffers.ts';
import { KernelShapeError } from '../gpu/errors.ts';
import { f32bits, grid, launch } from '../gpu/launch.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';

const KERNEL = 'elementwise';
const WG = 256;

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new KernelShapeError(KERNEL, `${what}: n must be a non-negative integer (got ${n})`);
}

function checkHas(t: Tensor, n: number, name: string, what: string): void {
  needElements(KERNEL, t, n, `${what}: ${name}`);
}

function checkDistinct(what: string, out: Tensor, ...ins: Tensor[]): void {
  for (const t of ins) {
    if (overlaps(t, out)) {
      throw new KernelShapeError(KERNEL, `${what}: output '${out.label}' may not be the same buffer as input '${t.label}'`);
    }
  }
}

/** `volatile`: params that change every call (a dropout seed), kept out of the launcher's per-shape cache. */
function run(rt: GpuRuntime, entry: string, bindings: Tensor[], params: number[], threads: number, volatile = false): Promise<void> {
  return launch(rt, {
    kernel: `${KERNEL}.${entry}`,
    shader: 'elementwise',
    entry,
    bindings,
    params,
    volatile,
    workgroups: threads === 0 ? [0] : grid(rt, Math.ceil(threads / WG)),
  });
}

/** Every tensor holds n elements, and the output (the last one) is not one of the inputs. */
function checkMap(what: string, n: number, named: [string, Tensor][]): void {
  checkCount(n, what);
  for (const [name, t] of named) checkHas(t, n, name, what);
  checkDistinct(what, named[named.length - 1][1], ...named.slice(0, -1).map(([, t]) => t));
}

/** The launcher of a map over n elements: tensors `names` in binding order (inputs, then the output), params {n}. */
function elementMap<const Names extends readonly string[]>(what: string, entry: string, names: Names) {
  return async (rt: GpuRuntime, a: Record<Names[number], Tensor> & { n: number }): Promise<void> => {
    const named = names.map((name: Names[number]): [string, Tensor] => [name, a[name]]);
    checkMap(what, a.n, named);
    return run(rt, entry, named.map(([, t]) => t), [a.n], a.n);
  };
}

// ---- plain arithmetic and activations -------------------------------------------------------------------------

/** y[0:n] = x[0:n]. */
export const copy = elementMap('copy', 'copy', ['x', 'y']);

/** c = a + b (the residual connection). c may not alias a or b. */
export const add = elementMap('add', 'add', ['a', 'b', 'c']);

/** y = gelu(x) = x·½(1 + erf(x/√2)). */
export const geluForward = elementMap('geluForward', 'gelu_fwd', ['x', 'y']);

/** dx = dy·gelu'(x); x is the forward input (recomputed or kept). */
export const geluBackward = elementMap('geluBackward', 'gelu_bwd', ['x', 'dy', 'dx']);

/** y = tanh(x). */
export const tanhForward = elementMap('tanhForward', 'tanh_fwd', ['x', 'y']);

/** dx = dy·(1 − y²); y is the forward OUTPUT. */
export const tanhBackward = elementMap('tanhBackward', 'tanh_bwd', ['y', 'dy', 'dx']);

/** y = erf(x) elementwise: the f32 erf that GELU uses, exposed so it can be tested on its own. */
export const erf = elementMap('erf', 'erf', ['x', 'y']);

/** y[offset : offset+n] = value (offset 0 by default). */
export async function fill(rt: GpuRuntime, a: { y: Tensor; n: number; value: number; offset?: number }): Promise<void> {
  const offset = a.offset ?? 0;
  checkCount(a.n, 'fill');
  checkCount(offset, 'fill offset');
  checkHas(a.y, offset + a.n, 'y', 'fill');
  return run(rt, 'fill', [a.y], [a.n, f32bits(a.value), offset], a.n);
}

// ---- dropout --------------------------------------------------------------------------------------------------

export interface DropoutArgs {
  x: Tensor;
  y: Tensor;
  n: number;
  /** Probability of zeroing an element, 0 ≤ p ≤ 1 (torch.nn.Dropout's p). */
  p: number;
  /** Any u32; use a different seed per dropout site and step, and the same one for that site's backward. */
  seed: number;
}

/**
 * Forward: y = mask·x/(1−p). Backward: call again with x = dy, y = dx and the same seed and p: the mask depends only
 * on (seed, element index), so nothing is stored. p = 0 is an exact copy; p = 1 zeroes everything (as torch).
 */
export async function dropout(rt: GpuRuntime, a: DropoutArgs): Promise<void> {
  checkMap('dropout', a.n, [['x', a.x], ['y', a.y]]);
  if (!(a.p >= 0 && a.p <= 1)) throw new KernelShapeError(KERNEL, `dropout: p must be in [0, 1] (got ${a.p})`);
  if (!Number.isInteger(a.seed) || a.seed < 0 || a.seed > 0xffffffff) {
    throw new KernelShapeError(KERNEL, `dropout: seed must be an integer in 0..2^32-1 (got ${a.seed})`);
  }
  if (a.p === 0) return copy(rt, a);
  if (a.p === 1) return fill(rt, { y: a.y, n: a.n, value: 0 });
  const { threshold, scale } = dropoutConstants(a.p);
  return run(rt, 'dropout', [a.x, a.y], [a.n, threshold, f32bits(scale), a.seed >>> 0], a.n, true);
}

/** The integer threshold on 24 random bits (keep when bits ≥ threshold) and the f32 scale 1/(1−p). */
export function dropoutConstants(p: number): { threshold: number; scale: number } {
  return { threshold: Math.min(2 ** 24, Math.round(p * 2 ** 24)), scale: Math.fround(1 / (1 - p)) };
}

// ---- gather / scatter rows ------------------------------------------------------------------------------------

export interface GatherRowsArgs {
  /** [rowsIn, cols] */
  x: Tensor;
  /** u32 [n]: row of x for each output row. */
  idx: Tensor;
  /** [n, cols] */
  out: Tensor;
  n: number;
  cols: number;
  rowsIn: number;
}

/** out[i, :] = x[idx[i], :]. An index ≥ rowsIn yields a NaN row (never another tensor's memory). */
export async function gatherRows(rt: GpuRuntime, a: GatherRowsArgs): Promise<void> {
  rowChecks('gatherRows', a.x, a.idx, a.out, a.n, a.cols, a.rowsIn, a.rowsIn, a.n);
  return run(rt, 'gather_rows', [a.x, a.idx, a.out], [a.n, a.cols, a.rowsIn, 0], a.n * a.cols);
}

export interface ScatterRowsArgs {
  /** [n, cols] gradient of the gathered rows */
  dOut: Tensor;
  /** u32 [n], DISTINCT row indices (one [CLS] row per sequence); duplicates would race. */
  idx: Tensor;
  /** [rowsIn, cols]; rows not named in idx are left untouched. */
  dx: Tensor;
  n: number;
  cols: number;
  rowsIn: number;
  /** dx[idx[i]] += dOut[i] (default) or = dOut[i]. */
  accumulate?: boolean;
}

/** The backward of gatherRows: dx[idx[i], :] (+)= dOut[i, :]. Indices ≥ rowsIn are skipped. */
export async function scatterRows(rt: GpuRuntime, a: ScatterRowsArgs): Promise<void> {
  rowChecks('scatterRows', a.dOut, a.idx, a.dx, a.n, a.cols, a.rowsIn, a.n, a.rowsIn);
  const acc = a.accumulate ?? true;
  return run(rt, 'scatter_rows', [a.dOut, a.idx, a.dx], [a.n, a.cols, a.rowsIn, acc ? 1 : 0], a.n * a.cols);
}

/** Row index of the first token ([CLS] / <s>) of each of `batch` sequences of `seqLen` tokens: b·seqLen. */
export function firstTokenRows(batch: number, seqLen: number): Uint32Array {
  const out = new Uint32Array(batch);
  for (let b = 0; b < batch; b++) out[b] = b * seqLen;
  return out;
}

// ---- checks ---------------------------------------------------------------------------------------------------

function rowChecks(
  what: string,
  src: Tensor,
  idx: Tensor,
  dst: Tensor,
  n: number,
  cols: number,
  rowsIn: number,
  srcRows: number,
  dstRows: number,
): void {
  for (const [v, name] of [
    [n, 'n'],
    [cols, 'cols'],
    [rowsIn, 'rowsIn'],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new KernelShapeError(KERNEL, `${what}: ${name} must be a non-negative integer (got ${v})`);
  }
  if (idx.dtype === 'f32') throw new KernelShapeError(KERNEL, `${what}: idx '${idx.label}' must be a u32 tensor, got f32`);
  checkHas(idx, n, 'idx', what);
  checkHas(src, srcRows * cols, 'source', what);
  checkHas(dst, dstRows * cols, 'destination', what);
  checkDistinct(what, dst, src, idx);
}
