// `npm run bench`: matmul throughput on the adapter present, in the three forms training uses.
// Sizes 1024³ to 4096³ on a real GPU; on a software adapter (SwiftShader) small sizes so it finishes in seconds.
// `npm run bench -- 512 1024` picks the sizes.
import { GpuRuntime } from '../src/gpu/runtime.ts';
import { defaultMatmulSizes, matmulBenchTable } from '../src/kernels/matmul-bench.ts';

const rt = await GpuRuntime.create();
const argSizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
console.log(await matmulBenchTable(rt, argSizes.length ? argSizes : defaultMatmulSizes(rt)));
rt.destroy();
