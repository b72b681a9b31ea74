import { describe, expect, it } from 'vitest';
import {
  colSum,
  colSumRef,
  globalNorm,
  globalNormRef,
  rowMax,
  rowMaxRef,
  rowSum,
  rowSumRef,
  sumPartials,
  sumSquaresInto,
  sumSquaresRef,
} from '../../../src/kernels/reduce.ts';
import { TOL, maxRelErr } from '../../../src/kernels/tolerances.ts';
import { gpu, randomF32, rng } from '../helpers/gpu.ts';

// Shapes around the thread counts (32..256 per row, 64-column x 256-row blocks), most of them not multiples.
const rowCases = [
  { rows: 1, cols: 1 },
  { rows: 3, cols: 31 },
  { rows: 7, cols: 33 },
  { rows: 5, cols: 257 },
  { rows: 2, cols: 1000 },
  { rows: 130, cols: 77 },
];

describe('rowSum / rowMax', () => {
  for (const s of rowCases) {
    it(`rows=${s.rows} cols=${s.cols}`, async () => {
      const rt = await gpu();
      const x = randomF32(s.rows * s.cols, rng(s.rows * 7919 + s.cols), 3);
      const X = await rt.pool.upload(x, [s.rows, s.cols], 'x');
      const S = await rt.pool.tensor([s.rows], 'sum');
      const M = await rt.pool.tensor([s.rows], 'max');
      await rowSum(rt, { x: X, out: S, ...s });
      await rowMax(rt, { x: X, out: M, ...s });
      const sumErr = maxRelErr(await rt.readF32(S.buffer), rowSumRef(x, s.rows, s.cols));
      const maxErr = maxRelErr(await rt.readF32(M.buffer), rowMaxRef(x, s.rows, s.cols));
      expect(sumErr).toBeLessThan(TOL.f32);
      expect(maxErr).toBe(0); // max is exact
      for (const t of [X, S, M]) rt.pool.release(t);
    });
  }

  it('handles more than 65535 rows through a 2-D grid (70001 x 3)', async () => {
    const rt = await gpu();
    const [rows, cols] = [70001, 3];
    const x = randomF32(rows * cols, rng(11));
    const X = await rt.pool.upload(x, [rows, cols], 'x');
    const S = await rt.pool.tensor([rows], 'sum');
    const M = await rt.pool.tensor([rows], 'max');
    await rowSum(rt, { x: X, out: S, rows, cols });
    await rowMax(rt, { x: X, out: M, rows, cols });
    const sum = await rt.readF32(S.buffer);
    const max = await rt.readF32(M.buffer);
    expect(maxRelErr(sum, rowSumRef(x, rows, cols))).toBeLessThan(TOL.f32);
    expect(maxRelErr(max, rowMaxRef(x, rows, cols))).toBe(0);
    // The last rows are the ones a 1-D grid would have dropped.
    expect(sum[rows - 1]).toBeCloseTo(x[3 * rows - 3] + x[3 * rows - 2] + x[3 * rows - 1], 5);
    for (const t of [X, S, M]) rt.pool.release(t);
  });

  it('keeps -Infinity and all-negative rows exact in rowMax', async () => {
    const rt = await gpu();
    const x = new Float32Array([-5, -Infinity, -7, -Infinity, -Infinity, -Infinity]);
    const X = await rt.pool.upload(x, [2, 3], 'x');
    const M = await rt.pool.tensor([2], 'max');
    await rowMax(rt, { x: X, out: M, rows: 2, cols: 3 });
    expect(Array.from(await rt.readF32(M.buffer))).toEqual([-5, -Infinity]);
  });

  it('rejects shapes that do not fit, naming the kernel', async () => {
    const rt = await gpu();
    const X = await rt.pool.tensor([4, 4], 'x');
    const O = await rt.pool.tensor([3], 'o');
    await expect(rowSum(rt, { x: X, out: O, rows: 4, cols: 4 })).rejects.toThrow(/\[rowSum\] out 'o' has 3 elements/);
    await expect(rowMax(rt, { x: X, out: X, rows: 1, cols: 4 })).rejects.toThrow(/\[rowMax\] output 'x' may not alias/);
    await expect(rowSum(rt, { x: X, out: O, rows: 0, cols: 4 })).rejects.toThrow(/\[rowSum\] rows must be a positive integer/);
  });
});

describe('colSum', () => {
  const cases = [
    { rows: 1, cols: 1, accumulate: false },
    { rows: 255, cols: 65, accumulate: true }, // one block, direct
    { rows: 257, cols: 63, accumulate: false }, // two blocks
    { rows: 1000, cols: 130, accumulate: true },
    { rows: 8192, cols: 33, accumulate: true }, // a batch x length of bias gradients
    { rows: 70001, cols: 2, accumulate: false },
  ];
  for (const s of cases) {
    it(`rows=${s.rows} cols=${s.cols} accumulate=${s.accumulate}`, async () => {
      const rt = await gpu();
      const r = rng(s.rows + 31 * s.cols);
      const x = randomF32(s.rows * s.cols, r);
      const o0 = randomF32(s.cols, r, 10);
      const X = await rt.pool.upload(x, [s.rows, s.cols], 'dY');
      const O = await rt.pool.upload(o0, [s.cols], 'db');
      await colSum(rt, { x: X, out: O, rows: s.rows, cols: s.cols, accumulate: s.accumulate });
      const got = await rt.readF32(O.buffer);
      const err = maxRelErr(got, colSumRef(x, s.rows, s.cols, s.accumulate ? o0 : undefined));
      expect(err).toBeLessThan(TOL.f32Reduction);
      for (const t of [X, O]) rt.pool.release(t);
    });
  }

  it('is deterministic: the same input gives the same bits twice', async () => {
    const rt = await gpu();
    const [rows, cols] = [3000, 50];
    const x = randomF32(rows * cols, rng(5));
    const X = await rt.pool.upload(x, [rows, cols], 'dY');
    const A = await rt.pool.tensor([cols], 'a');
    const B = await rt.pool.tensor([cols], 'b');
    await colSum(rt, { x: X, out: A, rows, cols });
    await colSum(rt, { x: X, out: B, rows, cols });
    expect(await rt.readF32(A.buffer)).toEqual(await rt.readF32(B.buffer));
  });
});

describe('sum of squares and global norm', () => {
  it('writes each tensor into its slot and sums the slots (sizes from 1 to 3M)', async () => {
    const rt = await gpu();
    const r = rng(99);
    const sizes = [1, 255, 1024, 1025, 70001, 3_000_001];
    const xs = sizes.map((n) => randomF32(n, r, 0.1));
    const tensors = await Promise.all(xs.map((x, i) => rt.pool.upload(x, [x.length], `g${i}`)));
    // slots 0 and 1 stay as uploaded (7 and 0): sumPartials must add exactly what is there
    const init = new Float32Array(sizes.length + 2);
    init[0] = 7;
    const partials = await rt.pool.upload(init, [init.length], 'partials');
    for (let i = 0; i < sizes.length; i++) await sumSquaresInto(rt, { x: tensors[i], partials, slot: i + 2 });
    const got = await rt.readF32(partials.buffer);
    const slotErrs = sizes.map((_, i) => Math.abs(got[i + 2] - sumSquaresRef(xs[i])) / sumSquaresRef(xs[i]));
    console.log(`[sumSquaresInto] max relative error over slots: ${Math.max(...slotErrs).toExponential(2)}`);
    for (const e of slotErrs) expect(e).toBeLessThan(TOL.f32Reduction);

    const out = await rt.pool.tensor([2], 'total');
    await sumPartials(rt, { partials, count: sizes.length + 2, out, outIndex: 1 });
    const total = xs.reduce((s, x) => s + sumSquaresRef(x), 0);
    const gotTotal = (await rt.readF32(out.buffer))[1];
    expect(Math.abs(gotTotal - (total + 7)) / (total + 7)).toBeLessThan(TOL.f32Reduction);

    const norms = await rt.pool.tensor([sizes.length], 'partials2');
    await globalNorm(rt, { tensors, partials: norms, out, outIndex: 0 });
    const norm = (await rt.readF32(out.buffer))[0];
    const normErr = Math.abs(norm - globalNormRef(xs)) / globalNormRef(xs);
    console.log(`[globalNorm] ${norm} vs float64 ${globalNormRef(xs)}: relative error ${normErr.toExponential(2)}`);
    expect(normErr).toBeLessThan(TOL.f32);
    expect(Math.abs(norm * norm - total) / total).toBeLessThan(TOL.f32Reduction);
    for (const t of [...tensors, partials, out, norms]) rt.pool.release(t);
  });

  it('sums more partials than one pass holds, and propagates NaN', async () => {
    const rt = await gpu();
    const p = randomF32(5000, rng(3));
    const P = await rt.pool.upload(p, [p.length], 'partials');
    const out = await rt.pool.tensor([1], 'out');
    await sumPartials(rt, { partials: P, count: 4999, out });
    const want = Array.from(p.subarray(0, 4999)).reduce((a, b) => a + b, 0);
    expect(Math.abs((await rt.readF32(out.buffer))[0] - want)).toBeLessThan(1e-4);

    p[17] = NaN;
    const Q = await rt.pool.upload(p, [p.length], 'withNaN');
    await sumSquaresInto(rt, { x: Q, partials: out, slot: 0 });
    expect((await rt.readF32(out.buffer))[0]).toBeNaN();
  });

  it('rejects a slot outside the partials buffer, naming the kernel', async () => {
    const rt = await gpu();
    const X = await rt.pool.tensor([10], 'x');
    const P = await rt.pool.tensor([4], 'partials');
    await expect(sumSquaresInto(rt, { x: X, partials: P, slot: 4 })).rejects.toThrow(/\[sumSquaresInto\] partials 'partials' has 4 elements/);
    await expect(sumPartials(rt, { partials: P, count: 5, out: X })).rejects.toThrow(/\[sumPartials\]/);
  });
});
