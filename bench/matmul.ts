// `npm run bench`: matmul throughput on the adapter present, in the three forms training uses.
// Sizes 1024³ to 4096³ on a real GPU; on a software adapter (SwiftShader, ~0.5 GFLOP/s) small sizes so it
// finishes in seconds. `npm run bench -- 512 1024` picks the sizes.
import { GpuRuntime } from '../src/gpu/runtime.ts';
import { matmul, matmulTile } from '../src/kernels/matmul.ts';

const rt = await GpuRuntime.create();
const argSizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const sizes = argSizes.length ? argSizes : rt.info.isSoftware ? [64, 128, 256] : [1024, 2048, 3072, 4096];
const tile = matmulTile(rt);
console.log(`adapter: ${rt.info.name}${rt.info.isSoftware ? ' (software)' : ''}`);
console.log(`tile: ${16 * tile.TM}x${16 * tile.TN}, ${tile.TM}x${tile.TN} per thread, BK ${tile.BK}\n`);

const forms = [
  { name: 'Y = X·Wᵀ + b', transA: false, transB: true, bias: true, accumulate: false },
  { name: 'dX = dY·W', transA: false, transB: false, bias: false, accumulate: false },
  { name: 'dW += dYᵀ·X', transA: true, transB: false, bias: false, accumulate: true },
];
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
  for (const f of forms) {
    const run = () => matmul(rt, { a: A, b: B, c: C, M: n, N: n, K: n, transA: f.transA, transB: f.transB, accumulate: f.accumulate, bias: f.bias ? bias : undefined });
    await run();
    await rt.flush(); // warm-up: pipeline creation, first dispatch
    // Enough repetitions for ~0.5 s of work on the measured rate, at least 1.
    const once = await rt.time(run);
    const reps = Math.max(1, Math.min(50, Math.round(500 / Math.max(once, 1e-3))));
    const ms = (await rt.time(async () => { for (let i = 0; i < reps; i++) await run(); })) / reps;
    row.push(((2 * n ** 3) / (ms * 1e-3) / unit.scale).toFixed(3));
  }
  rows.push(row);
  for (const t of [A, B, C, bias]) rt.pool.release(t);
  rt.pool.trim();
}
const header = ['size', ...forms.map((f) => `${f.name} ${unit.name}`)];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
console.log(line(header));
console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const r of rows) console.log(line(r));
rt.destroy();
