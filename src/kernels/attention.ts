// Launchers for shaders/attention.wgsl (float64 reference in src/model/reference/layers.ts): fused multi-head
// self-attention with a key padding mask, forward (flash-attention style, saves the per-row logsumexp) and backward (recompute).
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
import { dropoutConstants } from './elementwise.ts';

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
export function attentionTiles(headDim: number, workgroupBytes: number, seqLen = Infinity): AttentionTiles {
  const DMAX = headSizeClass(headDim);
  // Short sequences take smaller tiles: a 64-query tile over 8 real queries does 8× the work for nothing (one
  // workgroup per (block, head, sequence)). Rows and columns are capped at the length rounded up to a power of two
  // (at least the smallest tile, 8 × 16); the tile list is in falling size, so the largest tile that fits wins.
  const cap = Math.max(8, 2 ** Math.ceil(Math.log2(Math.max(1, seqLen))));
  const short = ([q, k]: [number, number]) => q <= cap && k <= Math.max(16, cap);
  const f = FORWARD_TILES.find((t) => short(t) && forwardTileBytes(DMAX, t[0], t[1]) <= workgroupBytes);
  const b = BACKWARD_TILES.find((t) => short(t) && backwardTileBytes(DMAX, t[0], t[1]) <= workgroupBytes);
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
  const t = attentionTiles(D, rt.info.limits.maxComputeWorkgroupStorageSize, L);
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
  const t = attentionTiles(D, rt.info.limits.maxComputeWorkgroupStorageSize, L);
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
