import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsHeader, readShardedSafetensors, SafetensorsError, writeSafetensors } from '../../../src/model/safetensors.ts';
import { fixtureDir } from './fixture.ts';

/** Hand-built file with arbitrary dtypes (as Python would write it, header unpadded to test odd offsets). */
function build(entries: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[]): Uint8Array {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const e of entries) {
    out.set(e.bytes, p);
    p += e.bytes.length;
  }
  return out;
}

const u16 = (xs: number[]) => new Uint8Array(Uint16Array.from(xs).buffer);

describe('safetensors', () => {
  it('reads the fixture model (F32) and gradient dumps (F64)', () => {
    const m = readSafetensors(readFileSync(fixtureDir('bert-tiny') + 'model.safetensors'));
    const w = m.tensors.get('bert.embeddings.word_embeddings.weight')!;
    expect(w.shape).toEqual([394, 32]);
    expect(w.data).toBeInstanceOf(Float32Array);
    expect(m.metadata).toEqual({ format: 'pt' });
    const g = readSafetensors(readFileSync(fixtureDir('bert-tiny') + 'grads_bce.safetensors'));
    expect(g.tensors.get('classifier.weight')!.data).toBeInstanceOf(Float64Array);
  });

  it('widens F16 and BF16 exactly, and lists non-float tensors as skipped', () => {
    const file = build([
      // f16: 1, -2, 0.5, 65504 (max), smallest subnormal, inf
      { name: 'h', dtype: 'F16', shape: [6], bytes: u16([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00]) },
      // bf16: 1, -3, 1/3 rounded (0x3eab)
      { name: 'b', dtype: 'BF16', shape: [3], bytes: u16([0x3f80, 0xc040, 0x3eab]) },
      { name: 'position_ids', dtype: 'I64', shape: [1, 2], bytes: new Uint8Array(16) },
    ]);
    const r = readSafetensors(file);
    expect(Array.from(r.tensors.get('h')!.data)).toEqual([1, -2, 0.5, 65504, 2 ** -24, Infinity]);
    expect(Array.from(r.tensors.get('b')!.data)).toEqual([1, -3, 0.333984375]);
    expect(r.skipped).toEqual([{ name: 'position_ids', dtype: 'I64', shape: [1, 2] }]);
  });

  it('writes F32 files with an 8-byte aligned, space-padded header that round-trip', () => {
    const a = Float32Array.from({ length: 6 }, (_, i) => i * 0.25 - 1);
    const b = Float64Array.from([Math.PI]);
    const bytes = writeSafetensors(new Map([['z.weight', { shape: [2, 3], data: a }], ['a.bias', { shape: [1], data: b }]]), { metadata: { format: 'pt' } });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const h = readSafetensorsHeader(bytes);
    expect(h.dataStart % 8).toBe(0);
    expect(h.entries.map((e) => [e.name, e.dtype, e.begin])).toEqual([['a.bias', 'F32', 0], ['z.weight', 'F32', 4]]);
    const r = readSafetensors(bytes);
    expect(Array.from(r.tensors.get('z.weight')!.data)).toEqual(Array.from(a));
    expect(r.tensors.get('a.bias')!.data[0]).toBe(Math.fround(Math.PI));
    const f64 = readSafetensors(writeSafetensors([['x', { shape: [1], data: b }]], { dtype: 'F64' }));
    expect(f64.tensors.get('x')!.data[0]).toBe(Math.PI);
  });

  it('reads sharded checkpoints through the index and names missing shards', () => {
    const s1 = writeSafetensors([['a', { shape: [2], data: Float32Array.from([1, 2]) }]]);
    const s2 = writeSafetensors([['b', { shape: [1], data: Float32Array.from([3]) }]]);
    const index = JSON.stringify({ metadata: {}, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } });
    const r = readShardedSafetensors(index, new Map([['model-00001-of-00002.safetensors', s1], ['model-00002-of-00002.safetensors', s2]]));
    expect([...r.tensors.keys()].sort()).toEqual(['a', 'b']);
    expect(() => readShardedSafetensors(index, new Map([['model-00001-of-00002.safetensors', s1]]))).toThrow(/model-00002-of-00002.safetensors/);
  });

  it('gives clear errors for broken files', () => {
    expect(() => readSafetensors(new Uint8Array(4))).toThrow(/too short/);
    const good = writeSafetensors([['a', { shape: [4], data: new Float32Array(4) }]]);
    expect(() => readSafetensors(good.subarray(0, good.length - 4), { fileName: 'model.safetensors' })).toThrow(/model.safetensors: tensor "a" lies outside the file.*truncated/);
    const bad = build([{ name: 'w', dtype: 'F32', shape: [3], bytes: new Uint8Array(8) }]);
    expect(() => readSafetensors(bad)).toThrow(/"w" \[3\] F32 needs 12 bytes but data_offsets span 8/);
    expect(() => writeSafetensors([['w', { shape: [2, 2], data: new Float32Array(3) }]])).toThrow(SafetensorsError);
  });
});
