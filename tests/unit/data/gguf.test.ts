import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Wllama } from '@wllama/wllama';
import { checkGenerativeGguf, describeGguf, readGgufInfo, type GgufInfo } from '../../../src/data/gguf.ts';
import { ggufModelKey, hasFirstLine, loadGgufGenerator } from '../../../src/data/query-gguf.ts';

// GGUF headers written here byte by byte (the format: github.com/ggml-org/ggml/blob/master/docs/gguf.md), so every
// refusal has a file that triggers it. The real models' headers are read by query-gguf.test.ts.

type Meta = [key: string, type: 'str' | 'u32' | 'f32' | 'strs' | 'i32s', value: string | number | string[] | number[]];
type Tensor = { name: string; dims: number[]; type: number };

class Bytes {
  parts: number[] = [];
  u32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.parts.push(...b);
  }
  u64(v: number) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.parts.push(...b);
  }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.parts.push(...b);
  }
}

function gguf(meta: Meta[], tensors: Tensor[] = [{ name: 'w', dims: [64, 2], type: 0 }], opts: { version?: number; dataBytes?: number } = {}): Blob {
  const w = new Bytes();
  w.parts.push(...new TextEncoder().encode('GGUF'));
  w.u32(opts.version ?? 3);
  w.u64(tensors.length);
  w.u64(meta.length);
  for (const [k, t, v] of meta) {
    w.str(k);
    if (t === 'str') (w.u32(8), w.str(v as string));
    else if (t === 'u32') (w.u32(4), w.u32(v as number));
    else if (t === 'f32') {
      w.u32(6);
      const b = new Uint8Array(4);
      new DataView(b.buffer).setFloat32(0, v as number, true);
      w.parts.push(...b);
    } else if (t === 'strs') {
      w.u32(9), w.u32(8), w.u64((v as string[]).length);
      for (const s of v as string[]) w.str(s);
    } else {
      w.u32(9), w.u32(5), w.u64((v as number[]).length);
      for (const x of v as number[]) w.u32(x);
    }
  }
  let offset = 0;
  let end = 0;
  for (const t of tensors) {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
    const bytes = t.dims.reduce((a, b) => a * b, 1) * 4; // F32 in these tests
    end = offset + bytes;
    offset = Math.ceil(end / 32) * 32;
  }
  while (w.parts.length % 32) w.parts.push(0);
  const header = new Uint8Array(w.parts);
  return new Blob([header, new Uint8Array(opts.dataBytes ?? end)]);
}

const instruct: Meta[] = [
  ['general.architecture', 'str', 'qwen2'],
  ['general.type', 'str', 'model'],
  ['general.name', 'str', 'Qwen2.5 0.5B Instruct'],
  ['general.size_label', 'str', '0.5B'],
  ['general.file_type', 'u32', 15],
  ['qwen2.context_length', 'u32', 32768],
  ['qwen2.rope.freq_base', 'f32', 1e6],
  ['tokenizer.ggml.tokens', 'strs', ['a', 'b', '你好']],
  ['tokenizer.ggml.token_type', 'i32s', [1, 1, 1]],
  ['tokenizer.chat_template', 'str', '{% for m in messages %}{{ m.content }}{% endfor %}'],
];
const without = (key: string) => instruct.filter(([k]) => k !== key);
const withMeta = (key: string, type: Meta[1], value: Meta[2]) => [...without(key), [key, type, value] as Meta];

async function refusal(blob: Blob, name = 'model.gguf'): Promise<string> {
  try {
    checkGenerativeGguf(await readGgufInfo(blob, name), name);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('GGUF header', () => {
  it('reads name, architecture, weight format, context, chat template and the size the tensors need', async () => {
    const blob = gguf(instruct, [
      { name: 'a', dims: [100, 3], type: 0 },
      { name: 'b', dims: [8], type: 0 },
    ]);
    const info = await readGgufInfo(blob);
    expect(info).toMatchObject<Partial<GgufInfo>>({
      version: 3,
      architecture: 'qwen2',
      name: 'Qwen2.5 0.5B Instruct',
      type: 'model',
      quantization: 'Q4_K_M',
      sizeLabel: '0.5B',
      contextLength: 32768,
      hasChatTemplate: true,
      tensorCount: 2,
      fileBytes: blob.size,
    });
    expect(info.expectedBytes).toBe(blob.size); // 1200 B padded to 1216, then 32 B
    expect(describeGguf(info)).toBe('Qwen2.5 0.5B Instruct · qwen2 · Q4_K_M · 0 MB');
    expect(checkGenerativeGguf(info)).toBe(info);
  });

  it('walks a header larger than one read (a 150k-token vocabulary)', async () => {
    const vocab = Array.from({ length: 150_000 }, (_, i) => `tok${i}`);
    const info = await readGgufInfo(gguf(withMeta('tokenizer.ggml.tokens', 'strs', vocab)));
    expect(info.name).toBe('Qwen2.5 0.5B Instruct');
    expect(info.hasChatTemplate).toBe(true);
  });

  it('refuses what is not GGUF, saying what it looks like', async () => {
    expect(await refusal(new Blob(['{"model_type": "qwen2", "hidden_size": 896}']), 'config.json')).toMatch(/config\.json is not a GGUF model file: it looks like a text file/);
    const png = new Uint8Array(64);
    png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(await refusal(new Blob([png]), 'x.gguf')).toMatch(/not a GGUF model file: it looks like a PNG image/);
    const st = new Uint8Array(64);
    st.set([40, 0, 0, 0, 0, 0, 0, 0, 0x7b]);
    expect(await refusal(new Blob([st]), 'model.safetensors')).toMatch(/safetensors file \(convert it to GGUF/);
    const zip = new Uint8Array(64);
    zip.set([0x50, 0x4b, 3, 4]);
    expect(await refusal(new Blob([zip]), 'pytorch_model.bin')).toMatch(/zip archive/);
    expect(await refusal(new Blob([]), 'empty.gguf')).toMatch(/0 bytes: too small/);
    expect(await refusal(new Blob([new TextEncoder().encode('ggjt'), new Uint8Array(60)]), 'old.bin')).toMatch(/old GGML file/);
  });

  it('refuses GGUF files that cannot write questions, with what to drop instead', async () => {
    expect(await refusal(gguf(withMeta('general.architecture', 'str', 'bert')))).toMatch(/'bert' encoder \(an embedding or reranker model\).*instruct model/);
    expect(await refusal(gguf(withMeta('general.type', 'str', 'mmproj')))).toMatch(/projector \(mmproj\)/);
    expect(await refusal(gguf(withMeta('general.type', 'str', 'adapter')))).toMatch(/LoRA adapter/);
    expect(await refusal(gguf([...instruct, ['split.count', 'u32', 3]]))).toMatch(/one part of a model split in 3 files/);
    expect(await refusal(gguf(without('tokenizer.chat_template')))).toMatch(/no chat template.*base model/);
    expect(await refusal(gguf(instruct, undefined, { dataBytes: 100 }))).toMatch(/cut short: \d+ bytes of the \d+/);
    expect(await refusal(gguf(instruct, undefined, { version: 1 }))).toMatch(/GGUF version 1; this page reads versions 2 and 3/);
    expect(await refusal(gguf(without('general.architecture')))).toMatch(/no general\.architecture/);
  });

  it('refuses a header cut inside its metadata', async () => {
    const whole = new Uint8Array(await gguf(instruct).arrayBuffer());
    expect(await refusal(new Blob([whole.subarray(0, 200)]))).toMatch(/ends at byte 200, inside its header/);
  });

  it('keys the cache by name, format and size, so a renamed copy hits the same cache entries', async () => {
    const info = await readGgufInfo(gguf(instruct), 'a.gguf');
    expect(ggufModelKey(info)).toBe(`gguf:Qwen2.5 0.5B Instruct:Q4_K_M:${info.fileBytes}`);
    expect(ggufModelKey(await readGgufInfo(gguf(instruct), 'renamed.gguf'))).toBe(ggufModelKey(info));
  });
});

describe('early stop of a streamed answer', () => {
  it('stops once a non-empty line outside a <think> block has ended', () => {
    expect(hasFirstLine('什么是尤金袋鼠？')).toBe(false);
    expect(hasFirstLine('什么是尤金袋鼠？\n')).toBe(true);
    expect(hasFirstLine('\n\n  \n')).toBe(false);
    expect(hasFirstLine('\n问题：')).toBe(false);
    expect(hasFirstLine('<think>\n先想一想\n')).toBe(false);
    expect(hasFirstLine('<think>\n先想一想\n</think>\n')).toBe(false);
    expect(hasFirstLine('<think>\n先想一想\n</think>\n尤金袋鼠分布在哪里？\n')).toBe(true);
  });
});

describe('device choice', () => {
  afterEach(() => void vi.unstubAllGlobals());
  // an engine that fails to start on WebGPU, as on a machine whose driver or memory refuses it
  const loads: number[] = [];
  const engine = async () =>
    ({
      loadModel: async (_f: Blob[], p: { n_gpu_layers: number }) => {
        loads.push(p.n_gpu_layers);
        if (p.n_gpu_layers > 0) throw new Error('no WebGPU device');
      },
      exit: async () => {},
    }) as unknown as Wllama;
  const adapter = (description: string) => ({ gpu: { requestAdapter: async () => ({ info: { vendor: '', architecture: '', device: '', description } }) } });

  it('auto: WebGPU on a hardware adapter, the CPU when that fails to start or the adapter is software', async () => {
    vi.stubGlobal('navigator', adapter('NVIDIA GeForce RTX 3090'));
    loads.length = 0;
    expect((await loadGgufGenerator(gguf(instruct), 'm.gguf', engine)).device).toBe('wasm');
    expect(loads).toEqual([999, 0]);
    await expect(loadGgufGenerator(gguf(instruct), 'm.gguf', engine, { device: 'webgpu' })).rejects.toThrow(/could not load m\.gguf \(Qwen2\.5 0\.5B Instruct · qwen2 · Q4_K_M · 0 MB\): no WebGPU device/);
    vi.stubGlobal('navigator', adapter('SwiftShader Device (Subzero)'));
    loads.length = 0;
    expect((await loadGgufGenerator(gguf(instruct), 'm.gguf', engine)).device).toBe('wasm');
    expect(loads).toEqual([0]);
  });
});
