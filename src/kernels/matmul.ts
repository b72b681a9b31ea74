// Launcher and float64 CPU reference for shaders/matmul.wgsl.
//   matmul(rt, {a, b, c, M, N, K, transA, transB, bias, accumulate, alpha, batch})
// Shapes (per batch entry): logical A [M,K] (stored [K,M] if transA), logical B [K,N] (stored [N,K] if transB),
// C [M,N]. The named helpers below are the three forms training uses.

import { needElements } from './checks.ts';
import type { Tensor } from '../gpu/buffers.ts';
import { numel } from '../gpu/buffers.ts';
import { KernelShapeError } from '../gpu/errors.ts';
import { f32bits, launch } from '../gpu/launch.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';

export interface MatmulArgs {
  a: Tensor;
  b: Tensor;
  c: Tensor;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  bias?: Tensor;
  accumulate?: boolean;
  alpha?: number;
  batch?: number;
  /** Elements between batch entries; 0 shares one matrix across the batch. Defaults: contiguous. */
  strideA?: number;
  strideB?: number;
  strideC?: number;
}

/** Tile shape per adapter: 64x64 (4x4 per thread) on small devices, 128x128 (8x8) where registers allow. */
export function matmulTile(rt: GpuRuntime): { TM: number; TN: number; BK: number } {
  return rt.info.isSoftware ? { TM: 4, TN: 4, BK: 16 } : { TM: 8, TN: 8, BK: 8 };
}

const KERNEL = 'matmul';

export async function matmul(rt: GpuRuntime, x: MatmulArgs): Promise<void> {
  const batch = x.batch ?? 1;
  const sA = x.strideA ?? x.M * x.K;
  const sB = x.strideB ?? x.K * x.N;
  const sC = x.strideC ?? x.M * x.N;
  const need = (t: Tensor, stride: number, per: number, name: string) =>
    needElements(KERNEL, t, stride * (batch - 1) + per, name, `M=${x.M} N=${x.N} K=${x.K} batch=${batch}`);
  if (![x.M, x.N, x.K, batch].every((v) => Number.isInteger(v) && v > 0)) {
    throw new KernelShapeError(KERNEL, `M, N, K and batch must be positive integers (got ${x.M}, ${x.N}, ${x.K}, ${batch})`);
  }
  need(x.a, sA, x.M * x.K, 'A');
  need(x.b, sB, x.K * x.N, 'B');
  need(x.c, sC, x.M * x.N, 'C');
  if (x.bias && numel(x.bias.shape) < x.N) throw new KernelShapeError(KERNEL, `bias has ${numel(x.bias.shape)} elements, needs N=${x.N}`);
  if (x.c.buffer === x.a.buffer || x.c.buffer === x.b.buffer) throw new KernelShapeError(KERNEL, 'C may not alias A or B');
  const t = matmulTile(rt);
  const BM = 16 * t.TM;
  const BN = 16 * t.TN;
  await launch(rt, {
    kernel: KERNEL,
    shader: 'matmul',
    prelude: `const TM = ${t.TM}u; const TN = ${t.TN}u; const BK = ${t.BK}u;`,
    constants: {
      TRANS_A: x.transA ? 1 : 0,
      TRANS_B: x.transB ? 1 : 0,
      HAS_BIAS: x.bias ? 1 : 0,
      ACCUMULATE: x.accumulate ? 1 : 0,
    },
    bindings: [x.a, x.b, x.bias ?? dummy(rt), x.c],
    params: [x.M, x.N, x.K, batch, sA, sB, sC, f32bits(x.alpha ?? 1)],
    workgroups: [Math.ceil(x.N / BN), Math.ceil(x.M / BM), batch],
  });
}

/** Y[M,N] = X[M,K] · W[N,K]ᵀ + b[N] (a Linear layer's forward). */
export function linearForward(rt: GpuRuntime, X: Tensor, W: Tensor, b: Tensor | undefined, Y: Tensor, M: number): Promise<void> {
  const [N, K] = W.shape;
  return matmul(rt, { a: X, b: W, c: Y, M, N, K, transB: true, bias: b });
}

/** dX[M,K] = dY[M,N] · W[N,K] (+= dX when accumulate). */
export function linearBackwardInput(rt: GpuRuntime, dY: Tensor, W: Tensor, dX: Tensor, M: number, accumulate = false): Promise<void> {
  const [N, K] = W.shape;
  return matmul(rt, { a: dY, b: W, c: dX, M, N: K, K: N, accumulate });
}

/** dW[N,K] += dY[M,N]ᵀ · X[M,K] (gradients accumulate across micro-batches). */
export function linearBackwardWeight(rt: GpuRuntime, dY: Tensor, X: Tensor, dW: Tensor, M: number, accumulate = true): Promise<void> {
  const [N, K] = dW.shape;
  return matmul(rt, { a: dY, b: X, c: dW, M: N, N: K, K: M, transA: true, accumulate });
}

const dummies = new WeakMap<GPUDevice, GPUBuffer>();
/** A 16-byte buffer bound where a kernel's optional input is absent (every binding must be bound). */
export function dummy(rt: GpuRuntime): GPUBuffer {
  let b = dummies.get(rt.device);
  if (!b) {
    b = rt.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label: 'unused' });
    dummies.set(rt.device, b);
  }
  return b;
}

// ---- float64 CPU reference ----------------------------------------------------------------------------------

export interface MatmulRef {
  a: ArrayLike<number>;
  b: ArrayLike<number>;
  c?: ArrayLike<number>;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  bias?: ArrayLike<number>;
  accumulate?: boolean;
  alpha?: number;
  batch?: number;
  strideA?: number;
  strideB?: number;
  strideC?: number;
}

export function matmulRef(x: MatmulRef): Float64Array {
  const batch = x.batch ?? 1;
  const { M, N, K } = x;
  const sA = x.strideA ?? M * K;
  const sB = x.strideB ?? K * N;
  const sC = x.strideC ?? M * N;
  const out = new Float64Array(sC * (batch - 1) + M * N);
  if (x.c) for (let i = 0; i < out.length; i++) out[i] = x.c[i];
  for (let z = 0; z < batch; z++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = x.transA ? x.a[z * sA + k * M + m] : x.a[z * sA + m * K + k];
          const bv = x.transB ? x.b[z * sB + n * K + k] : x.b[z * sB + k * N + n];
          s += av * bv;
        }
        let v = (x.alpha ?? 1) * s + (x.bias ? x.bias[n] : 0);
        const o = z * sC + m * N + n;
        if (x.accumulate) v += out[o];
        out[o] = v;
      }
    }
  }
  return out;
}
