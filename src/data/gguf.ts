// Reads the header of a GGUF file (llama.cpp's model format) without loading its weights, so a dropped file can be
// named, checked and refused with a clear message before the engine spends seconds and memory on it.
// Format: magic 'GGUF', version, tensor count, metadata count, then key/value metadata and tensor descriptions
// (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md). Only what identifies and checks the model is kept.

/** A slice-readable file: a browser File/Blob, or a Node Blob from fs.openAsBlob. */
export type ByteSource = Pick<Blob, 'size' | 'slice'>;

export interface GgufInfo {
  version: number;
  /** general.architecture, e.g. 'qwen2', 'llama'. */
  architecture: string;
  /** general.name, or undefined when the file has none. */
  name?: string;
  /** general.type: 'model', 'adapter' (LoRA), 'mmproj' (vision projector)… */
  type?: string;
  /** Weight format from general.file_type, e.g. 'Q4_K_M'. */
  quantization?: string;
  /** general.size_label, e.g. '0.5B'. */
  sizeLabel?: string;
  contextLength?: number;
  /** tokenizer.chat_template is present: the model knows how to read a chat turn. */
  hasChatTemplate: boolean;
  /** split.count when the model is split over several files. */
  splitCount?: number;
  tensorCount: number;
  /** Bytes the file must have to hold every tensor (undefined when a tensor type is unknown here). */
  expectedBytes?: number;
  fileBytes: number;
}

export class GgufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GgufError';
  }
}

// general.file_type → name (llama.cpp's LLAMA_FTYPE_MOSTLY_*)
const FILE_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M',
  13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS',
  21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S',
  29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0', 37: 'TQ2_0', 38: 'MXFP4_MOE',
};

// ggml tensor type → [elements per block, bytes per block] (gguf-py's GGML_QUANT_SIZES)
const TENSOR_BLOCKS: Record<number, [number, number]> = {
  0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34], 9: [32, 40], 10: [256, 84],
  11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210], 15: [256, 292], 16: [256, 66], 17: [256, 74],
  18: [256, 98], 19: [256, 50], 20: [32, 18], 21: [256, 110], 22: [256, 82], 23: [256, 136], 24: [1, 1], 25: [1, 2],
  26: [1, 4], 27: [1, 8], 28: [1, 8], 29: [256, 56], 30: [1, 2], 34: [256, 54], 35: [256, 66], 39: [32, 17],
};

// Metadata value types and the byte size of the fixed-size ones
const T_STRING = 8;
const T_ARRAY = 9;
const FIXED: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** Sequential reads over a Blob, one slice of at least `window` bytes at a time (headers can be megabytes). */
class SliceReader {
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private start = 0; // file offset of buf[0]
  pos = 0;

  constructor(
    private readonly src: ByteSource,
    private readonly window = 1 << 20,
  ) {}

  private async need(n: number): Promise<void> {
    const end = this.pos + n;
    if (this.pos >= this.start && end <= this.start + this.buf.length) return;
    if (end > this.src.size) throw new GgufError(`the file ends at byte ${this.src.size}, inside its header (is it cut short?)`);
    const to = Math.min(this.src.size, Math.max(end, this.pos + this.window));
    this.buf = new Uint8Array(await this.src.slice(this.pos, to).arrayBuffer());
    this.view = new DataView(this.buf.buffer);
    this.start = this.pos;
  }

  async u32(): Promise<number> {
    await this.need(4);
    const v = this.view.getUint32(this.pos - this.start, true);
    this.pos += 4;
    return v;
  }

  async u64(): Promise<number> {
    await this.need(8);
    const v = this.view.getBigUint64(this.pos - this.start, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufError('a size in the header is implausibly large (the file is damaged)');
    return Number(v);
  }

  async bytes(n: number): Promise<Uint8Array> {
    await this.need(n);
    const o = this.pos - this.start;
    this.pos += n;
    return this.buf.subarray(o, o + n);
  }

  async skip(n: number): Promise<void> {
    if (this.pos + n > this.src.size) throw new GgufError(`the file ends at byte ${this.src.size}, inside its header (is it cut short?)`);
    this.pos += n;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
const MAGIC = 0x46554747; // 'GGUF' read as a little-endian u32

/** What a file that is not GGUF probably is, from its first bytes, for the refusal message. */
function sniff(head: Uint8Array): string {
  const ascii = String.fromCharCode(...head.subarray(0, 8));
  if (head[0] === 0x50 && head[1] === 0x4b) return 'a zip archive (a PyTorch .bin/.pt checkpoint or an archive)';
  if (head[0] === 0x89 && ascii.slice(1, 4) === 'PNG') return 'a PNG image';
  if (ascii.startsWith('%PDF')) return 'a PDF document';
  if (head[0] === 0x08 || ascii.includes('pytorch') || ascii.includes('onnx')) return 'probably an ONNX model (this page runs GGUF files)';
  if (head[8] === 0x7b && head[6] === 0 && head[7] === 0) return 'a safetensors file (convert it to GGUF with llama.cpp first)';
  if (ascii.startsWith('GGML') || ascii.startsWith('ggjt') || ascii.startsWith('ggml')) return 'an old GGML file from before GGUF (2023); get a GGUF version of the model';
  if (head.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b !== 0x7f))) return 'a text file';
  return `a file starting with bytes ${[...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`;
}

async function readString(r: SliceReader): Promise<string> {
  return utf8.decode(await r.bytes(await r.u64()));
}

async function readValue(r: SliceReader, type: number, keep: boolean): Promise<unknown> {
  if (type === T_STRING) {
    const n = await r.u64();
    if (!keep) return void (await r.skip(n));
    return utf8.decode(await r.bytes(n));
  }
  if (type === T_ARRAY) {
    const elem = await r.u32();
    const count = await r.u64();
    // arrays are the tokenizer's vocabulary and merges: walked over, never decoded
    if (FIXED[elem]) return void (await r.skip(FIXED[elem] * count));
    for (let i = 0; i < count; i++) await readValue(r, elem, false);
    return undefined;
  }
  const size = FIXED[type];
  if (!size) throw new GgufError(`unknown metadata value type ${type} (the file is damaged or from a newer GGUF version)`);
  const b = await r.bytes(size);
  const v = new DataView(b.buffer, b.byteOffset, size);
  switch (type) {
    case 0: return v.getUint8(0);
    case 1: return v.getInt8(0);
    case 2: return v.getUint16(0, true);
    case 3: return v.getInt16(0, true);
    case 4: return v.getUint32(0, true);
    case 5: return v.getInt32(0, true);
    case 6: return v.getFloat32(0, true);
    case 7: return v.getUint8(0) !== 0;
    case 10: return Number(v.getBigUint64(0, true));
    case 11: return Number(v.getBigInt64(0, true));
    default: return v.getFloat64(0, true);
  }
}

/** Reads the header; throws GgufError with what the file seems to be when it is not GGUF. */
export async function readGgufInfo(src: ByteSource, fileName = 'the file'): Promise<GgufInfo> {
  if (src.size < 24) throw new GgufError(`${fileName} is ${src.size} bytes: too small to be a GGUF model.`);
  const r = new SliceReader(src);
  const head = (await r.bytes(16)).slice();
  r.pos = 8;
  const magic = new DataView(head.buffer, head.byteOffset, 8).getUint32(0, true);
  if (magic !== MAGIC) throw new GgufError(`${fileName} is not a GGUF model file: it looks like ${sniff(head)}.`);
  const version = new DataView(head.buffer, head.byteOffset, 8).getUint32(4, true);
  if (version < 2 || version > 3) {
    throw new GgufError(`${fileName} is GGUF version ${version}; this page reads versions 2 and 3 (${version < 2 ? 'convert it again with a current llama.cpp' : 'update Rerank Lab'}).`);
  }
  try {
    return await readBody(r, version, src.size);
  } catch (e) {
    if (e instanceof GgufError) throw new GgufError(`${fileName}: ${e.message}`);
    throw e;
  }
}

async function readBody(r: SliceReader, version: number, fileBytes: number): Promise<GgufInfo> {
  const tensorCount = await r.u64();
  const kvCount = await r.u64();
  const meta = new Map<string, unknown>();
  for (let i = 0; i < kvCount; i++) {
    const key = await readString(r);
    const type = await r.u32();
    // keep scalars and the strings we read; the chat template is only checked for presence
    const keep = type !== T_ARRAY && key !== 'tokenizer.chat_template';
    const value = await readValue(r, type, keep);
    meta.set(key, type === T_STRING && !keep ? '' : value);
  }
  const str = (k: string) => (typeof meta.get(k) === 'string' ? (meta.get(k) as string) : undefined);
  const num = (k: string) => (typeof meta.get(k) === 'number' ? (meta.get(k) as number) : undefined);
  const architecture = str('general.architecture');
  if (!architecture) throw new GgufError('its header has no general.architecture (the file is damaged or not a model)');

  // tensor descriptions: where the last tensor ends tells whether the file is complete
  let dataEnd: number | undefined = 0;
  for (let i = 0; i < tensorCount; i++) {
    await r.skip(await r.u64()); // name
    const dims = await r.u32();
    let elements = 1;
    for (let d = 0; d < dims; d++) elements *= await r.u64();
    const type = await r.u32();
    const offset = await r.u64();
    const block = TENSOR_BLOCKS[type];
    if (!block || dataEnd === undefined) dataEnd = undefined;
    else dataEnd = Math.max(dataEnd, offset + (elements / block[0]) * block[1]);
  }
  const align = num('general.alignment') ?? 32;
  const dataStart = Math.ceil(r.pos / align) * align;
  const ft = num('general.file_type');
  return {
    version,
    architecture,
    name: str('general.name') || undefined,
    type: str('general.type'),
    quantization: ft === undefined ? undefined : (FILE_TYPES[ft] ?? `file type ${ft}`),
    sizeLabel: str('general.size_label'),
    contextLength: num(`${architecture}.context_length`),
    hasChatTemplate: meta.has('tokenizer.chat_template'),
    splitCount: num('split.count'),
    tensorCount,
    expectedBytes: dataEnd === undefined ? undefined : dataStart + dataEnd,
    fileBytes,
  };
}

// Architectures llama.cpp reads that cannot write text: encoders (embedding and reranker models), vision and audio
// projectors, and the like. Everything else is tried, and a load failure is reported with the engine's own words.
const NOT_GENERATIVE = /^(bert|nomic-bert|nomic-bert-moe|jina-bert-v2|jina-bert-v3|neo-bert|modern-bert|t5encoder|clip|wavtokenizer-dec|xlm-?roberta)$/;

/** Refuses what cannot generate questions, with what to do instead; returns the info when the file is usable. */
export function checkGenerativeGguf(info: GgufInfo, fileName = 'This file'): GgufInfo {
  const what = `${fileName} (${info.name ?? info.architecture})`;
  if (info.type === 'mmproj' || info.architecture === 'clip') {
    throw new GgufError(`${what} is a vision/audio projector (mmproj), not a language model. Drop the model's main .gguf file.`);
  }
  if (info.type === 'adapter') throw new GgufError(`${what} is a LoRA adapter, not a model. Drop a full instruct model .gguf file.`);
  if (NOT_GENERATIVE.test(info.architecture)) {
    throw new GgufError(`${what} is a '${info.architecture}' encoder (an embedding or reranker model): it cannot write questions. Drop a small instruct model, e.g. Qwen2.5-0.5B-Instruct or SmolLM2-135M-Instruct in GGUF.`);
  }
  if ((info.splitCount ?? 1) > 1) {
    throw new GgufError(`${what} is one part of a model split in ${info.splitCount} files. Merge them into one file (llama-gguf-split --merge) and drop that.`);
  }
  if (info.expectedBytes !== undefined && info.fileBytes < info.expectedBytes) {
    throw new GgufError(`${what} is cut short: ${info.fileBytes} bytes of the ${info.expectedBytes} its header describes. Download it again.`);
  }
  if (!info.hasChatTemplate) {
    throw new GgufError(`${what} has no chat template, so it is probably a base model, not an instruct (chat) model. Drop the '-Instruct' or '-Chat' version.`);
  }
  return info;
}

/** One line for people: 'Qwen2.5 0.5B Instruct · qwen2 · Q4_K_M · 398 MB'. */
export function describeGguf(info: GgufInfo): string {
  const mb = `${Math.round(info.fileBytes / 1e6)} MB`;
  return [info.name ?? '(unnamed)', info.architecture, info.quantization, mb].filter(Boolean).join(' · ');
}
