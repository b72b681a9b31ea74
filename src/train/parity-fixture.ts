// Reads a parity fixture folder (laid out like tests/fixtures/hf-parity/*) in Node.
import { loadHfFolder, readFolderNode } from '../model/hf-folder.ts';
import { readSafetensors } from '../model/safetensors.ts';
import type { ParityFixture } from './parity.ts';

export async function loadParityFixture(dir: string): Promise<ParityFixture> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const files = await readFolderNode(dir);
  const need = ['batch.json', 'expected.json', 'grads_bce.safetensors', 'grads_listwise.safetensors', 'after_adamw.safetensors'];
  const missing = need.filter((f) => !files.has(f));
  if (missing.length) throw new Error(`${dir} is not a parity fixture folder: missing ${missing.join(', ')}`);
  // tests/python/dump_adamw_fixture.py's output (optional: a folder from an older dump has only the three steps)
  const hard = ['adamw_hard.json', 'after_adamw_hard.safetensors'];
  const hasHard = hard.every((f) => files.has(f));
  // The dumps are not part of the model: load the model from the folder without them.
  for (const f of [...need, ...hard]) files.delete(f);
  const model = await loadHfFolder(files);
  const json = async (f: string) => JSON.parse(await fs.readFile(path.join(dir, f), 'utf8'));
  const f64 = async (f: string) => {
    const r = readSafetensors(new Uint8Array(await fs.readFile(path.join(dir, f))));
    return new Map([...r.tensors].map(([k, t]) => [k, Float64Array.from(t.data)]));
  };
  return {
    model,
    batch: await json('batch.json'),
    expected: await json('expected.json'),
    gradsBce: await f64('grads_bce.safetensors'),
    gradsListwise: await f64('grads_listwise.safetensors'),
    afterAdamw: await f64('after_adamw.safetensors'),
    adamwHard: hasHard ? { expected: await json('adamw_hard.json'), after: await f64('after_adamw_hard.safetensors') } : undefined,
  };
}
