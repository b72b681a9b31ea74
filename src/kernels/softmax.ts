// Launchers and float64 CPU references for shaders/softmax.wgsl (row softmax, one workgroup per row).
//   softmaxForward(rt, {x, y, rows, cols})            y = softmax(x) along each row        x, y [rows, cols]
//   softmaxBackward(rt, {y, dy, dx, rows, cols})      dx = y * (dy - Σ_c dy·y)             y, dy, dx [rows, cols]
// Rows beyond the per-dimension workgroup limit (65535) run on a 2-D grid. Outputs may not alias inputs.

import { needElements } from './checks.ts';
import type { Tensor } from '../gpu/buffers.ts';
import { KernelShapeError } from '../gpu/errors.ts';
import { grid, launch } from '../gpu/launch.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';
import { rowThreads } from './reduce.ts';

export interface SoftmaxForwardArgs {
  /** [rows, cols] logits. */
  x: Tensor;
  /** [rows, cols] probabilities (may not alias x). */
  y: Tensor;
  rows: number;
  cols: number;
}

export interface SoftmaxBackwardArgs {
  /** [rows, cols] the forward's output. */
  y: Tensor;
  /** [rows, cols] gradient of the loss with respect to y. */
  dy: Tensor;
  /** [rows, cols] gradient with respect to the logits (may not alias y or dy). */
  dx: Tensor;
  rows: number;
  cols: number;
}

function check(kernel: string, rows: number, cols: number, inputs: Tensor[], outputs: Tensor[]): void {
  if (![rows, cols].every((v) => Number.isInteger(v) && v > 0)) {
    throw new KernelShapeError(kernel, `rows and cols must be positive integers (got ${rows}, ${cols})`);
  }
  for (const t of [...inputs, ...outputs]) needElements(kernel, t, rows * cols, '', `rows*cols = ${rows}*${cols}`);
  for (const o of outputs) {
    for (const i of inputs) {
      if (o.buffer === i.buffer) throw new KernelShapeError(kernel, `output '${o.label}' may not alias input '${i.label}'`);
    }
  }
}

export async function softmaxForward(rt: GpuRuntime, a: SoftmaxForwardArgs): Promise<void> {
  const kernel = 'softmaxForward';
  check(kernel, a.rows, a.cols, [a.x], [a.y]);
  await launch(rt, {
    kernel,
    shader: 'softmax',
    entry: 'softmax_fwd',
    prelude: `const WG = ${rowThreads(a.cols)}u;`,
    bindings: [a.x, a.y],
    params: [a.rows, a.cols],
    workgroups: grid(rt, a.rows),
  });
}

export async function softmaxBackward(rt: GpuRuntime, a: SoftmaxBackwardArgs): Promise<void> {
  const kernel = 'softmaxBackward';
  check(kernel, a.rows, a.cols, [a.y, a.dy], [a.dx]);
  await launch(rt, {
    kernel,
    shader: 'softmax',
    entry: 'softmax_bwd',
    prelude: `const WG = ${rowThreads(a.cols)}u;`,
    bindings: [a.y, a.dy, a.dx],
    params: [a.rows, a.cols],
    workgroups: grid(rt, a.rows),
  });
}

// ---- float64 CPU references -----------------------------------------------------------------------------------

export function softmaxForwardRef(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[o + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[o + c] - m);
    for (let c = 0; c < cols; c++) y[o + c] = Math.exp(x[o + c] - m) / s;
  }
  return y;
}

export function softmaxBackwardRef(y: ArrayLike<number>, dy: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const dx = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let d = 0;
    for (let c = 0; c < cols; c++) d += dy[o + c] * y[o + c];
    for (let c = 0; c < cols; c++) dx[o + c] = y[o + c] * (dy[o + c] - d);
  }
  return dx;
}
