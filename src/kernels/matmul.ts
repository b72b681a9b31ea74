// Launcher for shaders/matmul.wgsl (float64 reference: src/model/reference/matmul.ts).
//   matmul(rt, {a, b, c, M, N, K, transA, transB, bias, accumulate, alpha, batch, biasGrad, splitK, tile})
// Shapes (per batch entry): logical A [M,K] (stored [K,M] if transA), logical B [K,N] (stored [N,K] if transB),
// C [M,N]. Training uses three forms: Y = X·Wᵀ + b (transB, bias), dX = dY·W, dW += dYᵀ·X (transA, accumulate,
// biasGrad = db).
//
// Two choices are made per call:
//   split-K  a pure function of the shape (splitCount): when the M x N tiles alone cannot fill a large GPU (the
//            weight gradients: M, N ≤ 3072, K = B·L = 16,384) K is cut into chunks whose partial products a second
//            pass adds in order. The split changes the rounding, so it never depends on the adapter or on timing:
//            a run and its resume produce the same bits.
//   tile     picked per adapter and shape by a short autotune (./matmul-tune.ts); every tile computes each output
//            element with the same fma chain, so the choice changes the speed, never a bit.

import { needElements } from './checks.ts';
import type { Tensor } from '../gpu/buffers.ts';
import { numel, overlaps } from '../gpu/buffers.ts';
import { KernelShapeError } from '../gpu/errors.ts';
import { f32bits, grid, launch } from '../gpu/launch.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';
import { type MatmulTile, matmulTileFor } from './matmul-tune.ts';

export type { MatmulTile } from './matmul-tune.ts';

/**
 * One product C = alpha·op(A)·op(B) (+ bias) (+ C): its shape and options, with the operands of type T. The launcher
 * takes them as GPU tensors (MatmulArgs), the float64 reference as arrays (MatmulRef).
 */
export interface MatmulProduct<T> {
  a: T;
  b: T;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  bias?: T;
  /** C += product instead of C = product. */
  accumulate?: boolean;
  /** Scales op(A)·op(B) (not the bias, not what C held). */
  alpha?: number;
  batch?: number;
  /** Elements between batch entries; 0 shares one matrix across the batch. Defaults: contiguous. */
  strideA?: number;
  strideB?: number;
  strideC?: number;
}

export interface MatmulArgs extends MatmulProduct<Tensor> {
  c: Tensor;
  /**
   * [M]: receives the row sums of op(A), Σ_k op(A)[m,k] (added when `accumulate`): a Linear layer's bias gradient
   * db = Σ_rows dY, fused into the weight-gradient pass dW = dYᵀ·X. Batch 1 only.
   */
  biasGrad?: Tensor;
  /** Number of K chunks (tests, benchmarks); default splitCount(M, N, K, batch). */
  splitK?: number;
  /** A tile by name (see MATMUL_TILES); default: the autotune's pick for this adapter and shape. */
  tile?: string;
}

const KERNEL = 'matmul';
/** Chunks of K are multiples of this (the lcm of the tiles' BK), so chunk bounds do not depend on the tile. */
const K_CHUNK_ALIGN = 16;
/** Workgroups a product should offer before it is split (a few waves on a GPU with ~100+ compute units). */
const SPLIT_TARGET_GROUPS = 512;
/** Shortest K chunk worth a workgroup's start-up. */
const SPLIT_MIN_K = 512;
const SPLIT_MAX = 32;
/** Largest partial-product scratch a split may take. */
const SPLIT_MAX_BYTES = 64 * 2 ** 20;

/**
 * How many chunks K is cut into: doubled while the 128x128 tiles (times the chunks) number fewer than
 * SPLIT_TARGET_GROUPS, each chunk keeps at least SPLIT_MIN_K, and the partials stay under SPLIT_MAX_BYTES.
 * A function of the shape only (see the file comment).
 */
export function splitCount(M: number, N: number, K: number, batch = 1): number {
  const tiles = Math.ceil(M / 128) * Math.ceil(N / 128) * batch;
  let s = 1;
  while (s < SPLIT_MAX && tiles * s < SPLIT_TARGET_GROUPS && K / (2 * s) >= SPLIT_MIN_K && 2 * s * batch * M * N * 4 <= SPLIT_MAX_BYTES) s *= 2;
  return s;
}

/** The K chunk of each split and the number of non-empty splits. */
export function splitChunks(K: number, splits: number): { kChunk: number; splits: number } {
  const kChunk = Math.ceil(Math.ceil(K / splits) / K_CHUNK_ALIGN) * K_CHUNK_ALIGN;
  return { kChunk, splits: Math.ceil(K / kChunk) };
}

function positive(...v: number[]): boolean {
  return v.every((x) => Number.isInteger(x) && x > 0);
}

function checkArgs(x: MatmulArgs, batch: number, sA: number, sB: number, sC: number): void {
  const need = (t: Tensor, stride: number, per: number, name: string) =>
    needElements(KERNEL, t, stride * (batch - 1) + per, name, `M=${x.M} N=${x.N} K=${x.K} batch=${batch}`);
  if (!positive(x.M, x.N, x.K, batch)) {
    throw new KernelShapeError(KERNEL, `M, N, K and batch must be positive integers (got ${x.M}, ${x.N}, ${x.K}, ${batch})`);
  }
  need(x.a, sA, x.M * x.K, 'A');
  need(x.b, sB, x.K * x.N, 'B');
  need(x.c, sC, x.M * x.N, 'C');
  if (x.bias && numel(x.bias.shape) < x.N) throw new KernelShapeError(KERNEL, `bias has ${numel(x.bias.shape)} elements, needs N=${x.N}`);
  if (overlaps(x.c, x.a) || overlaps(x.c, x.b)) throw new KernelShapeError(KERNEL, 'C may not alias A or B');
  if (x.biasGrad) {
    if (batch !== 1) throw new KernelShapeError(KERNEL, `biasGrad needs batch 1 (got ${batch})`);
    needElements(KERNEL, x.biasGrad, x.M, 'biasGrad', `M=${x.M}`);
    for (const t of [x.a, x.b, x.c]) if (overlaps(x.biasGrad, t)) throw new KernelShapeError(KERNEL, `biasGrad may not alias '${t.label}'`);
  }
  if (x.splitK !== undefined && !positive(x.splitK)) throw new KernelShapeError(KERNEL, `splitK must be a positive integer (got ${x.splitK})`);
}

/** Fills in the defaults: batch, strides, split. */
export function matmulPlan(x: MatmulArgs): Required<Pick<MatmulArgs, 'batch' | 'strideA' | 'strideB' | 'strideC'>> & { kChunk: number; splits: number } {
  const batch = x.batch ?? 1;
  const split = splitChunks(x.K, x.splitK ?? splitCount(x.M, x.N, x.K, batch));
  return {
    batch,
    strideA: x.strideA ?? x.M * x.K,
    strideB: x.strideB ?? x.K * x.N,
    strideC: x.strideC ?? x.M * x.N,
    ...split,
  };
}

export async function matmul(rt: GpuRuntime, x: MatmulArgs): Promise<void> {
  const plan = matmulPlan(x);
  checkArgs(x, plan.batch, plan.strideA, plan.strideB, plan.strideC);
  const tile = await matmulTileFor(rt, x, plan, (t, args) => recordMatmul(rt, args, plan, t));
  await recordMatmul(rt, x, plan, tile);
}

/** Records the product with a given tile: one dispatch, or two with split-K (partials, then their ordered sum). */
export async function recordMatmul(rt: GpuRuntime, x: MatmulArgs, plan: ReturnType<typeof matmulPlan>, tile: MatmulTile): Promise<void> {
  const { batch, splits, kChunk } = plan;
  const flags = { TRANS_A: x.transA ? 1 : 0, TRANS_B: x.transB ? 1 : 0 };
  const epilogue = { HAS_BIAS: x.bias ? 1 : 0, ACCUMULATE: x.accumulate ? 1 : 0, BIAS_GRAD: x.biasGrad ? 1 : 0 };
  const params = [x.M, x.N, x.K, batch, plan.strideA, plan.strideB, plan.strideC, f32bits(x.alpha ?? 1), splits, kChunk];
  const base = {
    kernel: KERNEL,
    shader: 'matmul',
    prelude: `const R = ${tile.R}u; const BK = ${tile.BK}u; const STAGES = ${tile.stages}u;`,
  };
  const groups: [number, number, number] = [Math.ceil(x.N / (64 * tile.R)), Math.ceil(x.M / (64 * tile.R)), batch * splits];
  if (splits === 1) {
    await launch(rt, {
      ...base,
      constants: { ...flags, ...epilogue, SPLIT: 0 },
      bindings: [x.a, x.b, x.bias ?? dummy(rt), x.c, x.biasGrad ?? dummyRW(rt)],
      params,
      workgroups: groups,
    });
    return;
  }
  const partial = await rt.pool.tensor([batch * splits, x.M * x.N], 'matmul.splitK');
  const partialRows = x.biasGrad ? await rt.pool.tensor([splits, x.M], 'matmul.splitK.rows') : undefined;
  try {
    await launch(rt, {
      ...base,
      constants: { ...flags, HAS_BIAS: 0, ACCUMULATE: 0, BIAS_GRAD: epilogue.BIAS_GRAD, SPLIT: 1 },
      bindings: [x.a, x.b, dummy(rt), partial, partialRows ?? dummyRW(rt)],
      params,
      workgroups: groups,
    });
    const threads = batch * x.M * x.N + (x.biasGrad ? x.M : 0);
    await launch(rt, {
      ...base,
      kernel: `${KERNEL}.splitK`,
      entry: 'splitk_reduce',
      constants: { ...epilogue },
      bindings: [partial, partialRows ?? dummy(rt), x.bias ?? dummy(rt), x.c, x.biasGrad ?? dummyRW(rt)],
      params,
      workgroups: grid(rt, Math.ceil(threads / 256)),
    });
  } finally {
    // Safe to hand back at once: anything that reuses them is recorded (or queue-written, which submits first) later.
    rt.pool.release(partial);
    if (partialRows) rt.pool.release(partialRows);
  }
}

const dummies = new WeakMap<GPUDevice, { ro: GPUBuffer; rw: GPUBuffer }>();
function dummyPair(rt: GpuRuntime): { ro: GPUBuffer; rw: GPUBuffer } {
  let d = dummies.get(rt.device);
  if (!d) {
    const make = (label: string) => rt.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label });
    d = { ro: make('unused'), rw: make('unused (writable)') };
    dummies.set(rt.device, d);
  }
  return d;
}

/** A 16-byte buffer bound where a kernel's optional read-only input is absent (every binding must be bound). */
export function dummy(rt: GpuRuntime): GPUBuffer {
  return dummyPair(rt).ro;
}

/**
 * The same for an absent writable binding: a buffer may not be bound read-only and writable in one dispatch, so
 * the writable stand-in is a buffer of its own.
 */
export function dummyRW(rt: GpuRuntime): GPUBuffer {
  return dummyPair(rt).rw;
}
