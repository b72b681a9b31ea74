// Float64 reference of the GEMM kernel (src/kernels/matmul.ts) with every option it has: batches with strides,
// transposes, alpha, bias, accumulation, and the bias gradient's row sums. The model's linear layers
// (./layers.ts linearForward / linearBackward) are this product specialised to Y = X·Wᵀ + b.

import type { MatmulProduct } from '../../kernels/matmul.ts';

/** The kernel's MatmulArgs with arrays for operands (one field list: MatmulProduct). */
export interface MatmulRef extends MatmulProduct<ArrayLike<number>> {
  /** What C held (read when accumulate). */
  c?: ArrayLike<number>;
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

/** Row sums of op(A) (+ out0 when given): the reference for biasGrad. */
export function matmulRowSumsRef(a: ArrayLike<number>, M: number, K: number, transA: boolean, out0?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(M);
  for (let m = 0; m < M; m++) {
    let s = out0 ? out0[m] : 0;
    for (let k = 0; k < K; k++) s += transA ? a[k * M + m] : a[m * K + k];
    out[m] = s;
  }
  return out;
}
