import { describe, expect, it } from 'vitest';
import { matmul, splitChunks, splitCount } from '../../../src/kernels/matmul.ts';
import { matmulRef, matmulRowSumsRef } from '../../../src/model/reference/index.ts';
import { clearMatmulPicks, matmulPicks, setMatmulTuning, sizeClass, tuneRunCount } from '../../../src/kernels/matmul-tune.ts';
import { TOL, maxRelErr } from '../../../src/kernels/tolerances.ts';
import { gpu, randomF32, rng } from '../helpers/gpu.ts';

// Random shapes, most of them not multiples of the tile (64 or 128) nor of 4, in every form training uses.
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

interface Case {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  bias: boolean;
  accumulate: boolean;
  batch?: number;
  splitK?: number;
  biasGrad?: boolean;
  tile?: string;
}

/** Runs one product on the GPU and returns it with the float64 reference (and the row sums when biasGrad). */
async function run(s: Case, seed: number) {
  const rt = await gpu();
  const r = rng(seed);
  const batch = s.batch ?? 1;
  const a = randomF32(batch * s.M * s.K, r);
  const b = randomF32(batch * s.K * s.N, r);
  const c0 = randomF32(batch * s.M * s.N, r);
  const bias = randomF32(s.N, r);
  const g0 = randomF32(s.M, r);
  const A = await rt.pool.upload(a, [batch, s.M * s.K], 'A');
  const B = await rt.pool.upload(b, [batch, s.K * s.N], 'B');
  const C = await rt.pool.upload(c0, [batch, s.M * s.N], 'C');
  const bi = await rt.pool.upload(bias, [s.N], 'bias');
  const G = await rt.pool.upload(g0, [s.M], 'biasGrad');
  const args = { M: s.M, N: s.N, K: s.K, transA: s.transA, transB: s.transB, accumulate: s.accumulate, alpha: 0.75, batch };
  await matmul(rt, { ...args, a: A, b: B, c: C, bias: s.bias ? bi : undefined, biasGrad: s.biasGrad ? G : undefined, splitK: s.splitK, tile: s.tile });
  const got = await rt.readF32(C.buffer);
  const gotRows = await rt.readF32(G.buffer);
  for (const t of [A, B, C, bi, G]) rt.pool.release(t);
  const want = matmulRef({ ...args, a, b, c: c0, bias: s.bias ? bias : undefined });
  const wantRows = s.biasGrad ? matmulRowSumsRef(a, s.M, s.K, s.transA, s.accumulate ? g0 : undefined) : g0;
  return { got, want, gotRows, wantRows };
}

describe('matmul', () => {
  for (const f of forms) {
    for (const s of cases) {
      it(`${f.name} M=${s.M} N=${s.N} K=${s.K}`, async () => {
        const x = await run({ ...s, ...f, batch: s.M === 17 ? 3 : 1 }, s.M * 1000 + s.N * 10 + s.K);
        expect(maxRelErr(x.got, x.want)).toBeLessThan(TOL.f32Reduction);
      });
    }
  }

  // Split-K: ragged chunks (K not a multiple of the chunk, chunks not multiples of the tile's BK), the bias added
  // once after the splits, accumulation into what C held, and the fused bias gradient (the weight-gradient form).
  const splits = [
    { M: 70, N: 33, K: 250, splitK: 3 },
    { M: 129, N: 65, K: 1000, splitK: 5 },
    { M: 9, N: 140, K: 47, splitK: 2 },
  ];
  for (const f of [forms[0], forms[2]]) {
    for (const s of splits) {
      it(`split-K ${f.name} M=${s.M} N=${s.N} K=${s.K} in ${s.splitK}`, async () => {
        const x = await run({ ...s, ...f, biasGrad: f.transA }, s.M + s.N + s.K);
        expect(maxRelErr(x.got, x.want)).toBeLessThan(TOL.f32Reduction);
        expect(maxRelErr(x.gotRows, x.wantRows)).toBeLessThan(TOL.f32Reduction);
      });
    }
  }

  const dW = { transA: true, transB: false, bias: false, accumulate: true, biasGrad: true };

  it('fuses the bias gradient (row sums of op(A)) without split-K', async () => {
    const x = await run({ M: 131, N: 70, K: 45, ...dW, splitK: 1 }, 5);
    expect(maxRelErr(x.got, x.want)).toBeLessThan(TOL.f32Reduction);
    expect(maxRelErr(x.gotRows, x.wantRows)).toBeLessThan(TOL.f32Reduction);
  });

  it('gives the same bits with every tile (so the autotune cannot change a result)', async () => {
    const s = { M: 130, N: 70, K: 83, ...dW, splitK: 1 };
    const t64 = await run(s, 11); // the default tile: 64x64, single-buffered on a software adapter
    const t128 = await run({ ...s, tile: '128x128k8' }, 11); // 128x128, double-buffered
    expect(Array.from(t128.got)).toEqual(Array.from(t64.got));
    expect(Array.from(t128.gotRows)).toEqual(Array.from(t64.gotRows));
    expect(maxRelErr(t128.got, t128.want)).toBeLessThan(TOL.f32Reduction);
  });

  it('splits K only where the tiles cannot fill the GPU, as a function of the shape alone', () => {
    const T = 16384; // bert-base at B·L = 16,384
    expect(splitCount(T, 2304, 768)).toBe(1); // forward: 2,304 tiles
    expect(splitCount(T, 768, 3072)).toBe(1); // dX
    expect(splitCount(768, 768, T)).toBe(16); // dW of the attention output: 36 tiles
    expect(splitCount(2304, 768, T)).toBe(8); // dW of qkv
    expect(splitCount(3072, 768, T)).toBe(4); // dW of the FFN
    expect(splitCount(768, 768, 32)).toBe(1); // the head: K = batch is short
    expect(splitChunks(1000, 5)).toEqual({ kChunk: 208, splits: 5 });
    expect(splitChunks(47, 4)).toEqual({ kChunk: 16, splits: 3 });
  });

  it('autotunes a shape once, remembers the pick and asks the store first', async () => {
    const rt = await gpu();
    const stored = new Map<string, string>();
    setMatmulTuning({ candidates: ['64x64k16', '128x128k8'], store: { get: (k) => stored.get(k), set: (k, v) => void stored.set(k, v) } });
    clearMatmulPicks();
    try {
      const s = { M: 40, N: 24, K: 16, ...dW, splitK: 1 };
      const before = tuneRunCount();
      const x = await run(s, 21);
      expect(maxRelErr(x.got, x.want)).toBeLessThan(TOL.f32Reduction);
      expect(tuneRunCount() - before).toBe(2); // both candidates timed
      const picks = await matmulPicks();
      expect(picks.size).toBe(1);
      const [key, tile] = [...picks][0];
      expect(key).toContain(rt.info.vendor);
      expect(key).toContain('TNag|40x24x16');
      // lengths that vary from batch to batch share a pick: B·L = 16,000 and 16,384 are one size class
      expect([sizeClass(300), sizeClass(16_000), sizeClass(16_384)]).toEqual([300, 16_384, 16_384]);
      expect(stored.get(key)).toBe(tile);
      await run(s, 22);
      expect(tuneRunCount() - before).toBe(2); // remembered: no second tune
      clearMatmulPicks(); // a new process: the store answers, nothing is timed
      await run(s, 23);
      expect(tuneRunCount() - before).toBe(2);
    } finally {
      setMatmulTuning({ candidates: undefined, store: undefined });
      clearMatmulPicks();
    }
  });

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
    await expect(matmul(rt, { a: A, b: B, c: C, M: 4, N: 4, K: 4, biasGrad: A })).rejects.toThrow(/biasGrad may not alias 'A'/);
  });
});
