// Launchers for shaders/layernorm.wgsl (float64 reference in src/model/reference/).
//   layerNormForward(rt, {x, gamma, beta, y, mean, rstd, rows, cols, eps})
//   layerNormBackward(rt, {dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols, accumulate?, rowsPerGroup?, scratch?})
// Shapes: x, y, dy, dx [rows, cols]; gamma, beta, dgamma, dbeta [cols]; mean, rstd [rows] (saved by forward for
// backward). dgamma/dbeta are always accumulated (+=), so micro-batches add up; dx is overwritten unless
// `accumulate` (the residual path: the branch's gradient is already there).
// dgamma/dbeta are column sums over all rows, done without atomics in two deterministic steps: each workgroup of the
// backward kernel sums its group of rows into a scratch row, then param_grads adds the scratch rows in a fixed order.

import { needElements } from './checks.ts';
import { type Tensor, overlaps } from '../gpu/buffers.ts';
import { KernelShapeError } from '../gpu/errors.ts';
import { f32bits, grid, launch } from '../gpu/launch.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';

const KERNEL = 'layernorm';
/** Column limit: K = cols/WG values per invocation live in registers (32 at WG = 256). */
export const LAYERNORM_MAX_COLS = 8192;

/** Workgroup width and per-invocation column count for a row of `cols`: about 4 columns per invocation. */
export function layerNormShape(cols: number): { WG: number; K: number } {
  let WG = 32;
  while (WG < 256 && WG * 4 < cols) WG *= 2;
  return { WG, K: Math.max(1, Math.ceil(cols / WG)) };
}

/** Rows per backward workgroup: enough groups to fill a GPU (~512), few enough that the scratch stays small. */
export function layerNormRowsPerGroup(rows: number): number {
  return Math.max(1, Math.ceil(rows / 512));
}

/** f32 elements of the backward scratch buffer: [2, groups, cols]. */
export function layerNormScratchElements(rows: number, cols: number, rowsPerGroup = layerNormRowsPerGroup(rows)): number {
  return 2 * Math.ceil(rows / rowsPerGroup) * cols;
}

export interface LayerNormForwardArgs {
  x: Tensor;
  gamma: Tensor;
  beta: Tensor;
  y: Tensor;
  /** [rows] saved for backward */
  mean: Tensor;
  /** [rows] 1/√(var + eps), saved for backward */
  rstd: Tensor;
  rows: number;
  cols: number;
  /** BERT 1e-12, XLM-R 1e-5 (config.layer_norm_eps) */
  eps: number;
}

export interface LayerNormBackwardArgs {
  dy: Tensor;
  x: Tensor;
  gamma: Tensor;
  mean: Tensor;
  rstd: Tensor;
  dx: Tensor;
  dgamma: Tensor;
  dbeta: Tensor;
  rows: number;
  cols: number;
  /** dx += … instead of dx = … (default false). */
  accumulate?: boolean;
  /** Rows summed per workgroup for dgamma/dbeta (default layerNormRowsPerGroup(rows)). */
  rowsPerGroup?: number;
  /** At least layerNormScratchElements(rows, cols, rowsPerGroup) f32; taken from the pool when absent. */
  scratch?: Tensor;
}

function checkDims(what: string, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 1) {
    throw new KernelShapeError(KERNEL, `${what}: rows must be ≥ 0 and cols ≥ 1, integers (got rows=${rows}, cols=${cols})`);
  }
  if (cols > LAYERNORM_MAX_COLS) throw new KernelShapeError(KERNEL, `${what}: cols=${cols} is over the supported ${LAYERNORM_MAX_COLS}`);
}

function need(what: string, t: Tensor, n: number, name: string): void {
  needElements(KERNEL, t, n, `${what}: ${name}`);
}

function distinct(what: string, outs: [Tensor, string][], ins: [Tensor, string][]): void {
  const all = [...outs, ...ins];
  outs.forEach(([o, on], i) => {
    all.forEach(([t, tn], j) => {
      if (i !== j && overlaps(t, o)) {
        throw new KernelShapeError(KERNEL, `${what}: ${on} '${o.label}' shares its buffer with ${tn} '${t.label}'; give it its own buffer`);
      }
    });
  });
}

export async function layerNormForward(rt: GpuRuntime, a: LayerNormForwardArgs): Promise<void> {
  const what = 'forward';
  checkDims(what, a.rows, a.cols);
  if (!(a.eps > 0) || !Number.isFinite(a.eps)) throw new KernelShapeError(KERNEL, `${what}: eps must be a positive number (got ${a.eps})`);
  need(what, a.x, a.rows * a.cols, 'x');
  need(what, a.y, a.rows * a.cols, 'y');
  need(what, a.gamma, a.cols, 'gamma');
  need(what, a.beta, a.cols, 'beta');
  need(what, a.mean, a.rows, 'mean');
  need(what, a.rstd, a.rows, 'rstd');
  distinct(
    what,
    [
      [a.y, 'y'],
      [a.mean, 'mean'],
      [a.rstd, 'rstd'],
    ],
    [
      [a.x, 'x'],
      [a.gamma, 'gamma'],
      [a.beta, 'beta'],
    ],
  );
  if (a.rows === 0) return;
  const s = layerNormShape(a.cols);
  await launch(rt, {
    kernel: `${KERNEL}.forward`,
    shader: 'layernorm',
    entry: 'forward',
    prelude: `const WG = ${s.WG}u; const K = ${s.K}u;`,
    bindings: [a.x, a.gamma, a.beta, a.y, a.mean, a.rstd],
    params: [a.rows, a.cols, f32bits(a.eps)],
    workgroups: grid(rt, a.rows),
  });
}

export async function layerNormBackward(rt: GpuRuntime, a: LayerNormBackwardArgs): Promise<void> {
  const what = 'backward';
  checkDims(what, a.rows, a.cols);
  const rpg = a.rowsPerGroup ?? layerNormRowsPerGroup(a.rows);
  if (!Number.isInteger(rpg) || rpg < 1) throw new KernelShapeError(KERNEL, `${what}: rowsPerGroup must be a positive integer (got ${rpg})`);
  const n = a.rows * a.cols;
  need(what, a.dy, n, 'dy');
  need(what, a.x, n, 'x');
  need(what, a.dx, n, 'dx');
  need(what, a.gamma, a.cols, 'gamma');
  need(what, a.dgamma, a.cols, 'dgamma');
  need(what, a.dbeta, a.cols, 'dbeta');
  need(what, a.mean, a.rows, 'mean');
  need(what, a.rstd, a.rows, 'rstd');
  const scratchElems = layerNormScratchElements(a.rows, a.cols, rpg);
  if (a.scratch) need(what, a.scratch, scratchElems, 'scratch');
  const ins: [Tensor, string][] = [
    [a.dy, 'dy'],
    [a.x, 'x'],
    [a.gamma, 'gamma'],
    [a.mean, 'mean'],
    [a.rstd, 'rstd'],
  ];
  const outs: [Tensor, string][] = [
    [a.dx, 'dx'],
    [a.dgamma, 'dgamma'],
    [a.dbeta, 'dbeta'],
  ];
  if (a.scratch) outs.push([a.scratch, 'scratch']);
  distinct(what, outs, ins);
  if (a.rows === 0) return;
  const groups = Math.ceil(a.rows / rpg);
  // Rounded up to a power of two so batches of different lengths reuse one pooled buffer instead of piling up sizes.
  const scratch = a.scratch ?? (await rt.pool.tensor([2 ** Math.ceil(Math.log2(scratchElems))], 'layernorm.scratch'));
  const s = layerNormShape(a.cols);
  const prelude = `const WG = ${s.WG}u; const K = ${s.K}u;`;
  try {
    await launch(rt, {
      kernel: `${KERNEL}.backward`,
      shader: 'layernorm',
      entry: 'backward',
      prelude,
      constants: { ACCUMULATE: a.accumulate ? 1 : 0 },
      bindings: [a.dy, a.x, a.gamma, a.mean, a.rstd, a.dx, scratch],
      params: [a.rows, a.cols, rpg, groups],
      workgroups: grid(rt, groups),
    });
    await launch(rt, {
      kernel: `${KERNEL}.param_grads`,
      shader: 'layernorm',
      entry: 'param_grads',
      prelude,
      bindings: [scratch, a.dgamma, a.dbeta],
      params: [a.cols, groups],
      workgroups: [Math.ceil(a.cols / 32), 2],
    });
  } finally {
    // Safe to hand back at once: whoever gets it next records after these dispatches, and queue writes submit first.
    if (!a.scratch) rt.pool.release(scratch);
  }
}
