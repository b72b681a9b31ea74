// Matmul throughput in the three forms training uses, on the adapter present. Used by `npm run bench` and by
// `rerank-lab bench --matmul` (the bundled command line on the lent GPU machine).
import type { GpuRuntime } from '../gpu/runtime.ts';
import { matmul } from './matmul.ts';
import { defaultTile } from './matmul-tune.ts';

const FORMS = [
  { name: 'Y = X·Wᵀ + b', transA: false, transB: true, bias: true, accumulate: false },
  { name: 'dX = dY·W', transA: false, transB: false, bias: false, accumulate: false },
  { name: 'dW += dYᵀ·X', transA: true, transB: false, bias: false, accumulate: true },
];

/** Sizes n (n³ products); on a software adapter small ones so it finishes in seconds. */
export function defaultMatmulSizes(rt: GpuRuntime): number[] {
  return rt.info.isSoftware ? [64, 128, 256] : [1024, 2048, 3072, 4096];
}

/** Runs each size in each form (about 0.5 s of work each) and returns a printable table. */
export async function matmulBenchTable(rt: GpuRuntime, sizes: number[]): Promise<string> {
  const tile = defaultTile(rt);
  // TFLOP/s on real GPUs; GFLOP/s on software adapters, whose figures would all print as 0.000 TFLOP/s.
  const unit = rt.info.isSoftware ? { name: 'GFLOP/s', scale: 1e9 } : { name: 'TFLOP/s', scale: 1e12 };
  const rows: string[][] = [];
  for (const n of sizes) {
    const data = new Float32Array(n * n).map(() => Math.random() - 0.5);
    const A = await rt.pool.upload(data, [n, n], 'A');
    const B = await rt.pool.upload(data, [n, n], 'B');
    const C = await rt.pool.tensor([n, n], 'C');
    const bias = await rt.pool.upload(data.subarray(0, n), [n], 'bias');
    const row = [`${n}³`];
    for (const f of FORMS) {
      const run = () =>
        matmul(rt, { a: A, b: B, c: C, M: n, N: n, K: n, transA: f.transA, transB: f.transB, accumulate: f.accumulate, bias: f.bias ? bias : undefined });
      await run();
      await rt.flush(); // warm-up: pipeline creation, first dispatch
      const once = await rt.time(run);
      const reps = Math.max(1, Math.min(50, Math.round(500 / Math.max(once, 1e-3))));
      const ms = (await rt.time(async () => { for (let i = 0; i < reps; i++) await run(); })) / reps;
      row.push(((2 * n ** 3) / (ms * 1e-3) / unit.scale).toFixed(3));
    }
    rows.push(row);
    for (const t of [A, B, C, bias]) rt.pool.release(t);
    rt.pool.trim();
  }
  const header = ['size', ...FORMS.map((f) => `${f.name} ${unit.name}`)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  return [
    `adapter: ${rt.info.name}${rt.info.isSoftware ? ' (software)' : ''}`,
    `tile: ${tile.name}`,
    '',
    line(header),
    '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...rows.map(line),
  ].join('\n');
}
