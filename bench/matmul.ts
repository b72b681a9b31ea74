// `npm run bench`: kernel throughput on the adapter present (see src/kernels/matmul-bench.ts): square matmuls, the
// twelve matmuls of a bert-base layer at B·L = 16,384, attention forward/backward at L 128/256/512, each with
// TFLOP/s and % of the best square. On a software adapter (SwiftShader) or with --quick, small shapes.
//   npm run bench [-- --quick] [-- --squares-only] [-- 512 1024]   (sizes: the squares)
import { GpuRuntime } from '../src/gpu/runtime.ts';
import { configureMatmulTuning } from '../src/cli/matmul-tuning.ts';
import { matmulBenchTable } from '../src/kernels/matmul-bench.ts';

const args = process.argv.slice(2);
configureMatmulTuning();
const rt = await GpuRuntime.create();
const sizes = args.map(Number).filter((n) => n > 0);
try {
  await matmulBenchTable(rt, {
    quick: args.includes('--quick') ? true : undefined,
    squaresOnly: args.includes('--squares-only'),
    squares: sizes.length ? sizes : undefined,
    onRow: (line) => console.log(line),
  });
} finally {
  rt.destroy();
}
