// Kernel throughput on the adapter present, for `npm run bench` and `rerank-lab bench --matmul` (the bundled command
// line on the lent GPU machine):
//   squares     n³ products in the three forms training uses; the best of them is the adapter's reference figure
//   layer       the twelve matmuls of one bert-base layer at B·L = 16,384 tokens, each in its training form
//               (forward Y = X·Wᵀ + b, dX = dY·W, dW += dYᵀ·X with the bias gradient), spot-checked against float64
//   attention   today's fused attention forward and backward at L = 128, 256, 512 (B·L = 16,384, 12 heads of 64)
// Each row prints TFLOP/s (GFLOP/s on a software adapter) and its share of the best square. `quick` shrinks every
// shape (hidden 64, 256 tokens) so SwiftShader finishes in a minute or two.
import type { Tensor } from '../gpu/buffers.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';
import { attentionBackward, attentionForward } from './attention.ts';
import { fill } from './elementwise.ts';
import { type MatmulArgs, matmul, matmulPlan } from './matmul.ts';
import { defaultTile, matmulPicks, tileCandidates, tuneKey } from './matmul-tune.ts';

const FORMS = [
  { name: 'Y = X·Wᵀ + b', transA: false, transB: true, bias: true, accumulate: false },
  { name: 'dX = dY·W', transA: false, transB: false, bias: false, accumulate: false },
  { name: 'dW += dYᵀ·X', transA: true, transB: false, bias: false, accumulate: true },
];

export interface BenchShapes {
  squares: number[];
  /** Tokens (B·L), hidden, intermediate. */
  layer: { T: number; H: number; I: number };
  attention: { tokens: number; heads: number; headDim: number; lengths: number[] };
}

/** The shapes to time: bert-base at B·L = 16,384 on hardware; small ones with `quick` (or on a software adapter). */
export function benchShapes(rt: GpuRuntime, quick = rt.info.isSoftware, squares?: number[]): BenchShapes {
  if (quick) {
    return {
      squares: squares ?? [64, 128],
      layer: { T: 256, H: 64, I: 256 },
      attention: { tokens: 256, heads: 2, headDim: 32, lengths: [16, 32, 64] },
    };
  }
  return {
    squares: squares ?? [1024, 2048, 4096],
    layer: { T: 16384, H: 768, I: 3072 },
    attention: { tokens: 16384, heads: 12, headDim: 64, lengths: [128, 256, 512] },
  };
}

interface Row {
  group: string;
  name: string;
  shape: string;
  tile: string;
  ms: number;
  flops: number;
  check?: number;
}

/** xorshift32 values in [-0.5, 0.5): quick enough for hundreds of millions of elements. */
function randomData(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x / 4294967296 - 0.5;
  }
  return out;
}

/** Milliseconds per call of `run`, after a warm-up (pipelines, the autotune), over about half a second of work. */
async function timeIt(rt: GpuRuntime, run: () => Promise<void>, budgetMs: number): Promise<number> {
  await run();
  await rt.flush();
  const once = await rt.time(run);
  const reps = Math.max(1, Math.min(50, Math.round(budgetMs / Math.max(once, 1e-3))));
  return (await rt.time(async () => { for (let i = 0; i < reps; i++) await run(); })) / reps;
}

/** Largest relative error of a few sampled elements of C against float64 (C zeroed first for accumulating forms). */
async function spotCheck(rt: GpuRuntime, x: MatmulArgs, a: Float32Array, b: Float32Array, bias: Float32Array | undefined): Promise<number> {
  await fill(rt, { y: x.c, n: x.M * x.N, value: 0 });
  await matmul(rt, x);
  let worst = 0;
  let scale = 0;
  const rows = [0, x.M - 1, Math.floor(x.M / 3), Math.floor((2 * x.M) / 3)];
  for (const m of rows) {
    const got = new Float32Array(await rt.read(x.c.buffer, x.N * 4, m * x.N * 4));
    for (const n of [0, x.N - 1, Math.floor(x.N / 2), Math.floor(x.N / 7)]) {
      let s = 0;
      for (let k = 0; k < x.K; k++) {
        const av = x.transA ? a[k * x.M + m] : a[m * x.K + k];
        const bv = x.transB ? b[n * x.K + k] : b[k * x.N + n];
        s += av * bv;
      }
      if (bias) s += bias[n];
      worst = Math.max(worst, Math.abs(got[n] - s));
      scale = Math.max(scale, Math.abs(s));
    }
  }
  return worst / Math.max(scale, 1e-30);
}

export interface BenchOptions {
  quick?: boolean;
  squares?: number[];
  /** Skip the layer and attention shapes. */
  squaresOnly?: boolean;
  /** Approximate milliseconds of GPU work per timed row. */
  budgetMs?: number;
  onRow?: (line: string) => void;
}

/** Runs every shape and returns the printable table (rows also go to onRow as they finish). */
export async function matmulBenchTable(rt: GpuRuntime, sizesOrOptions: number[] | BenchOptions = {}): Promise<string> {
  const o: BenchOptions = Array.isArray(sizesOrOptions) ? { squares: sizesOrOptions.length ? sizesOrOptions : undefined } : sizesOrOptions;
  const shapes = benchShapes(rt, o.quick ?? rt.info.isSoftware, o.squares);
  const budget = o.budgetMs ?? (rt.info.isSoftware ? 50 : 300);
  const soft = rt.info.isSoftware;
  const unit = soft ? { name: 'GFLOP/s', scale: 1e9 } : { name: 'TFLOP/s', scale: 1e12 };
  const rows: Row[] = [];
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    o.onRow?.(s);
  };
  const candidates = tileCandidates(rt).map((t) => t.name);
  say(`adapter: ${rt.info.name}${soft ? ' (software)' : ''}; features: ${rt.info.features.join(', ') || 'none'}`);
  say(`matmul tiles: ${candidates.length > 1 ? `autotuned among ${candidates.join(', ')}` : candidates[0]} (default ${defaultTile(rt).name})`);
  const fmt = (r: Row, best: number) => {
    const rate = r.flops / (r.ms * 1e-3) / unit.scale;
    const pct = best > 0 ? ((100 * r.flops) / (r.ms * 1e-3) / best).toFixed(0) + ' %' : '';
    const check = r.check === undefined ? '' : r.check.toExponential(1);
    return `| ${r.group.padEnd(9)} | ${r.name.padEnd(24)} | ${r.shape.padEnd(20)} | ${r.tile.padEnd(14)} | ${r.ms.toFixed(3).padStart(9)} | ${rate.toFixed(3).padStart(9)} | ${pct.padStart(5)} | ${check.padStart(7)} |`;
  };
  say('');
  say(`| group     | kernel                   | shape                | tile / split   |        ms | ${unit.name.padStart(9)} | % sq  | check   |`);
  say('|-----------|--------------------------|----------------------|----------------|-----------|-----------|-------|---------|');
  let bestSquare = 0; // FLOP/s
  const tileOf = async (x: MatmulArgs): Promise<string> => {
    const plan = matmulPlan(x);
    const pick = (await matmulPicks()).get(tuneKey(rt, x, plan)) ?? (candidates.length === 1 ? candidates[0] : '?');
    return `${pick}${plan.splits > 1 ? ` /${plan.splits}` : ''}`;
  };
  const held: Tensor[] = [];
  const upload = async (data: Float32Array, label: string) => {
    const t = await rt.pool.upload(data, [data.length], label);
    held.push(t);
    return t;
  };
  const releaseAll = () => {
    for (const t of held.splice(0)) rt.pool.release(t);
    rt.pool.trim();
  };

  // Squares.
  for (const n of shapes.squares) {
    const data = randomData(n * n, n);
    const A = await upload(data, 'A');
    const B = await upload(data, 'B');
    const C = await upload(data, 'C');
    const bias = await upload(data.subarray(0, n), 'bias');
    for (const f of FORMS) {
      const x: MatmulArgs = { a: A, b: B, c: C, M: n, N: n, K: n, transA: f.transA, transB: f.transB, accumulate: f.accumulate, bias: f.bias ? bias : undefined };
      const ms = await timeIt(rt, () => matmul(rt, x), budget);
      const r: Row = { group: 'square', name: f.name, shape: `${n}³`, tile: await tileOf(x), ms, flops: 2 * n ** 3 };
      bestSquare = Math.max(bestSquare, r.flops / (ms * 1e-3));
      rows.push(r);
      say(fmt(r, 0));
    }
    releaseAll();
  }
  if (o.squaresOnly) return finish();

  // The twelve matmuls of one layer.
  const { T, H, I } = shapes.layer;
  const linears = [
    { name: 'qkv', N: 3 * H, K: H },
    { name: 'attn.out', N: H, K: H },
    { name: 'ffn.in', N: I, K: H },
    { name: 'ffn.out', N: H, K: I },
  ];
  const big = randomData(T * Math.max(3 * H, I), 7);
  for (const l of linears) {
    // X [T,K], W [N,K], b [N], Y and dY [T,N], dX [T,K], dW [N,K], db [N]
    const X = await upload(big.subarray(0, T * l.K), 'X');
    const W = await upload(big.subarray(0, l.N * l.K), 'W');
    const b = await upload(big.subarray(0, l.N), 'b');
    const Y = await upload(big.subarray(0, T * l.N), 'Y');
    const dY = await upload(big.subarray(0, T * l.N), 'dY'); // Y is overwritten by the forward rows
    const dX = await upload(big.subarray(0, T * l.K), 'dX');
    const dW = await upload(big.subarray(0, l.N * l.K), 'dW');
    const db = await upload(big.subarray(0, l.N), 'db');
    const xs = big.subarray(0, T * l.K);
    const ws = big.subarray(0, l.N * l.K);
    const ys = big.subarray(0, T * l.N);
    const forms: [string, MatmulArgs, Float32Array, Float32Array, Float32Array | undefined][] = [
      ['Y = X·Wᵀ + b', { a: X, b: W, c: Y, M: T, N: l.N, K: l.K, transB: true, bias: b }, xs, ws, ys.subarray(0, l.N)],
      ['dX = dY·W', { a: dY, b: W, c: dX, M: T, N: l.K, K: l.N }, ys, ws, undefined],
      ['dW += dYᵀ·X, db', { a: dY, b: X, c: dW, M: l.N, N: l.K, K: T, transA: true, accumulate: true, biasGrad: db }, ys, xs, undefined],
    ];
    for (const [form, x, av, bv, bias] of forms) {
      const check = await spotCheck(rt, x, av, bv, bias);
      const ms = await timeIt(rt, () => matmul(rt, x), budget);
      const r: Row = { group: 'layer', name: `${l.name} ${form}`, shape: `${x.M}x${x.N}x${x.K}`, tile: await tileOf(x), ms, flops: 2 * x.M * x.N * x.K, check };
      rows.push(r);
      say(fmt(r, bestSquare));
    }
    releaseAll();
  }

  // Attention forward and backward with today's kernels.
  const { tokens, heads, headDim, lengths } = shapes.attention;
  const Hd = heads * headDim;
  for (const L of lengths) {
    const B = tokens / L;
    const qkv = await upload(big.subarray(0, tokens * 3 * Hd), 'qkv');
    const mask = await rt.pool.upload(new Uint32Array(B * L).fill(1), [B * L], 'mask');
    held.push(mask);
    const ctx = await upload(big.subarray(0, tokens * Hd), 'ctx');
    const lse = await upload(big.subarray(0, B * heads * L), 'lse');
    const dCtx = await upload(big.subarray(0, tokens * Hd), 'dCtx');
    const dqkv = await upload(big.subarray(0, tokens * 3 * Hd), 'dqkv');
    const shape = { batch: B, seqLen: L, heads, headDim };
    const fwdFlops = 4 * B * heads * L * L * headDim; // QKᵀ and PV
    const fwd = await timeIt(rt, () => attentionForward(rt, { ...shape, qkv, mask, ctx, lse }), budget);
    const bwd = await timeIt(rt, () => attentionBackward(rt, { ...shape, qkv, mask, ctx, lse, dCtx, dqkv }), budget);
    for (const [name, ms, flops] of [['forward', fwd, fwdFlops], ['backward', bwd, 2 * fwdFlops]] as const) {
      const r: Row = { group: 'attention', name, shape: `B${B} L${L} ${heads}x${headDim}`, tile: 'fused', ms, flops };
      rows.push(r);
      say(fmt(r, bestSquare));
    }
    releaseAll();
  }
  return finish();

  function finish(): string {
    say('');
    say(`best square: ${(bestSquare / unit.scale).toFixed(3)} ${unit.name}. FLOPs counted as 2·M·N·K; attention forward 4·B·heads·L²·d, backward twice that (what a non-recomputing backward needs; today's kernel does more).`);
    say('check: max |gpu - float64| / max |float64| over 16 sampled elements (C zeroed first).');
    releaseAll();
    return lines.join('\n');
  }
}
