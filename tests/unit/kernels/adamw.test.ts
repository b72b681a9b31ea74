import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../../src/gpu/buffers.ts';
import type { GpuRuntime } from '../../../src/gpu/runtime.ts';
import { STATE, STATE_WORDS, adamwApply, adamwPrepare, adamwTable } from '../../../src/kernels/adamw.ts';
import { sumSquaresChunks } from '../../../src/kernels/reduce.ts';
import { TOL, maxRelErr } from '../../../src/kernels/tolerances.ts';
import * as reference from '../../../src/model/reference/index.ts';
import { gpu, randomF32, rng } from '../helpers/gpu.ts';

// eps large enough that putting it inside the square root (not torch's formula) would show in the figures.
const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-3 };
const PER = 128; // partial slots per tensor (sumChunkGroups(70_001) = 69)

interface Param {
  name: string;
  weightDecay: number;
  p: Tensor;
  g: Tensor;
  m: Tensor;
  v: Tensor;
  /** The float64 reference's p, m, v. */
  ref: { p: Float64Array; m: Float64Array; v: Float64Array };
  p0: Float32Array;
}

/** The float64 reference of AdamW step `step` on q, with its gradient already clipped. */
function referenceStep(q: Param, g: ArrayLike<number>, step: number, lr: number): void {
  reference.adamwTensorStep(q.ref.p, g, q.ref.m, q.ref.v, step, { ...hyper, lr, weightDecay: q.weightDecay });
}

async function makeParams(rt: GpuRuntime, specs: { name: string; n: number; weightDecay: number }[], r: () => number): Promise<Param[]> {
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
      ref: { p: Float64Array.from(p0), m: new Float64Array(s.n), v: new Float64Array(s.n) },
    });
  }
  return params;
}

/** Records one optimizer update the way src/train/optimizer.ts does: partial sums, prepare, one apply per tensor. */
async function update(rt: GpuRuntime, params: Param[], state: Tensor, partials: Tensor, lr: number, count: number, inFlight: number, maxNorm?: number): Promise<void> {
  rt.write(state.buffer, adamwTable({ ...hyper, lr }, count, inFlight), STATE.base * 4);
  for (const [i, q] of params.entries()) await sumSquaresChunks(rt, { x: q.g, out: partials, outOffset: i * PER });
  await adamwPrepare(rt, { partials, count: params.length * PER, state, maxNorm });
  for (const q of params) await adamwApply(rt, { ...hyper, lr, weightDecay: q.weightDecay, p: q.p, g: q.g, m: q.m, v: q.v, state });
}

async function freshState(rt: GpuRuntime, n: number): Promise<{ state: Tensor; partials: Tensor }> {
  const state = await rt.pool.upload(new Uint32Array(STATE_WORDS), [STATE_WORDS], 'adamw.state');
  const partials = await rt.pool.upload(new Float32Array(n * PER), [n * PER], 'norm.partials');
  return { state, partials };
}

async function readState(rt: GpuRuntime, state: Tensor): Promise<{ norm: number; count: number; applied: boolean }> {
  const buf = await rt.read(state.buffer, STATE_WORDS * 4);
  const u = new Uint32Array(buf);
  return { norm: new Float32Array(buf)[STATE.norm], count: u[STATE.count], applied: u[STATE.apply] === 1 };
}

function numelOf(t: Tensor): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

describe('adamw', () => {
  it('matches float64 AdamW over three steps (decay and no-decay groups, max_norm above the norm on step 2, clipping on step 3)', async () => {
    const rt = await gpu();
    const r = rng(2024);
    // A weight, a bias (no decay) and a tensor large enough for many workgroups; sizes not multiples of 256.
    const params = await makeParams(rt, [
      { name: 'dense.weight', n: 37 * 53, weightDecay: 0.01 },
      { name: 'dense.bias', n: 53, weightDecay: 0 },
      { name: 'embeddings', n: 70_001, weightDecay: 0.1 },
    ], r);
    const { state, partials } = await freshState(rt, params.length);

    for (let step = 1; step <= 3; step++) {
      // Fresh gradients. Step 1: no clipping. Step 2: max_norm above the norm, where the coefficient
      // max_norm/(norm+1e-6) > 1 must be clamped to 1. Step 3: max_norm at a tenth of the norm, so clipping scales.
      const grads = params.map((q) => randomF32(numelOf(q.p), r, step === 3 ? 3 : 1));
      params.forEach((q, i) => rt.write(q.g.buffer, grads[i]));
      const totalNorm = reference.globalNorm(grads);
      const maxNorm = step === 1 ? undefined : totalNorm * (step === 2 ? 2 : 0.1);
      await update(rt, params, state, partials, hyper.lr, step - 1, 0, maxNorm);
      const clipped = new Map(grads.map((g, i) => [String(i), Float64Array.from(g)]));
      if (maxNorm !== undefined) reference.clipGradNormRef(clipped, maxNorm);
      for (const [i, q] of params.entries()) referenceStep(q, clipped.get(String(i))!, step, hyper.lr);
      const st = await readState(rt, state);
      expect(Math.abs(st.norm - totalNorm) / totalNorm).toBeLessThan(TOL.f32);
      expect(st).toMatchObject({ count: step, applied: true });
      for (const q of params) {
        const [p, m, v, g] = await Promise.all([q.p, q.m, q.v, q.g].map((t) => rt.readF32(t.buffer)));
        const errs = { p: maxRelErr(p, q.ref.p), m: maxRelErr(m, q.ref.m), v: maxRelErr(v, q.ref.v) };
        console.log(`[adamw] step ${step} ${q.name}: max rel err p ${errs.p.toExponential(2)}, m ${errs.m.toExponential(2)}, v ${errs.v.toExponential(2)}${maxNorm ? ` (max_norm ${(maxNorm / totalNorm).toFixed(1)} x norm)` : ''}`);
        expect(errs.p).toBeLessThan(TOL.f32);
        expect(errs.m).toBeLessThan(TOL.f32);
        expect(errs.v).toBeLessThan(TOL.f32);
        expect(g.every((x) => x === 0)).toBe(true); // gradients zeroed for the next accumulation
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
    it(`leaves p, m, v and the step count untouched when the gradient norm is ${bad}, and still zeroes the gradient`, async () => {
      const rt = await gpu();
      const r = rng(77);
      const params = await makeParams(rt, [
        { name: 'a', n: 300, weightDecay: 0.01 },
        { name: 'b', n: 1000, weightDecay: 0 },
      ], r);
      const init = [];
      for (const q of params) {
        const m = randomF32(numelOf(q.p), r, 0.1);
        const v = randomF32(numelOf(q.p), r, 0.01).map(Math.abs);
        rt.write(q.m.buffer, m);
        rt.write(q.v.buffer, v);
        init.push({ m, v });
        const g = randomF32(numelOf(q.p), r);
        if (q.name === 'b') g[123] = bad;
        rt.write(q.g.buffer, g);
      }
      const { state, partials } = await freshState(rt, params.length);
      rt.write(state.buffer, Uint32Array.of(3), STATE.count * 4); // three updates applied before
      await update(rt, params, state, partials, hyper.lr, 3, 0, 1);
      const st = await readState(rt, state);
      expect(Number.isFinite(st.norm)).toBe(false); // what the trainer reads back to report the skipped step
      expect(st).toMatchObject({ count: 3, applied: false });
      for (const [i, q] of params.entries()) {
        expect(await rt.readF32(q.p.buffer)).toEqual(q.p0);
        expect(await rt.readF32(q.m.buffer)).toEqual(init[i].m);
        expect(await rt.readF32(q.v.buffer)).toEqual(init[i].v);
        expect((await rt.readF32(q.g.buffer)).every((x) => x === 0)).toBe(true);
      }
    });
  }

  it('picks the bias correction of the step count it finds on the GPU, when the CPU has not read the last reports yet', async () => {
    // Three updates recorded back to back, nothing read in between (how the trainer runs): the second one's
    // gradients hold a NaN, so the third is AdamW step 2, not 3. The CPU wrote rows for steps 1..3 (count 0, two
    // updates in flight); the GPU's count picks the row.
    const rt = await gpu();
    const r = rng(5);
    const params = await makeParams(rt, [{ name: 'w', n: 777, weightDecay: 0.01 }], r);
    const { state, partials } = await freshState(rt, 1);
    const q = params[0];
    let applied = 0;
    for (let u = 0; u < 3; u++) {
      const g = randomF32(777, r);
      if (u === 1) g[5] = NaN;
      rt.write(q.g.buffer, g);
      const lr = 1e-2 * (u + 1); // the schedule moves on whether or not an update is skipped
      await update(rt, params, state, partials, lr, 0, u);
      if (u !== 1) {
        applied++;
        referenceStep(q, g, applied, lr);
      }
    }
    expect(await readState(rt, state)).toMatchObject({ count: 2, applied: true });
    const p = await rt.readF32(q.p.buffer);
    const err = maxRelErr(p.map((x, i) => x - q.p0[i]), q.ref.p.map((x, i) => x - q.p0[i]));
    console.log(`[adamw] update after steps 1, (skipped), 2 with the count on the GPU: max rel err ${err.toExponential(2)}`);
    expect(err).toBeLessThan(TOL.f32Reduction);
  });

  it('rejects bad hyperparameters and shapes, naming the kernel', async () => {
    const rt = await gpu();
    const [p, g, m, v] = await Promise.all(['p', 'g', 'm', 'v'].map((l) => rt.pool.tensor([8], l)));
    const state = await rt.pool.tensor([STATE_WORDS], 'state', 'u32');
    const short = await rt.pool.tensor([4], 'short');
    const h = { ...hyper, weightDecay: 0, state };
    await expect(adamwApply(rt, { ...h, p, g, m: short, v })).rejects.toThrow(/\[adamw\] m 'short' has 4 elements/);
    await expect(adamwApply(rt, { ...h, beta1: 1, p, g, m, v })).rejects.toThrow(/\[adamw\] beta1 must be in \[0, 1\)/);
    await expect(adamwApply(rt, { ...h, p, g: p, m, v })).rejects.toThrow(/\[adamw\] .*may not overlap/);
    await expect(adamwApply(rt, { ...h, p, g, m, v, state: short })).rejects.toThrow(/\[adamw\] state 'short' has 4 elements/);
    await expect(adamwPrepare(rt, { partials: p, count: 9, state })).rejects.toThrow(/\[adamw.prepare\] partials 'p' has 8 elements/);
    expect(() => adamwTable(hyper, 0, 8)).toThrow(/at most 7 may be unread/);
  });
});
