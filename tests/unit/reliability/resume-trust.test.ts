// Issue 10, item 9: resume trusts nothing it can check. Each checkpoint file's size and CRC-32 are recorded and a
// flipped byte is refused; the checkpoint records hashes of the data, the base model and the options, and a resume
// with other data of the same size or another model is refused with what differs. A safetensors file whose tensors
// overlap is refused; an I64 weight is reported as an unsupported dtype, not as "missing".
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../../src/gpu/runtime.ts';
import { loadHfFolder } from '../../../src/model/hf-folder.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../../src/model/safetensors.ts';
import { checkpointFromBytes, checkpointToBytes } from '../../../src/train/checkpoint.ts';
import { loadCheckpointFolder, saveCheckpointFolder } from '../../../src/train/checkpoint-node.ts';
import { runFingerprint } from '../../../src/train/fingerprint.ts';
import { resolveTrainOptions, train } from '../../../src/train/trainer.ts';
import type { TrainOptions } from '../../../src/train/types.ts';
import { fakeCheckpoint } from './support/fake-checkpoint.ts';
import { CORPUS, tinyFiles, tinyWith } from './support/models.ts';

describe('checkpoint checksums', () => {
  it('a flipped byte in a tensor file is refused on resume, the file named', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rl-trust-')), 'checkpoint');
    await saveCheckpointFolder(dir, fakeCheckpoint(5));
    const p = join(dir, 'adam_m.safetensors');
    const b = readFileSync(p);
    b[b.length - 100] ^= 0x10; // one bit of one float: still a perfectly finite number
    writeFileSync(p, b);
    await expect(loadCheckpointFolder(dir)).rejects.toThrow(/adam_m\.safetensors is damaged: CRC-32 [0-9a-f]{8}, saved as [0-9a-f]{8}.*start over/);
  });

  it('the one-file form (the page\'s) carries the CRC-32 of its data too', () => {
    const bytes = checkpointToBytes(fakeCheckpoint(5));
    expect(checkpointFromBytes(bytes).step).toBe(5);
    bytes[bytes.length - 10] ^= 0x01;
    expect(() => checkpointFromBytes(bytes)).toThrow(/the checkpoint is damaged: its tensor data has CRC-32/);
  });
});

describe('run fingerprints', async () => {
  const model = await loadHfFolder(tinyFiles());
  const ex = (q: string, p: string, n: string) => ({ query: q, pos: [p], neg: [n, n + '。'] });
  const data = { train: [ex(CORPUS[0], CORPUS[0], CORPUS[1]), ex(CORPUS[2], CORPUS[2], CORPUS[3])], val: [] };
  const opts: TrainOptions = { loss: 'listwise', batchSize: 2, groupSize: 3, epochs: 1, lr: 1e-3, warmupRatio: 0, maxLength: 24, seed: 1 };
  const checkpointOf = (fp: ReturnType<typeof runFingerprint>) => ({ ...fakeCheckpoint(1), options: resolveTrainOptions(model.config, opts), totalSteps: 1, fingerprint: fp });
  const rt = {} as GpuRuntime; // never reached: the checks come first

  it('refuses other training data of the same size', async () => {
    const saved = runFingerprint(model, data, resolveTrainOptions(model.config, opts));
    const other = { ...data, train: [ex(CORPUS[1], CORPUS[1], CORPUS[0]), data.train[1]] };
    await expect(train(rt, model, other, opts, { resumeFrom: checkpointOf(saved) })).rejects.toThrow(/cannot resume: the training or validation data differ/);
  });

  it('refuses another base model', async () => {
    const saved = runFingerprint(model, data, resolveTrainOptions(model.config, opts));
    const otherModel = await loadHfFolder(tinyWith('classifier.bias', 0, 0.5));
    await expect(train(rt, otherModel, data, opts, { resumeFrom: checkpointOf(saved) })).rejects.toThrow(/cannot resume: the base model differs/);
  });

  it('is recorded in the checkpoint files and read back', () => {
    const fp = runFingerprint(model, data, resolveTrainOptions(model.config, opts));
    expect(checkpointFromBytes(checkpointToBytes({ ...fakeCheckpoint(1), fingerprint: fp })).fingerprint).toEqual(fp);
    expect(fp.data).toMatch(/^[0-9a-f]{28}$/);
  });
});

describe('safetensors checks', () => {
  it('refuses tensors whose data_offsets overlap', () => {
    const bytes = writeSafetensors(new Map([['a', { shape: [4], data: Float32Array.of(1, 2, 3, 4) }], ['b', { shape: [4], data: Float32Array.of(5, 6, 7, 8) }]]));
    const h = readSafetensorsHeader(bytes);
    const json = JSON.stringify({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } });
    const padded = json.padEnd(Math.ceil(json.length / 8) * 8, ' ');
    const out = new Uint8Array(8 + padded.length + 32);
    new DataView(out.buffer).setBigUint64(0, BigInt(padded.length), true);
    out.set(new TextEncoder().encode(padded), 8);
    out.set(bytes.subarray(h.dataStart), 8 + padded.length);
    expect(() => readSafetensors(out, { fileName: 'model.safetensors' })).toThrow(/tensors "a" \(bytes 0\.\.16\) and "b" \(bytes 8\.\.24\) overlap/);
  });

  it('reports an I64 weight as an unsupported dtype, naming it', async () => {
    const files = tinyFiles();
    const r = readSafetensors(files.get('model.safetensors')!);
    const w = r.tensors.get('classifier.weight')!;
    // rewrite the file with classifier.weight stored as I64 (8 bytes per value)
    const entries = [...r.tensors].filter(([k]) => k !== 'classifier.weight');
    const f32 = writeSafetensors(new Map(entries.map(([k, v]) => [k, { shape: v.shape, data: v.data }])));
    const h = readSafetensorsHeader(f32);
    const header: Record<string, unknown> = {};
    for (const e of h.entries) header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [e.begin, e.end] };
    const dataLen = f32.length - h.dataStart;
    header['classifier.weight'] = { dtype: 'I64', shape: w.shape, data_offsets: [dataLen, dataLen + w.data.length * 8] };
    const json = JSON.stringify(header).padEnd(Math.ceil(JSON.stringify(header).length / 8) * 8, ' ');
    const out = new Uint8Array(8 + json.length + dataLen + w.data.length * 8);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(new TextEncoder().encode(json), 8);
    out.set(f32.subarray(h.dataStart), 8 + json.length);
    files.set('model.safetensors', out);
    await expect(loadHfFolder(files)).rejects.toThrow(/unsupported dtype for weight\(s\) classifier\.weight \(I64\): weights must be F32, F16, BF16 or F64/);
  });
});
