import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../../src/gpu/buffers.ts';
import { adamwRef, adamwStep } from '../../../src/kernels/adamw.ts';
import type { AdamwState } from '../../../src/kernels/adamw.ts';
import { globalNorm, globalNormRef } from '../../../src/kernels/reduce.ts';
import { TOL, maxRelErr } from '../../../src/kernels/tolerances.ts';
import { gpu, randomF32, rng } from '../helpers/gpu.ts';

// eps large enough that putting it inside the square root (not torch's formula) would show in the figures.
const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-3 };

interface Param {
  name: string;
  weightDecay: number;
  p: Tensor;
  g: Tensor;
  m: Tensor;
  v: Tensor;
  ref: AdamwState;
  p0: Float32Array;
}

describe('adamwStep', () => {
  it('matches float64 AdamW over three steps (decay and no-decay groups, max_norm above the norm on step 2, clipping on step 3)', async () => {
    const rt = await gpu();
    const r = rng(2024);
    // A weight, a bias (no decay) and a tensor large enough for many workgroups; sizes not multiples of 256.
    const specs = [
      { name: 'dense.weight', n: 37 * 53, weightDecay: 0.01 },
      { name: 'dense.bias', n: 53, weightDecay: 0 },
      { name: 'embeddings', n: 70_001, weightDecay: 0.1 },
    ];
    const params: Param[] = [];
    for (const s of specs) {
      const p0 = randomF32(s.n, r, 0.5);
      params.push({
        name: s.name,
        weightDecay: s.weightDecay,
        p: await rt.pool.upload(p0, [s.n], s.name),
        g: await rt.pool.tensor([s.n], `${s.name}.grad`),
        m: await rt.pool.upload(new Float32Array(s.n), [s.n], `${s.name}.m`),
        v: await rt.pool.upload(new Float32Array(s.n), [s.n], `${s.name}.v`),
        p0,
        ref: { p: Float64Array.from(p0), m: new Float64Array(s.n), v: new Float64Array(s.n), applied: true },
      });
    }
    const partials = await rt.pool.tensor([params.length], 'norm.partials');
    const norm = await rt.pool.tensor([1], 'grad.norm');

    for (let step = 1; step <= 3; step++) {
      // Fresh gradients. Step 1: no norm (plain AdamW). Step 2: max_norm above the norm, where the coefficient
      // max_norm/(norm+1e-6) > 1 must be clamped to 1. Step 3: max_norm at a tenth of the norm, so clipping scales.
      const grads = params.map((q) => randomF32(numelOf(q.p), r, step === 3 ? 3 : 1));
      params.forEach((q, i) => rt.write(q.g.buffer, grads[i]));
      const totalNorm = globalNormRef(grads);
      const maxNorm = step === 1 ? undefined : totalNorm * (step === 2 ? 2 : 0.1);
      if (step > 1) await globalNorm(rt, { tensors: params.map((q) => q.g), partials, out: norm });
      for (const [i, q] of params.entries()) {
        const h = { ...hyper, weightDecay: q.weightDecay, step };
        await adamwStep(rt, { ...h, p: q.p, g: q.g, m: q.m, v: q.v, norm: step > 1 ? norm : undefined, maxNorm, zeroGrad: true });
        q.ref = adamwRef({ ...h, p: q.ref.p, g: grads[i], m: q.ref.m, v: q.ref.v, totalNorm: step > 1 ? totalNorm : undefined, maxNorm });
      }
      if (step > 1) {
        const gpuNorm = (await rt.readF32(norm.buffer))[0];
        expect(Math.abs(gpuNorm - totalNorm) / totalNorm).toBeLessThan(TOL.f32);
      }
      for (const q of params) {
        const [p, m, v, g] = await Promise.all([q.p, q.m, q.v, q.g].map((t) => rt.readF32(t.buffer)));
        const errs = { p: maxRelErr(p, q.ref.p), m: maxRelErr(m, q.ref.m), v: maxRelErr(v, q.ref.v) };
        console.log(`[adamw] step ${step} ${q.name}: max rel err p ${errs.p.toExponential(2)}, m ${errs.m.toExponential(2)}, v ${errs.v.toExponential(2)}${maxNorm ? ` (max_norm ${(maxNorm / totalNorm).toFixed(1)} x norm)` : ''}`);
        expect(errs.p).toBeLessThan(TOL.f32);
        expect(errs.m).toBeLessThan(TOL.f32);
        expect(errs.v).toBeLessThan(TOL.f32);
        expect(g.every((x) => x === 0)).toBe(true); // zeroGrad
      }
    }
    // The update itself (p - p0 is ~lr, far below p's own size) must match too, not only p: a wrong step size or
    // bias correction would hide under p's magnitude in the figures above.
    for (const q of params) {
      const p = await rt.readF32(q.p.buffer);
      const got = p.map((x, i) => x - q.p0[i]);
      const want = q.ref.p.map((x, i) => x - q.p0[i]);
      const err = maxRelErr(got, want);
      console.log(`[adamw] ${q.name}: update p - p0 after three steps, max rel err ${err.toExponential(2)}`);
      expect(err).toBeLessThan(TOL.f32Reduction);
    }
  });

  for (const bad of [NaN, Infinity]) {
    it(`leaves p, m and v untouched when the gradient norm is ${bad}, and still zeroes the gradient`, async () => {
      const rt = await gpu();
      const r = rng(77);
      const n = [300, 1000];
      const ts = [];
      for (const k of n) {
        const init = [randomF32(k, r), randomF32(k, r, 0.1), randomF32(k, r, 0.01).map(Math.abs)];
        ts.push({
          init,
          p: await rt.pool.upload(init[0], [k], 'p'),
          m: await rt.pool.upload(init[1], [k], 'm'),
          v: await rt.pool.upload(init[2], [k], 'v'),
          g: await rt.pool.upload(randomF32(k, r), [k], 'g'),
        });
      }
      const gBad = randomF32(n[1], r);
      gBad[123] = bad;
      rt.write(ts[1].g.buffer, gBad);
      const partials = await rt.pool.tensor([2], 'partials');
      const norm = await rt.pool.tensor([1], 'norm');
      await globalNorm(rt, { tensors: ts.map((t) => t.g), partials, out: norm });
      for (const t of ts) {
        await adamwStep(rt, { ...hyper, weightDecay: 0.01, step: 4, p: t.p, g: t.g, m: t.m, v: t.v, norm, maxNorm: 1, zeroGrad: true });
      }
      const nrm = (await rt.readF32(norm.buffer))[0];
      expect(Number.isFinite(nrm)).toBe(false); // what the trainer reads back to report the skipped step
      for (const t of ts) {
        expect(await rt.readF32(t.p.buffer)).toEqual(t.init[0]);
        expect(await rt.readF32(t.m.buffer)).toEqual(t.init[1]);
        expect(await rt.readF32(t.v.buffer)).toEqual(t.init[2]);
        expect((await rt.readF32(t.g.buffer)).every((x) => x === 0)).toBe(true);
      }
    });
  }

  it('rejects bad hyperparameters and shapes, naming the kernel', async () => {
    const rt = await gpu();
    const [p, g, m, v] = await Promise.all(['p', 'g', 'm', 'v'].map((l) => rt.pool.tensor([8], l)));
    const short = await rt.pool.tensor([4], 'short');
    const h = { ...hyper, weightDecay: 0, step: 1 };
    await expect(adamwStep(rt, { ...h, p, g, m: short, v })).rejects.toThrow(/\[adamwStep\] m 'short' has 4 elements/);
    await expect(adamwStep(rt, { ...h, step: 0, p, g, m, v })).rejects.toThrow(/\[adamwStep\] step must be an integer >= 1/);
    await expect(adamwStep(rt, { ...h, p, g: p, m, v })).rejects.toThrow(/\[adamwStep\] .*four separate buffers/);
    await expect(adamwStep(rt, { ...h, p, g, m, v, maxNorm: 1 })).rejects.toThrow(/\[adamwStep\] maxNorm .*needs the norm buffer/);
  });
});

function numelOf(t: Tensor): number {
  return t.shape.reduce((a, b) => a * b, 1);
}
