// `rerank-lab parity <dir>`: the engine against a Hugging Face dump (a folder laid out like
// tests/fixtures/hf-parity/*). Prints one JSON object; exits 0 only when every figure is within bounds.
import { parseArgs } from 'node:util';
import { GpuRuntime } from '../../gpu/runtime.ts';
import { loadParityFixture } from '../../train/parity-fixture.ts';
import { runParity } from '../../train/parity.ts';

export const help = `rerank-lab parity <dir>
  Loads a folder laid out like tests/fixtures/hf-parity/* (a model folder plus batch.json, expected.json,
  grads_bce.safetensors, grads_listwise.safetensors, after_adamw.safetensors), runs tokenisation, forward, both
  losses, backward and the three AdamW steps, and prints
  {"ids_equal", "logits_max_rel_err", "loss_bce_abs_err", "loss_listwise_abs_err", "grads_bce_max_rel_err",
   "grads_listwise_max_rel_err", "after_adamw_max_rel_err", "adapter", …}.
  Exit code 0 only when every figure is within the bounds (logits 1e-5 relative, losses 1e-6 absolute,
  gradients and AdamW weights 1e-4 relative).`;

export async function run(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  const dir = positionals[0];
  if (!dir) {
    console.error(`parity: which folder?\n\n${help}`);
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
