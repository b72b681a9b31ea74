// The PyTorch checkpoint reader executes nothing and refuses what a plain state dict does not need, with a message
// that says what to do. Fixtures: tests/fixtures/torch-bins (torch.save, by tests/python/dump_model_folders.py).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { loadHfFolder, readFolderNode } from '../../../src/model/hf-folder.ts';
import { readTorchBin } from '../../../src/model/torch-bin.ts';
import { unpickle } from '../../../src/model/torch-pickle.ts';

const bin = (name: string) => new Uint8Array(readFileSync(fileURLToPath(new URL(`../../fixtures/torch-bins/${name}`, import.meta.url))));
const folder = fileURLToPath(new URL('../../fixtures/hf-folders/bert-bin/', import.meta.url));

describe('reads', () => {
  it('f64 tensors as Float64Array and lists int tensors as skipped', () => {
    const r = readTorchBin(bin('f64-and-int.bin'));
    expect(r.tensors.get('w')!.data).toBeInstanceOf(Float64Array);
    expect(Array.from(r.tensors.get('w')!.data)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(r.tensors.get('w')!.shape).toEqual([2, 3]);
    expect(r.skipped).toEqual([{ name: 'n', dtype: 'I32', shape: [2] }]);
  });

  it('the legacy (pre-1.6) format', () => {
    const r = readTorchBin(bin('legacy-f32.bin'));
    expect(Array.from(r.tensors.get('w')!.data)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('refuses, naming the problem', () => {
  it('a pickle that would run code (os.system) — nothing is executed', () => {
    expect(() => readTorchBin(bin('runs-code.bin'))).toThrow(/refers to (posix|os|nt)\.system, which is not part of a plain PyTorch state dict; it is refused \(nothing in the file is executed\)/);
  });

  it('an opcode a state dict does not need', () => {
    // INST 'os\nsystem\n' — the protocol-0 way to call a function.
    const p = new Uint8Array([0x80, 0x02, 0x28, ...new TextEncoder().encode('ios\nsystem\n'), 0x2e]);
    expect(() => unpickle(p)).toThrow(/opcode INST at byte 3/);
    expect(() => readTorchBin(zipSync({ 'archive/data.pkl': p }), 'x.bin')).toThrow(/x\.bin \(data\.pkl\) uses pickle opcode INST/);
  });

  it('a training checkpoint (a dict around the state dict)', () => {
    expect(() => readTorchBin(bin('training-checkpoint.bin'))).toThrow(/not a plain state dict: epoch, state_dict are not tensors/);
  });

  it('complex (or any other non-real) storage types', () => {
    expect(() => readTorchBin(bin('complex.bin'))).toThrow(/ComplexFloatStorage.*not part of a plain PyTorch state dict/);
  });

  it('a truncated download, a git-lfs pointer, an old tar checkpoint', () => {
    const whole = new Uint8Array(readFileSync(`${folder}pytorch_model.bin`));
    expect(() => readTorchBin(whole.subarray(0, whole.length >> 1))).toThrow(/not a readable zip|truncated/);
    expect(() => readTorchBin(bin('legacy-f32.bin').subarray(0, 300))).toThrow(/truncated/);
    expect(() => readTorchBin(new TextEncoder().encode('version https://git-lfs.github.com/spec/v1\noid sha256:abc\n'))).toThrow(/neither a PyTorch zip checkpoint nor a legacy pickle checkpoint \(truncated download, a git-lfs pointer/);
    const tar = new Uint8Array(600);
    tar.set(new TextEncoder().encode('ustar'), 257);
    expect(() => readTorchBin(tar)).toThrow(/tar archive \(PyTorch before 0\.4\)/);
  });

  it('a storage missing from the archive, or a view past its storage', async () => {
    const files = await readFolderNode(folder);
    const { unzipSync } = await import('fflate');
    const entries = unzipSync(files.get('pytorch_model.bin')!);
    const dataKey = Object.keys(entries).find((k) => /\/data\/\d+$/.test(k))!;
    const cut = { ...entries };
    delete cut[dataKey];
    expect(() => readTorchBin(zipSync(cut))).toThrow(/storage \d+ is missing from the archive/);
    const short = { ...entries, [dataKey]: entries[dataKey].subarray(0, 8) };
    expect(() => readTorchBin(zipSync(short))).toThrow(/reaches element \d+ of a 2-element storage/);
  });
});

describe('pytorch_model.bin shards', () => {
  it('loads the shards named by pytorch_model.bin.index.json', async () => {
    const files = await readFolderNode(folder);
    const whole = files.get('pytorch_model.bin')!;
    files.delete('pytorch_model.bin');
    files.set('pytorch_model-00001-of-00001.bin', whole);
    files.set('pytorch_model.bin.index.json', new TextEncoder().encode(JSON.stringify({ weight_map: { 'classifier.weight': 'pytorch_model-00001-of-00001.bin' } })));
    const m = await loadHfFolder(files);
    expect(m.params.size).toBeGreaterThan(30);
    files.set('pytorch_model.bin.index.json', new TextEncoder().encode(JSON.stringify({ weight_map: { a: 'pytorch_model-00002-of-00002.bin' } })));
    await expect(loadHfFolder(files)).rejects.toThrow(/names shard\(s\) that are not in the folder: pytorch_model-00002-of-00002\.bin/);
  });
});
