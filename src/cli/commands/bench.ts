// `rerank-lab bench`: training throughput with random weights of a named shape, as JSON.
import { GpuRuntime } from '../../gpu/runtime.ts';
import { PRESETS } from '../../model/presets.ts';
import { matmulBenchTable } from '../../kernels/matmul-bench.ts';
import { setMatmulTuning } from '../../kernels/matmul-tune.ts';
import { runBench } from '../../train/bench.ts';
import { defineCommand, parseCommand } from '../args.ts';

export const command = defineCommand({
  name: 'bench',
  usage: ['--matmul [--quick] [--squares-only] [--tile NAME] [sizes…]', `--arch ${Object.keys(PRESETS).join('|')} --batch N (--length N | --lengths MIN-MAX) [--steps N] [--profile]`],
  positionals: true,
  options: {
    matmul: {
      kind: 'flag',
      section: 'Kernel throughput (the table of `npm run bench`):',
      help: 'square matmuls in the three forms training uses (sizes… replace the default squares), the twelve\nmatmuls of a bert-base layer at B·L = 16,384 (spot-checked against float64), attention forward and\nbackward at L 128/256/512; TFLOP/s and % of the best square',
    },
    quick: { kind: 'flag', help: 'small shapes (the default on a software adapter)' },
    'squares-only': { kind: 'flag', help: 'only the square matmuls' },
    tile: { value: 'NAME', help: "one matmul tile instead of the autotune's picks (as RERANK_LAB_MATMUL_TILE does)" },
    arch: {
      value: 'NAME',
      default: 'bert-base',
      section: 'Training throughput with random weights of a named shape (the shapes of torch_reference.py), BCE on random\nlabels, AdamW; prints {"arch","batch","length","pairs_per_s","ms_per_step","peak_bytes","peak_gib",…} as JSON:',
      help: Object.keys(PRESETS).join('|'),
    },
    batch: { kind: 'positive', multiple: true, defaultText: '32', help: 'pairs per step; several run one after the other: --batch 16 --batch 32' },
    length: { kind: 'positive', default: 512, help: 'tokens of every pair' },
    lengths: {
      value: 'MIN-MAX',
      help: 'instead of --length: each step\'s padded length drawn uniformly from that range; adds\n"held_bytes_first", "held_bytes_max", "held_bytes_last" (every byte the GPU buffer pool holds, live and\nfree, after the first step, at most, and at the end) and "rss_peak_bytes" (the process\'s peak resident set)',
    },
    steps: { kind: 'positive', default: 4, help: 'timed steps' },
    profile: { kind: 'flag', help: 'time every kernel with timestamp queries (where the adapter offers them) and print where the time\ngoes per step (profiling adds a pass per dispatch, so pairs/s reads lower)' },
  },
});

function printProfile(rows: { kernel: string; ms: number; dispatches: number }[], steps: number): void {
  const total = rows.reduce((a, r) => a + r.ms, 0);
  console.log(`kernel time per step (${steps} steps incl. warm-up), total ${(total / steps).toFixed(2)} ms:`);
  for (const r of rows) {
    console.log(`  ${r.kernel.padEnd(28)} ${(r.ms / steps).toFixed(3).padStart(10)} ms  ${((100 * r.ms) / total).toFixed(1).padStart(5)} %  ${(r.dispatches / steps).toFixed(0).padStart(5)} dispatches`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(command, argv);
  if (typeof args === 'number') return args;
  const { values, positionals } = args;
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
  const batches = values.batch.length ? values.batch : [32];
  const steps = values.steps;
  const range = values.lengths?.match(/^(\d+)-(\d+)$/);
  if (values.lengths !== undefined && (!range || +range[1] < 1 || +range[1] > +range[2])) {
    console.error(`bench: --lengths takes MIN-MAX with 1 ≤ MIN ≤ MAX, e.g. --lengths 8-128 (got '${values.lengths}')`);
    return 2;
  }
  const lengths: [number, number] | undefined = range ? [+range[1], +range[2]] : undefined;
  const length = lengths ? lengths[1] : values.length;
  const rt = await GpuRuntime.create();
  if (values.profile && !rt.enableProfiling()) console.error('bench: this adapter has no timestamp-query; --profile ignored');
  try {
    for (const b of batches) {
      try {
        rt.profiler?.reset();
        // Long runs on a software adapter: a line on stderr every 50 steps shows it is alive and how memory goes.
        const r = await runBench(rt, values.arch, b, length, steps, lengths, (s) => {
          if (s.step % 50 === 0) console.error(JSON.stringify({ step: s.step, length: s.length, held_bytes: s.heldBytes, rss_peak_bytes: process.resourceUsage().maxRSS * 1024 }));
        });
        // The process's high-water mark (with a software adapter, GPU buffers live in this process's memory).
        console.log(JSON.stringify({ ...r, rss_peak_bytes: process.resourceUsage().maxRSS * 1024 }));
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
