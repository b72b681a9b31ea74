// `rerank-lab adapter`: prints the WebGPU adapter Rerank Lab would train on, its limits and features, as JSON.
import { GpuRuntime } from '../../gpu/runtime.ts';
import { defineCommand, parseCommand } from '../args.ts';

export const command = defineCommand({
  name: 'adapter',
  usage: '',
  about: 'Prints the WebGPU adapter (name, whether it is software, optional features, limits) as JSON.',
  options: {},
});

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(command, argv);
  if (typeof args === 'number') return args;
  const rt = await GpuRuntime.create();
  console.log(JSON.stringify(rt.info, null, 2));
  rt.destroy();
  return 0;
}
