// Launchers and float64 CPU references for shaders/attention.wgsl: fused multi-head self-attention with a key
// padding mask, forward (flash-attention style, saves the per-row logsumexp) and backward (recompute).
//
//   attentionForward(rt, {qkv, mask, ctx, lse, batch, seqLen, heads, headDim})
//   attentionBackward(rt, {qkv, mask, ctx, lse, dCtx, dqkv, delta?, batch, seqLen, heads, headDim})
//
// Shapes (Hd = heads*headDim, rows are tokens: token t of sequence b is row b*seqLen + t):
//   qkv  [B*L, 3*Hd] f32   Q | K | V, head h in columns h*D..(h+1)*D of each part (one fused projection)
//   mask [B, L]      u32   1 = real token, 0 = padding (keys only; padded query rows are computed as HF does)
//   ctx  [B*L, Hd]   f32   output, head-interleaved like qkv's parts
//   lse  [B, H, L]   f32   per-row logsumexp, written by forward, read by backward (keep it until then)
//   dCtx [B*L, Hd]   f32   incoming gradient
//   dqkv [B*L, 3*Hd] f32   outgoing gradient, same layout as qkv; fully overwritten (not accumulated)
//   delta [B, H, L]  f32   scratch for backward; pass one to reuse it, otherwise it is taken from rt.pool and
//                          released again before attentionBackward returns.
// Scale 1/sqrt(D). Optional dropout on the probabilities ({p, seed}: Hugging Face's attention_probs_dropout_prob),
// the mask recomputed from the seed in backward: pass the same {p, seed} to both.

import { needElements } from './checks.ts';
import type { Tensor } from '../gpu/buffers.ts';
import { KernelShapeError } from '../gpu/errors.ts';
import { f32bits, grid, launch } from '../gpu/launch.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';
import { dropoutConstants, dropoutKeep } from './elementwise.ts';

export interface AttentionShape {
  batch: number;
  seqLen: number;
  heads: number;
  headDim: number;
  /** Dropout on the softmax probabilities (0 ≤ p < 1; absent or p 0 = none). Backward needs the same one. */
  dropout?: AttentionDropout;
}

export interface AttentionDropout {
  p: number;
  /** u32; the mask bit of P[b,h,i,j] is dropoutKeep(seed, ((b·H + h)·L + i)·L + j) (index wrapping at 2³²). */
  seed: number;
}

export interface AttentionForwardArgs extends AttentionShape {
  qkv: Tensor;
  mask: Tensor;
  ctx: Tensor;
  lse: Tensor;
}

export interface AttentionBackwardArgs extends AttentionShape {
  qkv: Tensor;
  mask: Tensor;
  ctx: Tensor;
  lse: Tensor;
  dCtx: Tensor;
  dqkv: Tensor;
  /** [B, H, L] scratch; taken from (and returned to) rt.pool when absent. */
  delta?: Tensor;
}

/**
 * Constants compiled into the shader: head-size capacity DMAX (see headSizeClass), forward tiles of FBQ queries x
 * FBK keys, backward tiles of ROWS own x COLS streamed rows.
 */
export interface AttentionTiles {
  DMAX: number;
  FBQ: number;
  FBK: number;
  ROWS: number;
  COLS: number;
}

const KERNEL = 'attention';
const THREADS_X = 16; // TX in the shader: streamed rows / head dims per thread step
const THREADS_Y = 8; // TY: own rows
const FORWARD_TILES: [number, number][] = [[64, 32], [32, 32], [32, 16], [16, 16], [8, 16]];
const BACKWARD_TILES: [number, number][] = [[32, 32], [32, 16], [16, 32], [16, 16], [8, 16]];

/** Workgroup bytes the forward entry point needs for a tile (mirrors the shader's declarations). */
export function forwardTileBytes(D: number, FBQ: number, FBK: number): number {
  const DS = D + 1;
  return 4 * (FBQ * DS + FBK * DS + FBQ * (FBK + 1) + FBQ + 1);
}

/** Workgroup bytes the backward entry point needs for a tile. */
export function backwardTileBytes(D: number, ROWS: number, COLS: number): number {
  const DS = D + 1;
  return 4 * (2 * ROWS * DS + 2 * COLS * DS + 2 * ROWS * (COLS + 1) + 2 * COLS + 1);
}

/** The head-size capacity a pipeline is compiled for (D itself is a runtime parameter): 32, 64, 128, … */
export function headSizeClass(headDim: number): number {
  return Math.max(32, 2 ** Math.ceil(Math.log2(headDim)));
}

/**
 * The largest tiles that fit the adapter's workgroup memory (SwiftShader and the WebGPU default: 16-32 KiB) for
 * head size `headDim` (sized for its class, see headSizeClass).
 */
export function attentionTiles(headDim: number, workgroupBytes: number): AttentionTiles {
  const DMAX = headSizeClass(headDim);
  const f = FORWARD_TILES.find(([q, k]) => forwardTileBytes(DMAX, q, k) <= workgroupBytes);
  const b = BACKWARD_TILES.find(([r, c]) => backwardTileBytes(DMAX, r, c) <= workgroupBytes);
  if (!f || !b) {
    const need = Math.max(forwardTileBytes(DMAX, 8, 16), backwardTileBytes(DMAX, 8, 16));
    throw new KernelShapeError(
      KERNEL,
      `head size ${headDim} needs ${need} bytes of workgroup memory, but this adapter allows ${workgroupBytes} ` +
        '(maxComputeWorkgroupStorageSize); use a model with a smaller head size or another GPU',
    );
  }
  return { DMAX, FBQ: f[0], FBK: f[1], ROWS: b[0], COLS: b[1] };
}

/**
 * The storage buffers of each entry point in binding order, by their variable names in shaders/attention.wgsl (the
 * uniform follows). The launchers bind through this table; tests/unit/kernels/bindings.test.ts checks it
 * against the shader's declarations and its binding table.
 */
export const ATTENTION_BINDINGS = {
  forward: ['qkv', 'mask', 'ctxOut', 'lseOut'],
  delta: ['deltaCtx', 'deltaDCtx', 'deltaOut'],
  backward: ['qkv', 'mask', 'lseIn', 'deltaIn', 'dCtx', 'dqkv'],
} as const;

type AttentionEntry = keyof typeof ATTENTION_BINDINGS;

/** An entry point's tensors, named as its shader variables, in binding order. */
function bindingsOf<E extends AttentionEntry>(entry: E, tensors: Record<(typeof ATTENTION_BINDINGS)[E][number], Tensor>): Tensor[] {
  const byName: Record<string, Tensor> = tensors;
  return ATTENTION_BINDINGS[entry].map((name) => byName[name]);
}

function prelude(t: AttentionTiles): string {
  return `const DMAX = ${t.DMAX}u; const FBQ = ${t.FBQ}u; const FBK = ${t.FBK}u; const ROWS = ${t.ROWS}u; const COLS = ${t.COLS}u;`;
}

function checkShape(kernel: string, s: AttentionShape): void {
  const { batch, seqLen, heads, headDim } = s;
  if (![batch, seqLen, heads, headDim].every((v) => Number.isInteger(v) && v > 0)) {
    throw new KernelShapeError(kernel, `batch, seqLen, heads and headDim must be positive integers (got ${batch}, ${seqLen}, ${heads}, ${headDim})`);
  }
  const d = s.dropout;
  if (d && !(d.p >= 0 && d.p < 1)) throw new KernelShapeError(kernel, `dropout p must be in [0, 1) (got ${d.p})`);
  if (d && !(Number.isInteger(d.seed) && d.seed >= 0 && d.seed <= 0xffffffff)) throw new KernelShapeError(kernel, `dropout seed must be an integer in 0..2^32-1 (got ${d.seed})`);
}

/** The shader's AttentionParams (forward and backward): L, H, D, scale, then dropout's threshold (0 = off), scale, seed. */
function attentionParams(s: AttentionShape): number[] {
  const { seqLen: L, heads: H, headDim: D, dropout: d } = s;
  const sizes = [L, H, D, f32bits(1 / Math.sqrt(D))];
  if (!d || d.p === 0) return [...sizes, 0, 0, 0];
  const { threshold, scale } = dropoutConstants(d.p);
  return [...sizes, threshold, f32bits(scale), d.seed >>> 0];
}

function need(kernel: string, t: Tensor, name: string, elements: number, s: AttentionShape, dtype: 'f32' | 'u32' = 'f32'): void {
  needElements(kernel, t, elements, name, `B=${s.batch} L=${s.seqLen} H=${s.heads} D=${s.headDim}`);
  if (t.dtype !== dtype) throw new KernelShapeError(kernel, `${name} '${t.label}' is ${t.dtype}, must be ${dtype}`);
}

/** The shape and the four tensors forward writes and backward reads: qkv, mask, ctx, lse. */
function checkActivations(kernel: string, x: AttentionForwardArgs): void {
  checkShape(kernel, x);
  const { batch: B, seqLen: L, heads: H, headDim: D } = x;
  need(kernel, x.qkv, 'qkv', B * L * 3 * H * D, x);
  need(kernel, x.mask, 'mask', B * L, x, 'u32');
  need(kernel, x.ctx, 'ctx', B * L * H * D, x);
  need(kernel, x.lse, 'lse', B * H * L, x);
}

function distinct(kernel: string, out: Tensor, name: string, inputs: Record<string, Tensor>): void {
  for (const [n, t] of Object.entries(inputs)) {
    if (t.buffer === out.buffer) throw new KernelShapeError(kernel, `${name} may not share a buffer with ${n}`);
  }
}

/** ctx = softmax(mask(Q·Kᵀ/sqrt(D)))·V per head; also writes lse for the backward pass. */
export async function attentionForward(rt: GpuRuntime, x: AttentionForwardArgs): Promise<void> {
  const kernel = 'attention.forward';
  checkActivations(kernel, x);
  const { batch: B, seqLen: L, heads: H, headDim: D } = x;
  distinct(kernel, x.ctx, 'ctx', { qkv: x.qkv, mask: x.mask, lse: x.lse });
  distinct(kernel, x.lse, 'lse', { qkv: x.qkv, mask: x.mask });
  const t = attentionTiles(D, rt.info.limits.maxComputeWorkgroupStorageSize);
  await launch(rt, {
    kernel,
    shader: 'attention',
    entry: 'forward',
    prelude: prelude(t),
    bindings: bindingsOf('forward', { qkv: x.qkv, mask: x.mask, ctxOut: x.ctx, lseOut: x.lse }),
    params: attentionParams(x),
    volatile: !!x.dropout, // a new dropout seed every step: keep it out of the per-shape uniform cache
    workgroups: [Math.ceil(L / t.FBQ), H, B],
  });
}

/** dqkv from dCtx, recomputing the probabilities from qkv and lse (three dispatches: delta, dK/dV, dQ). */
export async function attentionBackward(rt: GpuRuntime, x: AttentionBackwardArgs): Promise<void> {
  const kernel = 'attention.backward';
  checkActivations(kernel, x);
  const { batch: B, seqLen: L, heads: H, headDim: D } = x;
  const Hd = H * D;
  need(kernel, x.dCtx, 'dCtx', B * L * Hd, x);
  need(kernel, x.dqkv, 'dqkv', B * L * 3 * Hd, x);
  if (x.delta) {
    need(kernel, x.delta, 'delta', B * H * L, x);
    distinct(kernel, x.delta, 'delta', { qkv: x.qkv, mask: x.mask, ctx: x.ctx, lse: x.lse, dCtx: x.dCtx, dqkv: x.dqkv });
  }
  distinct(kernel, x.dqkv, 'dqkv', { qkv: x.qkv, mask: x.mask, ctx: x.ctx, lse: x.lse, dCtx: x.dCtx });
  const t = attentionTiles(D, rt.info.limits.maxComputeWorkgroupStorageSize);
  const pre = prelude(t);
  const delta = x.delta ?? (await rt.pool.tensor([B, H, L], 'attention.delta'));
  try {
    const rows = B * H * L;
    const [gx, gy] = grid(rt, Math.ceil(rows / (THREADS_X * THREADS_Y)));
    await launch(rt, {
      kernel: 'attention.delta',
      shader: 'attention',
      entry: 'delta',
      prelude: pre,
      bindings: bindingsOf('delta', { deltaCtx: x.ctx, deltaDCtx: x.dCtx, deltaOut: delta }),
      params: [L, H, D, gx * THREADS_X * THREADS_Y, rows],
      workgroups: [gx, gy],
    });
    for (const dkv of [true, false]) {
      await launch(rt, {
        kernel: dkv ? 'attention.dkv' : 'attention.dq',
        shader: 'attention',
        entry: 'backward',
        prelude: pre,
        constants: { DKV: dkv ? 1 : 0 },
        bindings: bindingsOf('backward', { qkv: x.qkv, mask: x.mask, lseIn: x.lse, deltaIn: delta, dCtx: x.dCtx, dqkv: x.dqkv }),
        params: attentionParams(x),
        volatile: !!x.dropout,
        workgroups: [Math.ceil(L / t.ROWS), H, B],
      });
    }
  } finally {
    // Safe before the GPU ran: the pool hands the buffer out again only to later work in the same queue order.
    if (!x.delta) rt.pool.release(delta);
  }
}

// ---- float64 CPU references ------------------------------------------------------------------------------------
// Written the textbook way (full score matrix, explicit softmax), independent of the kernel's tiling. Masking is
// Hugging Face's: score + finfo(float32).min, rounded to f32 as torch does. In a sequence without any real token
// that makes every score exactly finfo.min (uniform weights); we write those scores as 0 instead (the same
// softmax), so lse stays finite: log(L), as the kernel stores it.

export interface AttentionRefInput extends AttentionShape {
  qkv: ArrayLike<number>;
  mask: ArrayLike<number>;
}

const F32_MIN = -3.4028234663852886e38;

/**
 * The dropout factor of P[b,h,i,j] (0 or 1/(1-p) as the f32 the kernel uses; 1 without dropout): the kernel's mask
 * bit for bit, so the references and the model's float64 reference drop exactly what the GPU drops.
 */
export function attentionDropFactor(d: AttentionDropout | undefined, H: number, L: number, b: number, h: number, i: number, j: number): number {
  if (!d || d.p === 0) return 1;
  const { threshold, scale } = dropoutConstants(d.p);
  const index = (((b * H + h) * L + i) * L + j) % 2 ** 32; // u32 arithmetic wraps
  return dropoutKeep(d.seed, index, threshold) ? scale : 0;
}

/** probs[b][h] as [L*L] (query-major, before dropout), with ctx [B*L, Hd] = dropout(P)·V and lse [B, H, L]. */
export function attentionForwardRef(x: AttentionRefInput): { ctx: Float64Array; lse: Float64Array; probs: Float64Array[] } {
  const { batch: B, seqLen: L, heads: H, headDim: D } = x;
  const Hd = H * D;
  const S3 = 3 * Hd;
  const scale = 1 / Math.sqrt(D);
  const ctx = new Float64Array(B * L * Hd);
  const lse = new Float64Array(B * H * L);
  const probs: Float64Array[] = [];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const P = new Float64Array(L * L);
      let allPad = true;
      for (let j = 0; j < L; j++) if (x.mask[b * L + j]) allPad = false;
      for (let i = 0; i < L; i++) {
        const row = new Float64Array(L);
        for (let j = 0; j < L; j++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += x.qkv[(b * L + i) * S3 + h * D + d] * x.qkv[(b * L + j) * S3 + Hd + h * D + d];
          s *= scale;
          row[j] = allPad ? 0 : x.mask[b * L + j] ? s : Math.fround(s + F32_MIN);
        }
        let m = -Infinity;
        for (let j = 0; j < L; j++) m = Math.max(m, row[j]);
        let sum = 0;
        for (let j = 0; j < L; j++) sum += Math.exp(row[j] - m);
        lse[(b * H + h) * L + i] = m + Math.log(sum);
        for (let j = 0; j < L; j++) P[i * L + j] = Math.exp(row[j] - m) / sum;
        const f = Float64Array.from({ length: L }, (_, j) => attentionDropFactor(x.dropout, H, L, b, h, i, j));
        for (let d = 0; d < D; d++) {
          let o = 0;
          for (let j = 0; j < L; j++) o += P[i * L + j] * f[j] * x.qkv[(b * L + j) * S3 + 2 * Hd + h * D + d];
          ctx[(b * L + i) * Hd + h * D + d] = o;
        }
      }
      probs.push(P);
    }
  }
  return { ctx, lse, probs };
}

/**
 * dqkv [B*L, 3*Hd] for upstream gradient dCtx [B*L, Hd]: dV = P̃ᵀ·dO, dP = F∘(dO·Vᵀ), dS = P∘(dP − rowsum(P∘dP)),
 * dQ = scale·dS·K, dK = scale·dSᵀ·Q, with F the dropout factors and P̃ = F∘P (F = 1 without dropout). Also returns
 * delta = rowsum(P∘dP) [B, H, L].
 */
export function attentionBackwardRef(x: AttentionRefInput & { dCtx: ArrayLike<number> }): { dqkv: Float64Array; delta: Float64Array } {
  const { batch: B, seqLen: L, heads: H, headDim: D } = x;
  const Hd = H * D;
  const S3 = 3 * Hd;
  const scale = 1 / Math.sqrt(D);
  const { probs } = attentionForwardRef(x);
  const dqkv = new Float64Array(B * L * S3);
  const delta = new Float64Array(B * H * L);
  const q = (b: number, t: number, h: number, d: number, part: number) => x.qkv[(b * L + t) * S3 + part * Hd + h * D + d];
  const dO = (b: number, t: number, h: number, d: number) => x.dCtx[(b * L + t) * Hd + h * D + d];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const P = probs[b * H + h];
      const F = Float64Array.from({ length: L * L }, (_, k) => attentionDropFactor(x.dropout, H, L, b, h, Math.floor(k / L), k % L));
      const dS = new Float64Array(L * L);
      for (let i = 0; i < L; i++) {
        const dP = new Float64Array(L);
        let dl = 0;
        for (let j = 0; j < L; j++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += dO(b, i, h, d) * q(b, j, h, d, 2);
          dP[j] = F[i * L + j] * s;
          dl += P[i * L + j] * dP[j];
        }
        delta[(b * H + h) * L + i] = dl;
        for (let j = 0; j < L; j++) dS[i * L + j] = P[i * L + j] * (dP[j] - dl);
      }
      for (let t = 0; t < L; t++) {
        for (let d = 0; d < D; d++) {
          let gq = 0;
          let gk = 0;
          let gv = 0;
          for (let u = 0; u < L; u++) {
            gq += dS[t * L + u] * q(b, u, h, d, 1);
            gk += dS[u * L + t] * q(b, u, h, d, 0);
            gv += P[u * L + t] * F[u * L + t] * dO(b, u, h, d);
          }
          const o = (b * L + t) * S3 + h * D + d;
          dqkv[o] = scale * gq;
          dqkv[o + Hd] = scale * gk;
          dqkv[o + 2 * Hd] = gv;
        }
      }
    }
  }
  return { dqkv, delta };
}
