// What a checkpoint was made from: hashes of the training data, the base model and the options. A resume compares
// them with the run it is asked to continue, so other data of the same size, another model folder or other options
// are refused with a message that says which one differs (the options also field by field, in trainer.ts).
// Hashes are for identity, not security: CRC-32 chains over bytes (native in Node) and two cyrb53 chains over text.

import { hash53 } from '../data/hash.ts';
import type { ModelConfig } from '../model/config.ts';
import { crc32 } from '../util/crc32.ts';
import type { TrainExample } from './types.ts';

export interface RunFingerprint {
  /** Training and validation examples, in order. */
  data: string;
  /** The base model: config and every parameter's name and bytes. */
  model: string;
  /** The resolved options. */
  options: string;
}

/** A 106-bit hash of a sequence of strings (two cyrb53 chains), as hex. */
function textHash(parts: Iterable<string>): string {
  let a = 0;
  let b = 0x9e3779b9;
  let buf = '';
  const flush = () => {
    a = hash53(buf, a % 0x100000000);
    b = hash53(buf, b % 0x100000000);
    buf = '';
  };
  for (const p of parts) {
    buf += p.length + ':' + p + '\u0000'; // length-prefixed so ["ab","c"] ≠ ["a","bc"]
    if (buf.length > 1 << 16) flush();
  }
  flush();
  return a.toString(16).padStart(14, '0') + b.toString(16).padStart(14, '0');
}

function* exampleStrings(sets: readonly (readonly TrainExample[])[]): Generator<string> {
  for (const set of sets) {
    yield `set ${set.length}`;
    for (const e of set) {
      yield e.query;
      yield `pos ${e.pos.length}`;
      yield* e.pos;
      yield `neg ${e.neg.length}`;
      yield* e.neg;
    }
  }
}

const sortedJson = (o: object) => JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1))));

export function dataFingerprint(data: { train: readonly TrainExample[]; val: readonly TrainExample[] }): string {
  return textHash(exampleStrings([data.train, data.val]));
}

export function modelFingerprint(model: { config: ModelConfig; params: ReadonlyMap<string, Float32Array> }): string {
  let crc = 0;
  let values = 0;
  const enc = new TextEncoder();
  crc = crc32(enc.encode(sortedJson(model.config.raw)), crc);
  for (const [name, p] of model.params) {
    crc = crc32(enc.encode(name), crc);
    crc = crc32(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), crc);
    values += p.length;
  }
  return `${crc.toString(16).padStart(8, '0')}-${values}`;
}

export function runFingerprint(
  model: { config: ModelConfig; params: ReadonlyMap<string, Float32Array> },
  data: { train: readonly TrainExample[]; val: readonly TrainExample[] },
  options: object,
): RunFingerprint {
  return { data: dataFingerprint(data), model: modelFingerprint(model), options: textHash([sortedJson(options)]) };
}

/** Why a run may not continue a checkpoint made from `saved`; empty when it may. */
export function fingerprintMismatch(saved: RunFingerprint, now: RunFingerprint): string[] {
  const why: string[] = [];
  if (saved.data !== now.data) why.push('the training or validation data differ from the run that made it (same file names perhaps, other content)');
  if (saved.model !== now.model) why.push('the base model differs from the one it was trained from (another model folder, or changed weights)');
  if (saved.options !== now.options) why.push('the training options differ');
  return why;
}
