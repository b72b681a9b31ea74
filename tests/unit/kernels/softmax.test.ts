import { describe, expect, it } from 'vitest';
import { softmaxBackward, softmaxBackwardRef, softmaxForward, softmaxForwardRef } from '../../../src/kernels/softmax.ts';
import { TOL, maxRelErr } from '../../../src/kernels/tolerances.ts';
import { gpu, randomF32, rng } from '../helpers/gpu.ts';

// Row lengths around the thread counts (32..256 per row), most of them not powers of two.
const cases = [
  { rows: 1, cols: 1 },
  { rows: 4, cols: 5 },
  { rows: 9, cols: 33 },
  { rows: 3, cols: 255 },
  { rows: 6, cols: 257 },
  { rows: 2, cols: 3001 },
  { rows: 300, cols: 48 },
];

/** Runs forward then backward on the GPU and returns the worst relative error of each against float64. */
async function run(rows: number, cols: number, seed: number, scale: number): Promise<{ fwd: number; bwd: number; y: Float32Array }> {
  const rt = await gpu();
  const r = rng(seed);
  const x = randomF32(rows * cols, r, scale);
  const dy = randomF32(rows * cols, r);
  const X = await rt.pool.upload(x, [rows, cols], 'x');
  const DY = await rt.pool.upload(dy, [rows, cols], 'dy');
  const Y = await rt.pool.tensor([rows, cols], 'y');
  const DX = await rt.pool.tensor([rows, cols], 'dx');
  await softmaxForward(rt, { x: X, y: Y, rows, cols });
  await softmaxBackward(rt, { y: Y, dy: DY, dx: DX, rows, cols });
  const y = await rt.readF32(Y.buffer);
  const dx = await rt.readF32(DX.buffer);
  for (const t of [X, DY, Y, DX]) rt.pool.release(t);
  // The backward is checked on the GPU's own y, so the figure measures the backward kernel alone.
  return { fwd: maxRelErr(y, softmaxForwardRef(x, rows, cols)), bwd: maxRelErr(dx, softmaxBackwardRef(y, dy, rows, cols)), y };
}

describe('softmax', () => {
  for (const s of cases) {
    it(`forward and backward rows=${s.rows} cols=${s.cols}`, async () => {
      const { fwd, bwd } = await run(s.rows, s.cols, s.rows * 100 + s.cols, 4);
      console.log(`[softmax] ${s.rows}x${s.cols}: forward ${fwd.toExponential(2)}, backward ${bwd.toExponential(2)} (max rel err)`);
      expect(fwd).toBeLessThan(TOL.f32);
      expect(bwd).toBeLessThan(TOL.f32);
    });
  }

  it('is stable for large logits (max subtracted)', async () => {
    const { fwd, y } = await run(5, 70, 42, 200);
    expect(fwd).toBeLessThan(TOL.f32);
    for (const v of y) expect(Number.isFinite(v)).toBe(true);
  });

  it('handles more than 65535 rows through a 2-D grid (65537 x 4)', async () => {
    const { fwd, bwd, y } = await run(65537, 4, 9, 2);
    expect(fwd).toBeLessThan(TOL.f32);
    expect(bwd).toBeLessThan(TOL.f32);
    const last = y.subarray(y.length - 4);
    expect(Math.abs(last.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
  });

  it('rejects bad shapes and aliasing, naming the kernel', async () => {
    const rt = await gpu();
    const A = await rt.pool.tensor([4, 4], 'a');
    const B = await rt.pool.tensor([4, 3], 'b');
    await expect(softmaxForward(rt, { x: A, y: B, rows: 4, cols: 4 })).rejects.toThrow(/\[softmaxForward\] 'b' has 12 elements/);
    await expect(softmaxForward(rt, { x: A, y: A, rows: 4, cols: 4 })).rejects.toThrow(/\[softmaxForward\] output 'a' may not alias/);
    await expect(softmaxBackward(rt, { y: A, dy: B, dx: A, rows: 3, cols: 4 })).rejects.toThrow(/\[softmaxBackward\] output 'a' may not alias/);
  });
});
