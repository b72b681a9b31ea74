import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../../src/gpu/runtime.ts';
import {
  add,
  copy,
  dropout,
  erf,
  fill,
  gatherRows,
  geluBackward,
  geluForward,
  scatterRows,
  tanhBackward,
  tanhForward,
} from '../../../src/kernels/elementwise.ts';
import { TOL, maxRelErr } from '../../../src/kernels/tolerances.ts';
import * as reference from '../../../src/model/reference/index.ts';
import { gpu, randomF32, rng, withGridLimit } from '../helpers/gpu.ts';

// Sizes that are not multiples of the 256-wide workgroup, a tiny one, and one that needs several workgroups.
const sizes = [1, 37, 24 * 37, 768 * 3 + 5];

async function up(rt: GpuRuntime, data: Float32Array | Uint32Array, label: string) {
  return rt.pool.upload(data, [data.length], label);
}

/** Largest per-element relative error, in units of f32 epsilon (2^-23), over elements with |ref| > floor. */
function maxUlps(got: ArrayLike<number>, want: ArrayLike<number>, floor = 1e-30): number {
  let m = 0;
  for (let i = 0; i < got.length; i++) {
    const w = want[i];
    if (Math.abs(w) <= floor) continue;
    const e = Math.abs(got[i] - w) / Math.abs(w) / 2 ** -23;
    if (!(e <= m)) m = Number.isNaN(e) ? Infinity : e;
  }
  return m;
}

describe('elementwise', () => {
  it('f32 erf stays within a few ulp of float64 erf on [-6, 6]', async () => {
    const rt = await gpu();
    const r = rng(11);
    const n = 4099;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = i < 64 ? (r() * 2 - 1) * 1e-3 * 10 ** -(i % 6) : (r() * 2 - 1) * 6;
    x[0] = 0;
    x[1] = 0.927734375; // the branch point
    x[2] = -0.927734375;
    const X = await up(rt, x, 'x');
    const Y = await rt.pool.tensor([n], 'y');
    await erf(rt, { x: X, y: Y, n });
    const got = await rt.readF32(Y.buffer);
    const want = Float64Array.from(x, reference.erf);
    const ulps = maxUlps(got, want);
    console.log(`[erf] max error ${ulps.toFixed(2)} ulp (relative, per element) over ${n} points in [-6, 6]`);
    expect(got[0]).toBe(0);
    expect(ulps * 2 ** -23).toBeLessThan(TOL.f32);
    rt.pool.release(X);
    rt.pool.release(Y);
  });

  for (const n of sizes) {
    it(`GELU forward and backward, n=${n}`, async () => {
      const rt = await gpu();
      const r = rng(100 + n);
      const x = randomF32(n, r, 8);
      const dy = randomF32(n, r);
      const X = await up(rt, x, 'x');
      const DY = await up(rt, dy, 'dy');
      const Y = await rt.pool.tensor([n], 'y');
      const DX = await rt.pool.tensor([n], 'dx');
      await geluForward(rt, { x: X, y: Y, n });
      await geluBackward(rt, { x: X, dy: DY, dx: DX, n });
      const y = await rt.readF32(Y.buffer);
      const dx = await rt.readF32(DX.buffer);
      // floor 1: a lone tiny output (n = 1) is judged on the scale of the activations, as everywhere else
      expect(maxRelErr(y, reference.geluForward(x), 1)).toBeLessThan(TOL.f32);
      expect(maxRelErr(dx, reference.geluBackward(dy, x), 1)).toBeLessThan(TOL.f32);
      for (const t of [X, DY, Y, DX]) rt.pool.release(t);
    });
  }

  it('GELU is accurate per element on [-10, 10], tails included', async () => {
    const rt = await gpu();
    const n = 2001;
    const x = Float32Array.from({ length: n }, (_, i) => -10 + (20 * i) / (n - 1));
    const dy = new Float32Array(n).fill(1);
    const X = await up(rt, x, 'x');
    const DY = await up(rt, dy, 'dy');
    const Y = await rt.pool.tensor([n], 'y');
    const DX = await rt.pool.tensor([n], 'dx');
    await geluForward(rt, { x: X, y: Y, n });
    await geluBackward(rt, { x: X, dy: DY, dx: DX, n });
    const y = await rt.readF32(Y.buffer);
    const d = await rt.readF32(DX.buffer);
    const want = reference.geluForward(x);
    const wantD = reference.geluBackward(dy, x);
    // Φ carries an absolute error of a few f32 ulps of 1 (as PyTorch's 1 + erf(x/√2) does), so the natural per-element
    // scale of x·Φ(x) is max(|gelu(x)|, |x|) and of Φ + x·φ it is max(|gelu'(x)|, 1).
    let e = 0;
    let eD = 0;
    for (let i = 0; i < n; i++) {
      e = Math.max(e, Math.abs(y[i] - want[i]) / Math.max(Math.abs(want[i]), Math.abs(x[i]), 1e-30));
      eD = Math.max(eD, Math.abs(d[i] - wantD[i]) / Math.max(Math.abs(wantD[i]), 1));
    }
    console.log(`[gelu] per-element error: forward ${(e / 2 ** -23).toFixed(2)} ulp, backward ${(eD / 2 ** -23).toFixed(2)} ulp`);
    expect(e).toBeLessThan(TOL.f32);
    expect(eD).toBeLessThan(TOL.f32);
    expect(y.every(Number.isFinite) && d.every(Number.isFinite)).toBe(true);
    for (const t of [X, DY, Y, DX]) rt.pool.release(t);
  });

  it('tanh forward and backward, with large inputs that must not give NaN', async () => {
    const rt = await gpu();
    const r = rng(5);
    const n = 24 * 37;
    const x = randomF32(n, r, 3);
    x.set([0, 1e-6, -1e-6, 0.55, -0.55, 9, -9, 50, -50, 100, -100, 1e30]);
    const X = await up(rt, x, 'x');
    const Y = await rt.pool.tensor([n], 'y');
    await tanhForward(rt, { x: X, y: Y, n });
    const y = await rt.readF32(Y.buffer);
    const want = reference.tanhForward(x);
    expect(y.every(Number.isFinite)).toBe(true);
    expect(maxRelErr(y, want)).toBeLessThan(TOL.f32);
    const ulps = maxUlps(y, want);
    console.log(`[tanh] max error ${ulps.toFixed(2)} ulp per element`);
    expect(ulps * 2 ** -23).toBeLessThan(TOL.f32);
    const dy = randomF32(n, r);
    const DY = await up(rt, dy, 'dy');
    const DX = await rt.pool.tensor([n], 'dx');
    await tanhBackward(rt, { y: Y, dy: DY, dx: DX, n });
    expect(maxRelErr(await rt.readF32(DX.buffer), reference.tanhBackward(dy, y))).toBeLessThan(TOL.f32);
    for (const t of [X, Y, DY, DX]) rt.pool.release(t);
  });

  it('add, copy and fill', async () => {
    const rt = await gpu();
    const r = rng(9);
    const n = 1000;
    const a = randomF32(n, r);
    const b = randomF32(n, r);
    const A = await up(rt, a, 'a');
    const B = await up(rt, b, 'b');
    const C = await rt.pool.tensor([n], 'c');
    await add(rt, { a: A, b: B, c: C, n });
    expect(maxRelErr(await rt.readF32(C.buffer), reference.add(a, b))).toBeLessThan(TOL.f32);
    await copy(rt, { x: A, y: C, n });
    expect(Array.from(await rt.readF32(C.buffer))).toEqual(Array.from(a));
    await fill(rt, { y: C, n: n - 1, value: 1.5 });
    const filled = await rt.readF32(C.buffer);
    expect(filled.slice(0, n - 1).every((v) => v === 1.5)).toBe(true);
    expect(filled[n - 1]).not.toBe(1.5); // n is respected
    for (const t of [A, B, C]) rt.pool.release(t);
  });

  it('spreads work over a 2-D grid when the workgroup count exceeds the per-dimension limit', async () => {
    const rt = await gpu();
    const r = rng(3);
    const n = 256 * 7 + 5; // 8 workgroups; with a limit of 3 per dimension: a 3 x 3 grid, one group idle
    const x = randomF32(n, r, 4);
    const X = await up(rt, x, 'x');
    const Y = await rt.pool.tensor([n], 'y');
    await withGridLimit(rt, 3, () => geluForward(rt, { x: X, y: Y, n }));
    expect(maxRelErr(await rt.readF32(Y.buffer), reference.geluForward(x))).toBeLessThan(TOL.f32);
    // gather over a 2-D grid too: 300 rows x 9 cols = 11 workgroups, a 4 x 3 grid
    const rows = 300;
    const cols = 9;
    const src = randomF32(rows * cols, r);
    const idx = Uint32Array.from({ length: rows }, (_, i) => (i * 7) % rows);
    const S = await up(rt, src, 'src');
    const I = await up(rt, idx, 'idx');
    const O = await rt.pool.tensor([rows, cols], 'out');
    await withGridLimit(rt, 4, () => gatherRows(rt, { x: S, idx: I, out: O, n: rows, cols, rowsIn: rows }));
    expect(Array.from(await rt.readF32(O.buffer))).toEqual(Array.from(reference.gatherRows(src, idx, cols)));
    for (const t of [X, Y, S, I, O]) rt.pool.release(t);
  });

  it('dropout: the GPU mask equals the CPU mask, keeps about 1-p, and backward reuses it', async () => {
    const rt = await gpu();
    const r = rng(21);
    const n = 24 * 37 * 11;
    const x = randomF32(n, r);
    for (let i = 0; i < n; i++) if (x[i] === 0) x[i] = 0.5; // so a zero means "dropped"
    const X = await up(rt, x, 'x');
    const Y = await rt.pool.tensor([n], 'y');
    for (const [p, seed] of [
      [0.1, 1234],
      [0.5, 0xffffffff],
    ] as const) {
      await dropout(rt, { x: X, y: Y, n, p, seed });
      const y = await rt.readF32(Y.buffer);
      const want = reference.dropoutForward(x, p, seed);
      expect(maxRelErr(y, want)).toBeLessThan(TOL.f32);
      let dropped = 0;
      for (let i = 0; i < n; i++) {
        expect(y[i] === 0).toBe(want[i] === 0);
        if (y[i] === 0) dropped++;
      }
      const frac = dropped / n;
      console.log(`[dropout] p=${p} seed=${seed}: dropped ${(100 * frac).toFixed(2)}% of ${n}`);
      // 4.5 standard deviations of a binomial proportion
      expect(Math.abs(frac - p)).toBeLessThan(4.5 * Math.sqrt((p * (1 - p)) / n));
      // backward: same seed, dy in place of x -> zeros exactly where the forward dropped
      const dy = randomF32(n, r);
      for (let i = 0; i < n; i++) if (dy[i] === 0) dy[i] = 1;
      const DY = await up(rt, dy, 'dy');
      const DX = await rt.pool.tensor([n], 'dx');
      await dropout(rt, { x: DY, y: DX, n, p, seed });
      const dx = await rt.readF32(DX.buffer);
      for (let i = 0; i < n; i++) expect(dx[i] === 0).toBe(y[i] === 0);
      expect(maxRelErr(dx, reference.dropoutForward(dy, p, seed))).toBeLessThan(TOL.f32);
      rt.pool.release(DY);
      rt.pool.release(DX);
    }
    // another seed gives another mask
    await dropout(rt, { x: X, y: Y, n, p: 0.5, seed: 1 });
    const a = await rt.readF32(Y.buffer);
    await dropout(rt, { x: X, y: Y, n, p: 0.5, seed: 2 });
    const b = await rt.readF32(Y.buffer);
    let differ = 0;
    for (let i = 0; i < n; i++) if ((a[i] === 0) !== (b[i] === 0)) differ++;
    expect(differ / n).toBeGreaterThan(0.4);
    // p = 0 is the identity; p = 1 zeroes
    await dropout(rt, { x: X, y: Y, n, p: 0, seed: 7 });
    expect(Array.from(await rt.readF32(Y.buffer))).toEqual(Array.from(x));
    await dropout(rt, { x: X, y: Y, n, p: 1, seed: 7 });
    expect((await rt.readF32(Y.buffer)).every((v) => v === 0)).toBe(true);
    rt.pool.release(X);
    rt.pool.release(Y);
  });

  for (const cols of [24, 37, 100, 768]) {
    it(`gather_rows / scatter_rows pick the first token of each sequence, cols=${cols}`, async () => {
      const rt = await gpu();
      const r = rng(cols);
      const batch = 5;
      const seqLen = 7;
      const rowsIn = batch * seqLen;
      const x = randomF32(rowsIn * cols, r);
      const idx = Uint32Array.from({ length: batch }, (_, b) => b * seqLen);
      const X = await up(rt, x, 'hidden');
      const I = await up(rt, idx, 'cls');
      const O = await rt.pool.tensor([batch, cols], 'pooled');
      await gatherRows(rt, { x: X, idx: I, out: O, n: batch, cols, rowsIn });
      expect(Array.from(await rt.readF32(O.buffer))).toEqual(Array.from(reference.gatherRows(x, idx, cols)));
      const dOut = randomF32(batch * cols, r);
      const dx0 = randomF32(rowsIn * cols, r);
      const DO = await up(rt, dOut, 'dPooled');
      const DX = await up(rt, dx0, 'dHidden');
      await scatterRows(rt, { dOut: DO, idx: I, dx: DX, n: batch, cols, rowsIn });
      expect(maxRelErr(await rt.readF32(DX.buffer), reference.scatterRows(dOut, idx, dx0, cols))).toBeLessThan(TOL.f32);
      await scatterRows(rt, { dOut: DO, idx: I, dx: DX, n: batch, cols, rowsIn, accumulate: false });
      const set = await rt.readF32(DX.buffer);
      const wantSet = reference.scatterRows(dOut, idx, reference.scatterRows(dOut, idx, dx0, cols), cols, false);
      expect(maxRelErr(set, wantSet)).toBeLessThan(TOL.f32);
      for (const t of [X, I, O, DO, DX]) rt.pool.release(t);
    });
  }

  it('gather_rows turns an out-of-range index into NaN instead of reading other memory', async () => {
    const rt = await gpu();
    const X = await up(rt, Float32Array.from([1, 2, 3, 4]), 'x');
    const I = await up(rt, Uint32Array.from([1, 2]), 'idx');
    const O = await rt.pool.tensor([2, 2], 'out');
    await gatherRows(rt, { x: X, idx: I, out: O, n: 2, cols: 2, rowsIn: 2 });
    const o = await rt.readF32(O.buffer);
    expect(Array.from(o.slice(0, 2))).toEqual([3, 4]);
    expect(o.slice(2).every(Number.isNaN)).toBe(true);
    for (const t of [X, I, O]) rt.pool.release(t);
  });

  it('rejects bad shapes and aliasing, naming the kernel', async () => {
    const rt = await gpu();
    const A = await rt.pool.tensor([10], 'A');
    const B = await rt.pool.tensor([10], 'B');
    const I = await up(rt, Uint32Array.from([0]), 'idx');
    await expect(geluForward(rt, { x: A, y: B, n: 11 })).rejects.toThrow(/\[elementwise\] geluForward: x 'A' has 10 elements/);
    await expect(add(rt, { a: A, b: B, c: A, n: 10 })).rejects.toThrow(/\[elementwise\] add: output 'A' may not be the same buffer/);
    await expect(dropout(rt, { x: A, y: B, n: 10, p: 1.5, seed: 1 })).rejects.toThrow(/p must be in \[0, 1\]/);
    await expect(gatherRows(rt, { x: A, idx: B, out: B, n: 1, cols: 1, rowsIn: 1 })).rejects.toThrow(/must be a u32 tensor/);
    await expect(gatherRows(rt, { x: A, idx: I, out: B, n: 1, cols: 4, rowsIn: 3 })).rejects.toThrow(/source 'A' has 10 elements \[10\], needs 12/);
    for (const t of [A, B, I]) rt.pool.release(t);
  });
});

describe('fill (large)', () => {
  it('fills past 65535 workgroups (a 2-D grid) and stops at n', async () => {
    const rt = await gpu();
    const n = 65535 * 256 + 300; // 16,777,260 elements: needs more workgroups than one grid dimension holds
    const X = await rt.pool.tensor([n], 'big');
    await fill(rt, { y: X, n, value: 3.5 });
    await fill(rt, { y: X, value: 0, n: n - 1 });
    const x = await rt.readF32(X.buffer);
    expect(x[n - 1]).toBe(3.5);
    let nonZero = 0;
    for (let i = 0; i < n - 1; i++) if (x[i] !== 0) nonZero++;
    expect(nonZero).toBe(0);
    rt.pool.release(X);
  });

  it('fills a range at an offset and leaves the rest', async () => {
    const rt = await gpu();
    const X = await rt.pool.upload(new Float32Array(16), [16], 'range');
    await fill(rt, { y: X, value: 2, n: 3, offset: 10 });
    expect(Array.from(await rt.readF32(X.buffer))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0]);
    await expect(fill(rt, { y: X, value: 1, n: 3, offset: 14 })).rejects.toThrow(/y 'range' has 16 elements \[16\], needs 17/);
    rt.pool.release(X);
  });
});
