// `rerank-lab bench`: training throughput with random weights of a named shape, as JSON.
import { parseArgs } from 'node:util';
import { GpuRuntime } from '../../gpu/runtime.ts';
import { PRESETS } from '../../model/presets.ts';
import { matmulBenchTable } from '../../kernels/matmul-bench.ts';
import { setMatmulTuning } from '../../kernels/matmul-tune.ts';
import { runBench } from '../../train/bench.ts';

export const help = `rerank-lab bench --matmul [--quick] [--squares-only] [--tile NAME] [sizes…]
  Kernel throughput (the table of \`npm run bench\`): square matmuls in the three forms training uses, the twelve
  matmuls of a bert-base layer at B·L = 16,384 (spot-checked against float64), attention forward and backward at
  L 128/256/512; TFLOP/s and % of the best square. --quick: small shapes (the default on a software adapter).
  --tile uses one matmul tile instead of the autotune's picks (as RERANK_LAB_MATMUL_TILE does).
rerank-lab bench --arch ${Object.keys(PRESETS).join('|')} --batch N --length N [--steps N]
  Random weights of that shape (the shapes of torch_reference.py), BCE on random labels, AdamW, every pair
  --length tokens. Prints {"arch","batch","length","pairs_per_s","ms_per_step","peak_bytes","peak_gib",…} as JSON.
  Several --batch values run one after the other: --batch 16 --batch 32.
  --profile times every kernel with timestamp queries (where the adapter offers them) and prints a table of
  where the time goes per step (profiling adds a pass per dispatch, so pairs/s reads lower).`;

function printProfile(rows: { kernel: string; ms: number; dispatches: number }[], steps: number): void {
  const total = rows.reduce((a, r) => a + r.ms, 0);
  console.log(`kernel time per step (${steps} steps incl. warm-up), total ${(total / steps).toFixed(2)} ms:`);
  for (const r of rows) {
    console.log(`  ${r.kernel.padEnd(28)} ${(r.ms / steps).toFixed(3).padStart(10)} ms  ${((100 * r.ms) / total).toFixed(1).padStart(5)} %  ${(r.dispatches / steps).toFixed(0).padStart(5)} dispatches`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { matmul: { type: 'boolean', default: false }, quick: { type: 'boolean' }, 'squares-only': { type: 'boolean', default: false }, tile: { type: 'string' }, profile: { type: 'boolean', default: false }, arch: { type: 'string', default: 'bert-base' }, batch: { type: 'string', multiple: true }, length: { type: 'string', default: '512' }, steps: { type: 'string', default: '4' } },
  });
  if (values.matmul) {
    if (values.tile) setMatmulTuning({ force: values.tile });
    const rt = await GpuRuntime.create();
    const sizes = positionals.map(Number).filter((n) => n > 0);
    try {
      // Rows print as they finish, so a run cut short by a timeout still leaves its figures.
      await matmulBenchTable(rt, { quick: values.quick, squares: sizes.length ? sizes : undefined, squaresOnly: values['squares-only'], onRow: (l) => console.log(l) });
    } finally {
      rt.destroy();
    }
    return 0;
  }
  const batches = (values.batch ?? ['32']).map(Number);
  const length = Number(values.length);
  const steps = Number(values.steps);
  if (![...batches, length, steps].every((n) => Number.isInteger(n) && n > 0)) {
    console.error(`bench: --batch, --length and --steps take positive integers\n\n${help}`);
    return 2;
  }
  const rt = await GpuRuntime.create();
  if (values.profile && !rt.enableProfiling()) console.error('bench: this adapter has no timestamp-query; --profile ignored');
  try {
    for (const b of batches) {
      try {
        rt.profiler?.reset();
        const r = await runBench(rt, values.arch!, b, length, steps);
        console.log(JSON.stringify(r));
        if (rt.profiler) printProfile(rt.profiler.report(), r.steps + 2);
      } catch (e) {
        console.log(JSON.stringify({ arch: values.arch, batch: b, length, error: `${(e as Error).name}: ${(e as Error).message}` }));
        if (rt.lostError) await rt.recreate();
      }
    }
    return 0;
  } finally {
    rt.destroy();
  }
}
