// `rerank-lab adapter`: prints the WebGPU adapter Rerank Lab would train on, its limits and features, as JSON.
import { GpuRuntime } from '../../gpu/runtime.ts';

export const help = `rerank-lab adapter
  Prints the WebGPU adapter (name, whether it is software, optional features, limits) as JSON.`;

export async function run(_argv: string[]): Promise<number> {
  const rt = await GpuRuntime.create();
  console.log(JSON.stringify(rt.info, null, 2));
  rt.destroy();
  return 0;
}
