// `rerank-lab parity <dir>`: the engine against a Hugging Face dump (a folder laid out like
// tests/fixtures/hf-parity/*). Prints one JSON object; exits 0 only when every figure is within bounds.
import { GpuRuntime } from '../../gpu/runtime.ts';
import { loadParityFixture } from '../../train/parity-fixture.ts';
import { runParity } from '../../train/parity.ts';
import { defineCommand, helpText, parseCommand } from '../args.ts';

export const command = defineCommand({
  name: 'parity',
  usage: '<dir>',
  positionals: true,
  options: {},
  about: `Loads a folder laid out like tests/fixtures/hf-parity/* (a model folder plus batch.json, expected.json,
grads_bce.safetensors, grads_listwise.safetensors, after_adamw.safetensors, and optionally adamw_hard.json +
after_adamw_hard.safetensors from tests/python/dump_adamw_fixture.py), runs tokenisation, forward, both losses,
backward, the three AdamW steps and the six hard clipped ones, and prints every figure with "failed" (the figures
over their bound) and "pass".
Exit code 0 only when every printed figure is within its bound: logits 1e-5 relative; losses (also before each
AdamW step) 1e-6 absolute; gradients, weights after AdamW and logits after AdamW 1e-4 relative; gradient norms
before clipping 1e-5 relative.`,
});

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(command, argv);
  if (typeof args === 'number') return args;
  const dir = args.positionals[0];
  if (!dir) {
    console.error(`parity: which folder?\n\n${helpText(command)}`);
    return 2;
  }
  const fixture = await loadParityFixture(dir);
  const rt = await GpuRuntime.create();
  try {
    const report = await runParity(rt, fixture);
    console.log(JSON.stringify(report, null, 2));
    return report.pass ? 0 : 1;
  } finally {
    rt.destroy();
  }
}
