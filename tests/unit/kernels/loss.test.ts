import { describe, expect, it } from 'vitest';
import { bceWithLogits, listwiseCE } from '../../../src/kernels/loss.ts';
import { bceWithLogitsRef, listwiseSoftmaxRef } from '../../../src/model/reference/losses.ts';
import { TOL, maxRelErr } from '../../../src/kernels/tolerances.ts';
import { gpu, randomF32, rng } from '../helpers/gpu.ts';

/** The loss must match float64 to 1e-7, or to one f32 ulp of the value where that is coarser (losses above 2). */
function lossBound(ref: number): number {
  return Math.max(1e-7, Math.abs(ref) * 2 ** -23);
}

describe('bceWithLogits', () => {
  const cases = [
    { n: 1, scale: 2, soft: false },
    { n: 7, scale: 4, soft: false },
    { n: 255, scale: 8, soft: true },
    { n: 257, scale: 1, soft: false },
    { n: 1000, scale: 6, soft: true },
    { n: 4099, scale: 3, soft: false },
    { n: 3000, scale: 30, soft: false }, // confident logits: exp(-|x|) is tiny, sigmoid saturates
  ];
  for (const c of cases) {
    it(`n=${c.n} logit scale ${c.scale}${c.soft ? ' soft labels' : ''}`, async () => {
      const rt = await gpu();
      const r = rng(c.n * 13 + c.scale);
      const x = randomF32(c.n, r, c.scale);
      const y = new Float32Array(c.n).map(() => (c.soft ? Math.fround(r()) : r() < 0.3 ? 1 : 0));
      const gradScale = 0.25;
      const X = await rt.pool.upload(x, [c.n], 'logits');
      const Y = await rt.pool.upload(y, [c.n], 'labels');
      const L = await rt.pool.upload(new Float32Array([5, 5, 5]), [3], 'loss');
      const D = await rt.pool.tensor([c.n], 'dlogits');
      await bceWithLogits(rt, { logits: X, labels: Y, loss: L, dlogits: D, n: c.n, lossOffset: 1, gradScale });
      const loss = await rt.readF32(L.buffer);
      const want = bceWithLogitsRef(x, y, 1, gradScale);
      const lossErr = Math.abs(loss[1] - want.loss);
      const gradErr = maxRelErr(await rt.readF32(D.buffer), want.dLogits);
      console.log(`[bce] n=${c.n}: loss ${loss[1]} vs ${want.loss}, abs err ${lossErr.toExponential(2)}; dlogits max rel err ${gradErr.toExponential(2)}`);
      expect(lossErr).toBeLessThanOrEqual(lossBound(want.loss));
      expect(gradErr).toBeLessThan(TOL.f32);
      expect([loss[0], loss[2]]).toEqual([5, 5]); // other slots untouched
      for (const t of [X, Y, L, D]) rt.pool.release(t);
    });
  }

  // torch's BCEWithLogitsLoss(pos_weight=w): the sentence-transformers v4 recipe sets w to the negatives per positive.
  for (const c of [
    { n: 64, scale: 4, soft: false, posWeight: 7 },
    { n: 300, scale: 2, soft: true, posWeight: 3.5 },
    { n: 1000, scale: 30, soft: false, posWeight: 15 },
    { n: 9, scale: 3, soft: false, posWeight: 0.25 },
  ]) {
    it(`n=${c.n} logit scale ${c.scale}${c.soft ? ' soft labels' : ''} pos_weight ${c.posWeight}`, async () => {
      const rt = await gpu();
      const r = rng(c.n * 7 + c.scale);
      const x = randomF32(c.n, r, c.scale);
      const y = new Float32Array(c.n).map(() => (c.soft ? Math.fround(r()) : r() < 0.2 ? 1 : 0));
      const X = await rt.pool.upload(x, [c.n], 'logits');
      const Y = await rt.pool.upload(y, [c.n], 'labels');
      const L = await rt.pool.tensor([1], 'loss');
      const D = await rt.pool.tensor([c.n], 'dlogits');
      await bceWithLogits(rt, { logits: X, labels: Y, loss: L, dlogits: D, n: c.n, posWeight: c.posWeight });
      const loss = (await rt.readF32(L.buffer))[0];
      const want = bceWithLogitsRef(x, y, c.posWeight);
      // torch's definition, term by term: −[w·y·log σ(x) + (1−y)·log(1−σ(x))]
      const torchLoss = Array.from(x).reduce((a, xi, i) => a - (c.posWeight * y[i] * Math.log(1 / (1 + Math.exp(-xi))) + (1 - y[i]) * Math.log(1 / (1 + Math.exp(xi)))), 0) / c.n;
      expect(Math.abs(want.loss - torchLoss)).toBeLessThan(1e-9 * Math.max(1, torchLoss));
      const gradErr = maxRelErr(await rt.readF32(D.buffer), want.dLogits);
      console.log(`[bce pos_weight ${c.posWeight}] n=${c.n}: loss ${loss} vs ${want.loss}; dlogits max rel err ${gradErr.toExponential(2)}`);
      expect(Math.abs(loss - want.loss)).toBeLessThanOrEqual(lossBound(want.loss));
      expect(gradErr).toBeLessThan(TOL.f32);
      // and it is not plain BCE
      expect(Math.abs(want.loss - bceWithLogitsRef(x, y).loss)).toBeGreaterThan(1e-3);
      for (const t of [X, Y, L, D]) rt.pool.release(t);
    });
  }

  it('rejects bad sizes and aliasing, naming the kernel', async () => {
    const rt = await gpu();
    const X = await rt.pool.tensor([8], 'logits');
    const Y = await rt.pool.tensor([4], 'labels');
    const L = await rt.pool.tensor([1], 'loss');
    await expect(bceWithLogits(rt, { logits: X, labels: Y, loss: L, dlogits: X, n: 4 })).rejects.toThrow(/\[bceWithLogits\] dlogits 'logits' may not alias/);
    const D = await rt.pool.tensor([8], 'd');
    await expect(bceWithLogits(rt, { logits: X, labels: Y, loss: L, dlogits: D, n: 8 })).rejects.toThrow(/\[bceWithLogits\] labels 'labels' has 4 elements/);
    await expect(bceWithLogits(rt, { logits: X, labels: Y, loss: L, dlogits: D, n: 4, lossOffset: 1 })).rejects.toThrow(/\[bceWithLogits\] loss 'loss' has 1 elements/);
    await expect(bceWithLogits(rt, { logits: X, labels: Y, loss: L, dlogits: D, n: 4, posWeight: 0 })).rejects.toThrow(/\[bceWithLogits\] posWeight must be a positive number/);
  });
});

describe('listwiseCE', () => {
  const cases = [
    { groups: 1, g: 2, scale: 1 },
    { groups: 3, g: 8, scale: 4 },
    { groups: 16, g: 16, scale: 5 },
    { groups: 255, g: 5, scale: 3 },
    { groups: 300, g: 9, scale: 2 },
    { groups: 64, g: 33, scale: 20 },
  ];
  for (const c of cases) {
    it(`groups=${c.groups} groupSize=${c.g} logit scale ${c.scale}`, async () => {
      const rt = await gpu();
      const r = rng(c.groups * 101 + c.g);
      const z = randomF32(c.groups * c.g, r, c.scale);
      const gradScale = 0.5;
      const Z = await rt.pool.upload(z, [c.groups, c.g], 'logits');
      const L = await rt.pool.tensor([2], 'loss');
      const D = await rt.pool.tensor([c.groups, c.g], 'dlogits');
      await listwiseCE(rt, { logits: Z, loss: L, dlogits: D, groups: c.groups, groupSize: c.g, lossOffset: 1, gradScale });
      const loss = (await rt.readF32(L.buffer))[1];
      const want = listwiseSoftmaxRef(z, c.g, gradScale);
      const lossErr = Math.abs(loss - want.loss);
      const gradErr = maxRelErr(await rt.readF32(D.buffer), want.dLogits);
      console.log(`[listwise] ${c.groups}x${c.g}: loss ${loss} vs ${want.loss}, abs err ${lossErr.toExponential(2)}; dlogits max rel err ${gradErr.toExponential(2)}`);
      expect(lossErr).toBeLessThanOrEqual(lossBound(want.loss));
      expect(gradErr).toBeLessThan(TOL.f32);
      for (const t of [Z, L, D]) rt.pool.release(t);
    });
  }

  it('gives a dominant positive a gradient near zero, without cancellation', async () => {
    const rt = await gpu();
    const z = new Float32Array([12, -3, -4, 0.5, 9, 8, 8.5, 7]); // group 0: positive far ahead; group 1 mixed
    const Z = await rt.pool.upload(z, [2, 4], 'logits');
    const L = await rt.pool.tensor([1], 'loss');
    const D = await rt.pool.tensor([2, 4], 'dlogits');
    await listwiseCE(rt, { logits: Z, loss: L, dlogits: D, groups: 2, groupSize: 4 });
    const d = await rt.readF32(D.buffer);
    const want = listwiseSoftmaxRef(z, 4);
    // Relative accuracy of the tiny positive gradient itself (~-5e-6), not just relative to the largest one.
    expect(Math.abs(d[0] - want.dLogits[0]) / Math.abs(want.dLogits[0])).toBeLessThan(1e-6);
  });

  it('rejects a group without negatives, naming the kernel', async () => {
    const rt = await gpu();
    const Z = await rt.pool.tensor([4], 'logits');
    const L = await rt.pool.tensor([1], 'loss');
    const D = await rt.pool.tensor([4], 'd');
    await expect(listwiseCE(rt, { logits: Z, loss: L, dlogits: D, groups: 4, groupSize: 1 })).rejects.toThrow(/\[listwiseCE\] groupSize must be an integer >= 2/);
    await expect(listwiseCE(rt, { logits: Z, loss: L, dlogits: D, groups: 3, groupSize: 2 })).rejects.toThrow(/\[listwiseCE\] logits 'logits' has 4 elements/);
  });
});
