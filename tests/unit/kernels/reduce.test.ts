import { describe, expect, it } from 'vitest';
import { sumChunkGroups, sumSquaresChunks } from '../../../src/kernels/reduce.ts';
import { TOL } from '../../../src/kernels/tolerances.ts';
import * as reference from '../../../src/model/reference/index.ts';
import { gpu, randomF32, rng, withGridLimit } from '../helpers/gpu.ts';

// sumSquaresChunks is pass 1 of the optimizer's gradient norm (adamwPrepare adds the partials in order); the
// optimizer's own test (adamw.test.ts) covers the two passes together.
describe('sumSquaresChunks', () => {
  it('writes partials whose sum is Σx², at an offset, for sizes from 1 to 3M (one to 4096 workgroups)', async () => {
    const rt = await gpu();
    const r = rng(99);
    for (const n of [1, 255, 1024, 1025, 70001, 3_000_001]) {
      const x = randomF32(n, r, 0.1);
      const X = await rt.pool.upload(x, [n], 'x');
      const groups = sumChunkGroups(n);
      const offset = 3;
      const init = new Float32Array(offset + groups + 2).fill(7); // what lies outside the partials stays
      const out = await rt.pool.upload(init, [init.length], 'partials');
      expect(await sumSquaresChunks(rt, { x: X, out, outOffset: offset })).toBe(groups);
      const got = await rt.readF32(out.buffer);
      const sum = got.subarray(offset, offset + groups).reduce((a, b) => a + b, 0);
      const want = reference.globalNorm([x]) ** 2;
      console.log(`[sumSquaresChunks] n=${n}: ${groups} partials, relative error of their sum ${(Math.abs(sum - want) / want).toExponential(2)}`);
      expect(Math.abs(sum - want) / want).toBeLessThan(TOL.f32Reduction);
      expect([...got.subarray(0, offset), ...got.subarray(offset + groups)]).toEqual([7, 7, 7, 7, 7]);
      rt.pool.release(X);
      rt.pool.release(out);
    }
  });

  it('is deterministic and uses a 2-D grid past the per-dimension limit', async () => {
    const rt = await gpu();
    const n = 8000; // 8 workgroups: a 3 x 3 grid under the limit, one workgroup idle
    const x = randomF32(n, rng(4));
    const X = await rt.pool.upload(x, [n], 'x');
    const A = await rt.pool.tensor([sumChunkGroups(n)], 'a');
    const B = await rt.pool.tensor([sumChunkGroups(n)], 'b');
    await sumSquaresChunks(rt, { x: X, out: A });
    await withGridLimit(rt, 3, () => sumSquaresChunks(rt, { x: X, out: B }));
    expect(await rt.readF32(B.buffer)).toEqual(await rt.readF32(A.buffer));
    for (const t of [X, A, B]) rt.pool.release(t);
  });

  it('propagates NaN, and rejects an output too small, naming the kernel', async () => {
    const rt = await gpu();
    const x = randomF32(5000, rng(3));
    x[17] = NaN;
    const X = await rt.pool.upload(x, [x.length], 'x');
    const out = await rt.pool.tensor([sumChunkGroups(x.length)], 'partials');
    await sumSquaresChunks(rt, { x: X, out });
    expect((await rt.readF32(out.buffer))[0]).toBeNaN();
    await expect(sumSquaresChunks(rt, { x: X, out, outOffset: 1 })).rejects.toThrow(/\[sumSquaresChunks\] out 'partials' has 5 elements/);
    await expect(sumSquaresChunks(rt, { x: out, out })).rejects.toThrow(/\[sumSquaresChunks\] output 'partials' may not alias/);
    for (const t of [X, out]) rt.pool.release(t);
  });
});
