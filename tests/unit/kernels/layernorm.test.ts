import { describe, expect, it } from 'vitest';
import { layerNormBackward, layerNormForward, layerNormScratchElements } from '../../../src/kernels/layernorm.ts';
import { TOL, maxRelErr } from '../../../src/kernels/tolerances.ts';
import * as reference from '../../../src/model/reference/index.ts';
import { gpu, randomF32, rng, withGridLimit } from '../helpers/gpu.ts';

type Vec = ArrayLike<number>;

/** The reference backward in the kernel's form: dx (+ dx0 when accumulating), dgamma and dbeta added to their starts. */
function backwardRef(a: { dy: Vec; x: Vec; gamma: Vec; rows: number; cols: number; eps: number; dx?: Vec; dgamma?: Vec; dbeta?: Vec }) {
  const cache = reference.layerNormForward(a.x, a.gamma, new Float64Array(a.cols), a.rows, a.cols, a.eps);
  const dgamma = a.dgamma ? Float64Array.from(a.dgamma) : new Float64Array(a.cols);
  const dbeta = a.dbeta ? Float64Array.from(a.dbeta) : new Float64Array(a.cols);
  const dx = reference.layerNormBackward(a.dy, a.x, a.gamma, cache, a.rows, a.cols, dgamma, dbeta);
  if (a.dx) reference.addInto(dx, a.dx);
  return { dx, dgamma, dbeta };
}

// Hidden sizes in use run 32…1024; these also do not divide the workgroup width.
const cases = [
  { rows: 1, cols: 24, eps: 1e-12 },
  { rows: 37, cols: 37, eps: 1e-5 },
  { rows: 130, cols: 100, eps: 1e-12, rowsPerGroup: 7 },
  { rows: 20, cols: 768, eps: 1e-12 },
  { rows: 9, cols: 1024, eps: 1e-5, rowsPerGroup: 4 },
  { rows: 1000, cols: 32, eps: 1e-12 },
];

/** Rows with an offset and spread that differ per row (an offset is what breaks E[x²] − E[x]²). */
function inputs(rows: number, cols: number, r: () => number): Float32Array {
  const x = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const off = (r() * 2 - 1) * 2;
    const sd = 0.05 + r() * 2;
    for (let c = 0; c < cols; c++) x[i * cols + c] = off + sd * (r() * 2 - 1);
  }
  return x;
}

describe('layernorm', () => {
  for (const s of cases) {
    it(`forward and backward rows=${s.rows} cols=${s.cols} eps=${s.eps}${s.rowsPerGroup ? ` rowsPerGroup=${s.rowsPerGroup}` : ''}`, async () => {
      const rt = await gpu();
      const r = rng(s.rows * 31 + s.cols);
      const { rows, cols, eps } = s;
      const x = inputs(rows, cols, r);
      const gamma = randomF32(cols, r, 1.5);
      const beta = randomF32(cols, r);
      const dy = randomF32(rows * cols, r);
      const dx0 = randomF32(rows * cols, r);
      const dg0 = randomF32(cols, r);
      const db0 = randomF32(cols, r);
      const X = await rt.pool.upload(x, [rows, cols], 'x');
      const G = await rt.pool.upload(gamma, [cols], 'gamma');
      const B = await rt.pool.upload(beta, [cols], 'beta');
      const Y = await rt.pool.tensor([rows, cols], 'y');
      const M = await rt.pool.tensor([rows], 'mean');
      const R = await rt.pool.tensor([rows], 'rstd');
      await layerNormForward(rt, { x: X, gamma: G, beta: B, y: Y, mean: M, rstd: R, rows, cols, eps });
      const want = reference.layerNormForward(x, gamma, beta, rows, cols, eps);
      const eY = maxRelErr(await rt.readF32(Y.buffer), want.y);
      const eM = maxRelErr(await rt.readF32(M.buffer), want.mean);
      const eR = maxRelErr(await rt.readF32(R.buffer), want.rstd);

      const DY = await rt.pool.upload(dy, [rows, cols], 'dy');
      const DX = await rt.pool.upload(dx0, [rows, cols], 'dx');
      const DG = await rt.pool.upload(dg0, [cols], 'dgamma');
      const DB = await rt.pool.upload(db0, [cols], 'dbeta');
      const bwd = { dy: DY, x: X, gamma: G, mean: M, rstd: R, dx: DX, dgamma: DG, dbeta: DB, rows, cols, rowsPerGroup: s.rowsPerGroup };
      // accumulate: dx += …, and dgamma/dbeta always +=
      await layerNormBackward(rt, { ...bwd, accumulate: true });
      const ref = backwardRef({ dy, x, gamma, rows, cols, eps, dx: dx0, dgamma: dg0, dbeta: db0 });
      const eDx = maxRelErr(await rt.readF32(DX.buffer), ref.dx);
      const eDg = maxRelErr(await rt.readF32(DG.buffer), ref.dgamma);
      const eDb = maxRelErr(await rt.readF32(DB.buffer), ref.dbeta);
      // overwrite: dx = …
      await layerNormBackward(rt, bwd);
      const refSet = backwardRef({ dy, x, gamma, rows, cols, eps });
      const eDxSet = maxRelErr(await rt.readF32(DX.buffer), refSet.dx);
      console.log(
        `[layernorm] rows=${rows} cols=${cols} eps=${eps}: y ${eY.toExponential(2)} mean ${eM.toExponential(2)} rstd ${eR.toExponential(2)} ` +
          `dx ${eDx.toExponential(2)} (set ${eDxSet.toExponential(2)}) dgamma ${eDg.toExponential(2)} dbeta ${eDb.toExponential(2)}`,
      );
      expect(eY).toBeLessThan(TOL.f32);
      expect(eM).toBeLessThan(TOL.f32);
      expect(eR).toBeLessThan(TOL.f32);
      expect(eDx).toBeLessThan(TOL.f32Reduction);
      expect(eDxSet).toBeLessThan(TOL.f32Reduction);
      expect(eDg).toBeLessThan(TOL.f32Reduction);
      expect(eDb).toBeLessThan(TOL.f32Reduction);
      for (const t of [X, G, B, Y, M, R, DY, DX, DG, DB]) rt.pool.release(t);
    });
  }

  it('eps matters the way it does in PyTorch: a near-constant row with eps 1e-12 vs 1e-5', async () => {
    const rt = await gpu();
    const cols = 64;
    const x = Float32Array.from({ length: cols }, (_, c) => 0.25 + (c % 2 ? 1e-3 : -1e-3));
    const gamma = new Float32Array(cols).fill(1);
    const beta = new Float32Array(cols);
    const X = await rt.pool.upload(x, [1, cols], 'x');
    const G = await rt.pool.upload(gamma, [cols], 'gamma');
    const B = await rt.pool.upload(beta, [cols], 'beta');
    const Y = await rt.pool.tensor([1, cols], 'y');
    const M = await rt.pool.tensor([1], 'mean');
    const R = await rt.pool.tensor([1], 'rstd');
    for (const eps of [1e-12, 1e-5]) {
      await layerNormForward(rt, { x: X, gamma: G, beta: B, y: Y, mean: M, rstd: R, rows: 1, cols, eps });
      const y = await rt.readF32(Y.buffer);
      const want = reference.layerNormForward(x, gamma, beta, 1, cols, eps).y;
      // std 1e-3: eps = 1e-12 normalises to ±1, eps = 1e-5 shrinks it to ±0.3015
      expect(Math.abs(Math.abs(want[0]) - (eps === 1e-12 ? 1 : 0.30151))).toBeLessThan(1e-4);
      expect(maxRelErr(y, want)).toBeLessThan(TOL.f32Reduction);
    }
    for (const t of [X, G, B, Y, M, R]) rt.pool.release(t);
  });

  it('dgamma/dbeta are bit-identical from run to run, and rows spread over a 2-D grid past the limit', async () => {
    const rt = await gpu();
    const r = rng(77);
    const rows = 70;
    const cols = 48;
    const eps = 1e-5;
    const x = inputs(rows, cols, r);
    const gamma = randomF32(cols, r);
    const beta = randomF32(cols, r);
    const dy = randomF32(rows * cols, r);
    const X = await rt.pool.upload(x, [rows, cols], 'x');
    const G = await rt.pool.upload(gamma, [cols], 'gamma');
    const B = await rt.pool.upload(beta, [cols], 'beta');
    const Y = await rt.pool.tensor([rows, cols], 'y');
    const M = await rt.pool.tensor([rows], 'mean');
    const R = await rt.pool.tensor([rows], 'rstd');
    const DY = await rt.pool.upload(dy, [rows, cols], 'dy');
    const DX = await rt.pool.tensor([rows, cols], 'dx');
    const DG = await rt.pool.upload(new Float32Array(cols), [cols], 'dgamma');
    const DB = await rt.pool.upload(new Float32Array(cols), [cols], 'dbeta');
    const scratch = await rt.pool.tensor([layerNormScratchElements(rows, cols, 1)], 'scratch');
    // 70 rows with at most 9 workgroups per dimension: a 9 x 8 grid, two workgroups idle
    await withGridLimit(rt, 9, async () => {
      await layerNormForward(rt, { x: X, gamma: G, beta: B, y: Y, mean: M, rstd: R, rows, cols, eps });
      await layerNormBackward(rt, { dy: DY, x: X, gamma: G, mean: M, rstd: R, dx: DX, dgamma: DG, dbeta: DB, rows, cols, rowsPerGroup: 1, scratch });
    });
    expect(maxRelErr(await rt.readF32(Y.buffer), reference.layerNormForward(x, gamma, beta, rows, cols, eps).y)).toBeLessThan(TOL.f32);
    const ref = backwardRef({ dy, x, gamma, rows, cols, eps });
    const dx1 = await rt.readF32(DX.buffer);
    const dg1 = await rt.readF32(DG.buffer);
    const db1 = await rt.readF32(DB.buffer);
    expect(maxRelErr(dx1, ref.dx)).toBeLessThan(TOL.f32Reduction);
    expect(maxRelErr(dg1, ref.dgamma)).toBeLessThan(TOL.f32Reduction);
    expect(maxRelErr(db1, ref.dbeta)).toBeLessThan(TOL.f32Reduction);
    for (let run = 0; run < 2; run++) {
      rt.write(DG.buffer, new Float32Array(cols));
      rt.write(DB.buffer, new Float32Array(cols));
      await layerNormBackward(rt, { dy: DY, x: X, gamma: G, mean: M, rstd: R, dx: DX, dgamma: DG, dbeta: DB, rows, cols, rowsPerGroup: 1 });
      expect(Array.from(await rt.readF32(DG.buffer))).toEqual(Array.from(dg1));
      expect(Array.from(await rt.readF32(DB.buffer))).toEqual(Array.from(db1));
      expect(Array.from(await rt.readF32(DX.buffer))).toEqual(Array.from(dx1));
    }
    for (const t of [X, G, B, Y, M, R, DY, DX, DG, DB, scratch]) rt.pool.release(t);
  });

  it('rejects bad shapes and aliasing, naming the kernel', async () => {
    const rt = await gpu();
    const X = await rt.pool.tensor([4, 8], 'x');
    const G = await rt.pool.tensor([8], 'gamma');
    const Y = await rt.pool.tensor([4, 8], 'y');
    const M = await rt.pool.tensor([4], 'mean');
    await expect(
      layerNormForward(rt, { x: X, gamma: G, beta: G, y: Y, mean: M, rstd: M, rows: 4, cols: 8, eps: 1e-12 }),
    ).rejects.toThrow(/\[layernorm\] forward: mean 'mean' shares its buffer with rstd/);
    await expect(
      layerNormForward(rt, { x: X, gamma: G, beta: G, y: Y, mean: M, rstd: G, rows: 5, cols: 8, eps: 1e-12 }),
    ).rejects.toThrow(/\[layernorm\] forward: x 'x' has 32 elements \[4,8\], needs 40/);
    await expect(
      layerNormForward(rt, { x: X, gamma: G, beta: G, y: Y, mean: M, rstd: G, rows: 4, cols: 8, eps: 0 }),
    ).rejects.toThrow(/eps must be a positive number/);
    await expect(
      layerNormBackward(rt, { dy: X, x: X, gamma: G, mean: M, rstd: M, dx: X, dgamma: G, dbeta: Y, rows: 4, cols: 8 }),
    ).rejects.toThrow(/\[layernorm\] backward: dx 'x' shares its buffer with dy/);
    for (const t of [X, G, Y, M]) rt.pool.release(t);
  });
});
