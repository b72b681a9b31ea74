// Loads a tests/fixtures/hf-parity/<name> folder for the model tests (not a test file itself).
import type { AdamwHardExpected, ParityFixture } from '../../../src/train/parity.ts';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadHfFolder, readFolderNode, type HfModel } from '../../../src/model/hf-folder.ts';
import { readSafetensors } from '../../../src/model/safetensors.ts';

export const FIXTURES = ['bert-tiny', 'xlmr-tiny'] as const;

export function fixtureDir(name: string): string {
  return fileURLToPath(new URL(`../../fixtures/hf-parity/${name}/`, import.meta.url));
}

/** The dump's batch.json and expected.json, as the engine's parity check reads them. */
export type FixtureBatch = ParityFixture['batch'];
export type FixtureExpected = ParityFixture['expected'] & { max_length: number; group_size: number };

export interface Fixture {
  model: HfModel;
  batch: FixtureBatch;
  expected: FixtureExpected;
  f64(file: 'grads_bce' | 'grads_listwise' | 'after_adamw' | 'after_adamw_hard'): Map<string, Float64Array>;
  /** tests/python/dump_adamw_fixture.py's adamw_hard.json. */
  adamwHard(): AdamwHardExpected;
}

export async function loadFixture(name: string): Promise<Fixture> {
  const dir = fixtureDir(name);
  const model = await loadHfFolder(await readFolderNode(dir));
  const json = (f: string) => JSON.parse(readFileSync(dir + f, 'utf8'));
  return {
    model,
    batch: json('batch.json'),
    expected: json('expected.json'),
    adamwHard: () => json('adamw_hard.json'),
    f64(file) {
      const r = readSafetensors(readFileSync(`${dir}${file}.safetensors`));
      return new Map([...r.tensors].map(([k, t]) => {
        if (!(t.data instanceof Float64Array)) throw new Error(`${file}.safetensors: ${k} is ${t.dtype}, expected F64`);
        return [k, t.data];
      }));
    },
  };
}

/** max |a − b| / max |b| (the per-tensor error). */
export { relErr } from '../../../src/kernels/tolerances.ts';
