import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../../src/gpu/runtime.ts';
import { type AttentionShape, attentionBackward, attentionForward, attentionTiles } from '../../../src/kernels/attention.ts';
import { TOL, maxRelErr } from '../../../src/kernels/tolerances.ts';
import * as reference from '../../../src/model/reference/index.ts';
import { gpu, randomF32, rng } from '../helpers/gpu.ts';

// Real token counts per sequence (the rest is padding): every shape has sequences of different lengths, the suite
// has fully unpadded sequences, heavy padding, lengths that are not multiples of any tile, several key and query
// tiles (L=150), head sizes 8…128 including one that is not a power of two, and an all-padding sequence.
const cases = [
  { batch: 2, heads: 3, seqLen: 13, headDim: 8, lengths: [13, 3] },
  { batch: 3, heads: 2, seqLen: 37, headDim: 16, lengths: [9, 37, 22] },
  { batch: 1, heads: 4, seqLen: 70, headDim: 64, lengths: [58] },
  { batch: 2, heads: 2, seqLen: 150, headDim: 32, lengths: [150, 17] },
  { batch: 1, heads: 2, seqLen: 41, headDim: 128, lengths: [41] },
  { batch: 3, heads: 1, seqLen: 11, headDim: 24, lengths: [0, 11, 1] },
];

type Case = (typeof cases)[number] & { dropout?: { p: number; seed: number } };

/** Columns [part*Hd, (part+1)*Hd) of a [rows, 3*Hd] matrix. */
function part(m: ArrayLike<number>, rows: number, Hd: number, p: number): Float64Array {
  const out = new Float64Array(rows * Hd);
  for (let r = 0; r < rows; r++) for (let c = 0; c < Hd; c++) out[r * Hd + c] = m[r * 3 * Hd + p * Hd + c];
  return out;
}

type RefInput = AttentionShape & { qkv: ArrayLike<number>; mask: ArrayLike<number> };

/** The reference's Q, K, V [B·L, Hd] from the kernel's packed qkv [B·L, 3·Hd]. */
function unpack(x: RefInput): Float64Array[] {
  return [0, 1, 2].map((p) => part(x.qkv, x.batch * x.seqLen, x.heads * x.headDim, p));
}

/** The float64 reference forward on the kernel's layout: ctx [B·L, Hd], lse [B, H, L]. */
function forwardRef(x: RefInput): { ctx: Float64Array; lse: Float64Array } {
  const [Q, K, V] = unpack(x);
  const f = reference.attentionForward(Q, K, V, x.mask, x.batch, x.seqLen, x.heads, x.headDim, x.dropout);
  return { ctx: f.out, lse: f.lse };
}

/** The float64 reference backward on the kernel's layout: dqkv [B·L, 3·Hd] and delta [B, H, L]. */
function backwardRef(x: RefInput & { dCtx: ArrayLike<number> }): { dqkv: Float64Array; delta: Float64Array } {
  const [Q, K, V] = unpack(x);
  const cache = reference.attentionForward(Q, K, V, x.mask, x.batch, x.seqLen, x.heads, x.headDim, x.dropout);
  const g = reference.attentionBackward(x.dCtx, Q, K, V, cache, x.batch, x.seqLen, x.heads, x.headDim);
  const rows = x.batch * x.seqLen;
  const Hd = x.heads * x.headDim;
  const dqkv = new Float64Array(rows * 3 * Hd);
  [g.dQ, g.dK, g.dV].forEach((d, p) => {
    for (let r = 0; r < rows; r++) dqkv.set(d.subarray(r * Hd, (r + 1) * Hd), r * 3 * Hd + p * Hd);
  });
  return { dqkv, delta: g.delta };
}

async function run(rt: GpuRuntime, c: Case, seed: number) {
  const r = rng(seed);
  const { batch: B, seqLen: L, heads: H, headDim: D } = c;
  const Hd = H * D;
  const qkv = randomF32(B * L * 3 * Hd, r, 1.5);
  const dCtx = randomF32(B * L * Hd, r);
  const mask = new Uint32Array(B * L);
  c.lengths.forEach((n, b) => mask.fill(1, b * L, b * L + n));
  const t = {
    qkv: await rt.pool.upload(qkv, [B * L, 3 * Hd], 'qkv'),
    mask: await rt.pool.upload(mask, [B, L], 'mask'),
    ctx: await rt.pool.tensor([B * L, Hd], 'ctx'),
    lse: await rt.pool.tensor([B, H, L], 'lse'),
    dCtx: await rt.pool.upload(dCtx, [B * L, Hd], 'dCtx'),
    dqkv: await rt.pool.tensor([B * L, 3 * Hd], 'dqkv'),
    delta: await rt.pool.tensor([B, H, L], 'delta'),
  };
  await attentionForward(rt, { ...c, ...t });
  await attentionBackward(rt, { ...c, ...t });
  const got = {
    ctx: await rt.readF32(t.ctx.buffer),
    lse: await rt.readF32(t.lse.buffer),
    dqkv: await rt.readF32(t.dqkv.buffer),
    delta: await rt.readF32(t.delta.buffer),
  };
  return { qkv, dCtx, mask, t, got };
}

type Run = Awaited<ReturnType<typeof run>>;

/** max rel err of every GPU output against the float64 reference (forward, lse, delta, dQ, dK, dV). */
function errorsAgainstReference(c: Case, x: Pick<Run, 'qkv' | 'dCtx' | 'mask'>, got: Run['got']) {
  const fwd = forwardRef({ ...c, ...x });
  const bwd = backwardRef({ ...c, ...x });
  const rows = c.batch * c.seqLen;
  const Hd = c.heads * c.headDim;
  return {
    ctx: maxRelErr(got.ctx, fwd.ctx),
    lse: maxRelErr(got.lse, fwd.lse),
    delta: maxRelErr(got.delta, bwd.delta),
    dQ: maxRelErr(part(got.dqkv, rows, Hd, 0), part(bwd.dqkv, rows, Hd, 0)),
    dK: maxRelErr(part(got.dqkv, rows, Hd, 1), part(bwd.dqkv, rows, Hd, 1)),
    dV: maxRelErr(part(got.dqkv, rows, Hd, 2), part(bwd.dqkv, rows, Hd, 2)),
  };
}

describe('attention', () => {
  for (const [n, c] of cases.entries()) {
    it(`forward and backward B=${c.batch} H=${c.heads} L=${c.seqLen} D=${c.headDim} lengths=${c.lengths}`, async () => {
      const rt = await gpu();
      const { qkv, dCtx, mask, t, got } = await run(rt, c, 1000 + n);
      const err = errorsAgainstReference(c, { qkv, dCtx, mask }, got);
      console.log(`[attention] B=${c.batch} H=${c.heads} L=${c.seqLen} D=${c.headDim} max rel err ` + Object.entries(err).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', '));
      for (const v of Object.values(err)) expect(v).toBeLessThan(TOL.f32Reduction);

      // Backward again, with delta from the pool this time: bitwise the same (no atomics, fixed summation order).
      const again = await rt.pool.tensor([c.batch * c.seqLen, 3 * c.heads * c.headDim], 'dqkv2');
      await attentionBackward(rt, { ...c, ...t, dqkv: again, delta: undefined });
      expect(Buffer.from((await rt.readF32(again.buffer)).buffer).equals(Buffer.from(got.dqkv.buffer))).toBe(true);
      for (const x of [...Object.values(t), again]) rt.pool.release(x);
    });
  }

  it('gives padded keys weight 0 and padded queries the outputs HF computes', async () => {
    const rt = await gpu();
    const c = { batch: 2, heads: 1, seqLen: 6, headDim: 8, lengths: [4, 6] };
    const { qkv, mask, t, got } = await run(rt, c, 7);
    // Changing K and V of the padding of sequence 0 must not change any output of sequence 0.
    const D = c.headDim;
    const qkv2 = qkv.slice();
    for (let tok = 4; tok < 6; tok++) for (let d = D; d < 3 * D; d++) qkv2[tok * 3 * D + d] += 5;
    rt.write(t.qkv.buffer, qkv2);
    await attentionForward(rt, { ...c, ...t });
    const ctx2 = await rt.readF32(t.ctx.buffer);
    expect(Array.from(ctx2.subarray(0, 6 * D))).toEqual(Array.from(got.ctx.subarray(0, 6 * D)));
    // Padded query rows (tokens 4, 5 of sequence 0) are computed, not zeroed: they match the reference.
    const ref = forwardRef({ ...c, qkv, mask });
    expect(maxRelErr(got.ctx.subarray(4 * D, 6 * D), ref.ctx.subarray(4 * D, 6 * D))).toBeLessThan(TOL.f32Reduction);
    for (const x of Object.values(t)) rt.pool.release(x);
  });

  it('keeps each sequence to itself: tile rows past a sequence end are zeros, not the next sequence', async () => {
    // L = 5 is shorter than every tile, so every tile has rows past the end of sequence 0, where sequence 1 begins in
    // memory. Sequence 1 is all infinities: a tile that took them in would give sequence 0 NaN (0·∞ in P·V, dS).
    const rt = await gpu();
    const c = { batch: 2, heads: 1, seqLen: 5, headDim: 8, lengths: [5, 3] };
    const { qkv, dCtx, mask, t } = await run(rt, c, 8);
    const S3 = 3 * c.headDim;
    const L = c.seqLen;
    rt.write(t.qkv.buffer, Float32Array.from(qkv).fill(Infinity, L * S3));
    rt.write(t.dCtx.buffer, Float32Array.from(dCtx).fill(Infinity, L * c.headDim));
    await attentionForward(rt, { ...c, ...t });
    await attentionBackward(rt, { ...c, ...t });
    const first = { ...c, batch: 1, qkv: qkv.subarray(0, L * S3), mask: mask.subarray(0, L) };
    const fwd = forwardRef(first);
    const bwd = backwardRef({ ...first, dCtx: dCtx.subarray(0, L * c.headDim) });
    expect(maxRelErr((await rt.readF32(t.ctx.buffer)).subarray(0, L * c.headDim), fwd.ctx)).toBeLessThan(TOL.f32Reduction);
    expect(maxRelErr((await rt.readF32(t.lse.buffer)).subarray(0, L), fwd.lse)).toBeLessThan(TOL.f32Reduction);
    expect(maxRelErr((await rt.readF32(t.dqkv.buffer)).subarray(0, L * S3), bwd.dqkv)).toBeLessThan(TOL.f32Reduction);
    for (const x of Object.values(t)) rt.pool.release(x);
  });

  it('has a float64 backward reference that matches finite differences of its forward, with and without dropout', () => {
    // loss = Σ ctx ∘ dCtx; central differences on every element of qkv (sequences with real tokens: in an
    // all-padding sequence HF's scores are finfo.min + s rounded, whose true derivative is 0 but autograd's is not).
    // The dropout mask depends on the seed only, so the dropped forward is differentiable the same way.
    for (const dropout of [undefined, { p: 0.3, seed: 77 }]) checkReferenceGradient(dropout);
  });

  function checkReferenceGradient(dropout: { p: number; seed: number } | undefined): void {
    const s = { batch: 2, heads: 2, seqLen: 5, headDim: 3, dropout };
    const r = rng(11);
    const qkv = Float64Array.from(randomF32(2 * 5 * 18, r, 1.5));
    const dCtx = Float64Array.from(randomF32(2 * 5 * 6, r));
    const mask = Uint32Array.from([1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    const loss = (x: Float64Array) => forwardRef({ ...s, qkv: x, mask }).ctx.reduce((a, v, i) => a + v * dCtx[i], 0);
    const { dqkv } = backwardRef({ ...s, qkv, mask, dCtx });
    const fd = new Float64Array(qkv.length);
    const h = 1e-6;
    for (let i = 0; i < qkv.length; i++) {
      const p = qkv.slice();
      p[i] += h;
      const m = qkv.slice();
      m[i] -= h;
      fd[i] = (loss(p) - loss(m)) / (2 * h);
    }
    expect(maxRelErr(dqkv, fd)).toBeLessThan(1e-7);
  }

  // Attention-probability dropout (HF's attention_probs_dropout_prob): the GPU's mask, forward and the same mask
  // recomputed in backward, against the float64 reference on ragged shapes (padding, several tiles, all-padding).
  for (const [n, c] of [cases[0], cases[1], cases[3], cases[5]].entries()) {
    it(`with dropout p=0.25 B=${c.batch} H=${c.heads} L=${c.seqLen} D=${c.headDim} lengths=${c.lengths}`, async () => {
      const rt = await gpu();
      const dc = { ...c, dropout: { p: 0.25, seed: 0x9e3779b9 + n } };
      const { qkv, dCtx, mask, t, got } = await run(rt, dc, 2000 + n);
      const err = errorsAgainstReference(dc, { qkv, dCtx, mask }, got);
      console.log(`[attention dropout] B=${c.batch} H=${c.heads} L=${c.seqLen} D=${c.headDim} max rel err ` + Object.entries(err).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', '));
      for (const v of Object.values(err)) expect(v).toBeLessThan(TOL.f32Reduction);
      // the mask matters: without it the output is far off
      expect(maxRelErr(got.ctx, forwardRef({ ...c, qkv, mask }).ctx)).toBeGreaterThan(0.01);
      for (const x of Object.values(t)) rt.pool.release(x);
    });
  }

  it('with dropout p=0 is bit-identical to no dropout', async () => {
    const rt = await gpu();
    const c = cases[1];
    const plain = await run(rt, c, 3000);
    const zero = await run(rt, { ...c, dropout: { p: 0, seed: 5 } }, 3000);
    for (const k of ['ctx', 'lse', 'dqkv', 'delta'] as const) expect(Buffer.from(zero.got[k].buffer).equals(Buffer.from(plain.got[k].buffer))).toBe(true);
    for (const x of [...Object.values(plain.t), ...Object.values(zero.t)]) rt.pool.release(x);
  });

  it('chooses tiles within the workgroup memory limit', () => {
    for (const D of [8, 16, 24, 32, 64, 128]) {
      for (const bytes of [32768, 49152]) {
        const tl = attentionTiles(D, bytes);
        expect(tl.FBQ % 8).toBe(0);
        expect(tl.FBK % 16).toBe(0);
      }
    }
    expect(() => attentionTiles(256, 16384)).toThrow(/\[attention\] head size 256 needs \d+ bytes of workgroup memory/);
  });

  it('takes smaller tiles for short sequences (no 64-query tile over 8 queries), the largest for long ones', () => {
    const long = attentionTiles(16, 32768);
    expect(attentionTiles(16, 32768, 512)).toEqual(long);
    expect(attentionTiles(16, 32768, 64)).toEqual(long);
    expect(attentionTiles(16, 32768, 8)).toMatchObject({ FBQ: 8, FBK: 16, ROWS: 8, COLS: 16 });
    expect(attentionTiles(16, 32768, 20)).toMatchObject({ FBQ: 32, FBK: 32, ROWS: 32, COLS: 32 });
    expect(attentionTiles(16, 32768, 1)).toMatchObject({ FBQ: 8, FBK: 16 });
    expect(long.FBQ).toBeGreaterThan(8);
  });

  it('rejects shapes that do not fit, naming the kernel', async () => {
    const rt = await gpu();
    const s = { batch: 2, seqLen: 5, heads: 2, headDim: 8 };
    const qkv = await rt.pool.tensor([10, 47], 'qkv');
    const mask = await rt.pool.tensor([2, 5], 'mask', 'u32');
    const fmask = await rt.pool.tensor([2, 5], 'fmask');
    const ctx = await rt.pool.tensor([10, 16], 'ctx');
    const lse = await rt.pool.tensor([2, 2, 5], 'lse');
    await expect(attentionForward(rt, { ...s, qkv, mask, ctx, lse })).rejects.toThrow(/\[attention\.forward\] qkv 'qkv' has 470 elements \[10,47\], needs 480/);
    const qkvOk = await rt.pool.tensor([10, 48], 'qkv');
    await expect(attentionForward(rt, { ...s, qkv: qkvOk, mask: fmask, ctx, lse })).rejects.toThrow(/\[attention\.forward\] mask 'fmask' is f32, must be u32/);
    await expect(
      attentionBackward(rt, { ...s, qkv: qkvOk, mask, ctx, lse, dCtx: ctx, dqkv: qkvOk }),
    ).rejects.toThrow(/\[attention\.backward\] dqkv may not share a buffer with qkv/);
    await expect(attentionForward(rt, { ...s, headDim: 0, qkv: qkvOk, mask, ctx, lse })).rejects.toThrow(/\[attention\.forward\] .*positive integers/);
  });
});
