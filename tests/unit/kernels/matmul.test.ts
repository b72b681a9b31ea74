import { describe, expect, it } from 'vitest';
import { matmul, matmulRef } from '../../../src/kernels/matmul.ts';
import { TOL, maxRelErr } from '../../../src/kernels/tolerances.ts';
import { gpu, randomF32, rng } from '../helpers/gpu.ts';

// Random shapes, most of them not multiples of the tile (64 or 128), in every form training uses.
const cases = [
  { M: 1, N: 1, K: 1 },
  { M: 17, N: 33, K: 9 },
  { M: 64, N: 64, K: 64 },
  { M: 70, N: 130, K: 47 },
  { M: 129, N: 65, K: 200 },
  { M: 5, N: 300, K: 31 },
];
const forms = [
  { name: 'Y = X·Wᵀ + b', transA: false, transB: true, bias: true, accumulate: false },
  { name: 'dX = dY·W', transA: false, transB: false, bias: false, accumulate: false },
  { name: 'dW += dYᵀ·X', transA: true, transB: false, bias: false, accumulate: true },
];

describe('matmul', () => {
  for (const f of forms) {
    for (const s of cases) {
      it(`${f.name} M=${s.M} N=${s.N} K=${s.K}`, async () => {
        const rt = await gpu();
        const r = rng(s.M * 1000 + s.N * 10 + s.K);
        const batch = s.M === 17 ? 3 : 1;
        const a = randomF32(batch * s.M * s.K, r);
        const b = randomF32(batch * s.K * s.N, r);
        const c0 = randomF32(batch * s.M * s.N, r);
        const bias = randomF32(s.N, r);
        const A = await rt.pool.upload(a, [batch, s.M * s.K], 'A');
        const B = await rt.pool.upload(b, [batch, s.K * s.N], 'B');
        const C = await rt.pool.upload(c0, [batch, s.M * s.N], 'C');
        const bi = await rt.pool.upload(bias, [s.N], 'bias');
        const args = { ...s, transA: f.transA, transB: f.transB, accumulate: f.accumulate, alpha: 0.75, batch };
        await matmul(rt, { ...args, a: A, b: B, c: C, bias: f.bias ? bi : undefined });
        const got = await rt.readF32(C.buffer);
        const want = matmulRef({ ...args, a, b, c: c0, bias: f.bias ? bias : undefined });
        const err = maxRelErr(got, want);
        expect(err).toBeLessThan(TOL.f32Reduction);
        for (const t of [A, B, C, bi]) rt.pool.release(t);
      });
    }
  }

  it('shares one weight across the batch with stride 0', async () => {
    const rt = await gpu();
    const r = rng(7);
    const [M, N, K, batch] = [9, 21, 13, 4];
    const a = randomF32(batch * M * K, r);
    const w = randomF32(N * K, r);
    const A = await rt.pool.upload(a, [batch * M, K], 'A');
    const W = await rt.pool.upload(w, [N, K], 'W');
    const C = await rt.pool.tensor([batch * M, N], 'C');
    await matmul(rt, { a: A, b: W, c: C, M, N, K, transB: true, batch, strideB: 0 });
    const got = await rt.readF32(C.buffer);
    expect(maxRelErr(got, matmulRef({ a, b: w, M, N, K, transB: true, batch, strideB: 0 }))).toBeLessThan(TOL.f32Reduction);
  });

  it('rejects shapes that do not fit, naming the kernel', async () => {
    const rt = await gpu();
    const A = await rt.pool.tensor([4, 4], 'A');
    const B = await rt.pool.tensor([4, 4], 'B');
    const C = await rt.pool.tensor([4, 4], 'C');
    await expect(matmul(rt, { a: A, b: B, c: C, M: 4, N: 4, K: 5 })).rejects.toThrow(/\[matmul\] A 'A' has 16 elements/);
  });
});
