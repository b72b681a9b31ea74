// safetensors read/write that works on plain bytes (browser and Node alike).
// Layout (https://github.com/huggingface/safetensors): u64 little-endian header length N, N bytes of JSON
// { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {str: str} }, then the data buffer;
// offsets are relative to the start of the data buffer. Writers pad the header with spaces to a multiple of 8.

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL' | 'U16' | 'U32' | 'U64' | 'F8_E4M3' | 'F8_E5M2';

export interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte offsets relative to the data buffer. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: HeaderEntry[];
  metadata: Record<string, string>;
  /** Absolute byte offset of the data buffer in the file. */
  dataStart: number;
}

export interface FloatTensor {
  dtype: string;
  shape: number[];
  /** F32/F16/BF16 become Float32Array; F64 stays Float64Array. */
  data: Float32Array | Float64Array;
}

export interface ReadResult {
  tensors: Map<string, FloatTensor>;
  /** Entries not read because their dtype is not a float type (e.g. I64 position_ids buffers). */
  skipped: { name: string; dtype: string; shape: number[] }[];
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U16: 2, U32: 4, U64: 8, F8_E4M3: 1, F8_E5M2: 1 };
const FLOAT = new Set(['F64', 'F32', 'F16', 'BF16']);

function asBytes(b: ArrayBuffer | Uint8Array): Uint8Array {
  return b instanceof Uint8Array ? b : new Uint8Array(b);
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Parses and checks the header only (cheap; no tensor data is touched). */
export function readSafetensorsHeader(input: ArrayBuffer | Uint8Array, fileName = 'safetensors file'): SafetensorsHeader {
  const bytes = asBytes(input);
  if (bytes.byteLength < 8) throw new SafetensorsError(`${fileName} is ${bytes.byteLength} bytes: too short to be a safetensors file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > bytes.byteLength - 8 || n > 100_000_000) {
    throw new SafetensorsError(`${fileName}: header length ${n} does not fit in a ${bytes.byteLength}-byte file (truncated download, or not a safetensors file?)`);
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new SafetensorsError(`${fileName}: header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  const entries: HeaderEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') {
      metadata = (v ?? {}) as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = String(e?.dtype);
    const shape = e?.shape;
    const off = e?.data_offsets;
    if (!(dtype in BYTES)) throw new SafetensorsError(`${fileName}: tensor "${name}" has unknown dtype ${dtype}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new SafetensorsError(`${fileName}: tensor "${name}" has a bad shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(off) || off.length !== 2) throw new SafetensorsError(`${fileName}: tensor "${name}" has bad data_offsets ${JSON.stringify(off)}`);
    const [begin, end] = off as number[];
    if (end - begin !== numel(shape) * BYTES[dtype]) {
      throw new SafetensorsError(`${fileName}: tensor "${name}" [${shape}] ${dtype} needs ${numel(shape) * BYTES[dtype]} bytes but data_offsets span ${end - begin}`);
    }
    if (begin < 0 || end > dataLen) throw new SafetensorsError(`${fileName}: tensor "${name}" lies outside the file (offsets ${begin}..${end}, data is ${dataLen} bytes; truncated download?)`);
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  // Two tensors sharing bytes would silently alias each other's weights (the reference reader refuses this too).
  const byStart = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byStart.length; i++) {
    const [p, q] = [byStart[i - 1], byStart[i]];
    if (q.begin < p.end && q.end > q.begin) {
      throw new SafetensorsError(`${fileName}: tensors "${p.name}" (bytes ${p.begin}..${p.end}) and "${q.name}" (bytes ${q.begin}..${q.end}) overlap in the data buffer: the file is corrupt; re-download or re-export it`);
    }
  }
  return { entries, metadata, dataStart };
}

// f16 → f32 by table over the 65536 bit patterns (built once, lazily: 256 KiB).
let F16_TABLE: Float32Array | undefined;
function f16Table(): Float32Array {
  if (F16_TABLE) return F16_TABLE;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = s * m * 2 ** -24;
    else if (e === 31) t[h] = m ? NaN : s * Infinity;
    else t[h] = s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return (F16_TABLE = t);
}

/** Converts one entry's raw little-endian bytes to a float array. */
export function decodeTensor(raw: Uint8Array, dtype: string, count: number): Float32Array | Float64Array {
  // Copy into a fresh, aligned buffer: the entry's offset inside the file need not be a multiple of its size.
  // (new Uint8Array(view) copies; Node's Buffer.slice would not.)
  const aligned = new Uint8Array(raw);
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned.buffer, 0, count);
    case 'F64':
      return new Float64Array(aligned.buffer, 0, count);
    case 'F16': {
      const h = new Uint16Array(aligned.buffer, 0, count);
      const t = f16Table();
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = t[h[i]];
      return out;
    }
    case 'BF16': {
      const h = new Uint16Array(aligned.buffer, 0, count);
      const out = new Float32Array(count);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = h[i] << 16;
      return out;
    }
    default:
      throw new SafetensorsError(`dtype ${dtype} is not a float type; only F64, F32, F16 and BF16 are read`);
  }
}

/**
 * Reads every float tensor (or only `names`, when given). Non-float tensors are listed in `skipped`.
 * Errors name the file and tensor.
 */
export function readSafetensors(input: ArrayBuffer | Uint8Array, opts: { fileName?: string; names?: ReadonlySet<string> } = {}): ReadResult {
  const bytes = asBytes(input);
  const header = readSafetensorsHeader(bytes, opts.fileName);
  const tensors = new Map<string, FloatTensor>();
  const skipped: ReadResult['skipped'] = [];
  for (const e of header.entries) {
    if (opts.names && !opts.names.has(e.name)) continue;
    if (!FLOAT.has(e.dtype)) {
      skipped.push({ name: e.name, dtype: e.dtype, shape: e.shape });
      continue;
    }
    const raw = bytes.subarray(header.dataStart + e.begin, header.dataStart + e.end);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decodeTensor(raw, e.dtype, numel(e.shape)) });
  }
  return { tensors, skipped, metadata: header.metadata };
}

export interface TensorToWrite {
  shape: readonly number[];
  /** Written as F32 (Float64Array values are rounded to f32) unless `dtype: 'F64'` is asked for. */
  data: Float32Array | Float64Array;
}

/**
 * Writes tensors as one safetensors file: F32 by default (F64 on request, for reference dumps). Names are written
 * in sorted order, as the Python writer does; the header is padded with spaces to a multiple of 8 bytes so every
 * tensor starts 8-byte aligned.
 */
export function writeSafetensors(
  tensors: Map<string, TensorToWrite> | Iterable<[string, TensorToWrite]>,
  opts: { metadata?: Record<string, string>; dtype?: 'F32' | 'F64' } = {},
): Uint8Array {
  const dtype = opts.dtype ?? 'F32';
  const size = dtype === 'F64' ? 8 : 4;
  const list = [...(tensors instanceof Map ? tensors.entries() : tensors)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (opts.metadata) header.__metadata__ = opts.metadata;
  let offset = 0;
  for (const [name, t] of list) {
    const n = numel(t.shape);
    if (t.data.length !== n) throw new SafetensorsError(`cannot write "${name}": shape [${t.shape}] holds ${n} values but the data has ${t.data.length}`);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + n * size] };
    offset += n * size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const [, t] of list) {
    const arr = dtype === 'F64' ? Float64Array.from(t.data) : t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    out.set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), pos);
    pos += arr.byteLength;
  }
  return out;
}

/** Sharded checkpoints: model.safetensors.index.json → { weight_map: { tensor: shard file } }. */
export function parseShardIndex(text: string): Map<string, string> {
  let j: { weight_map?: Record<string, string> };
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`model.safetensors.index.json is not valid JSON: ${(e as Error).message}`);
  }
  if (!j.weight_map || typeof j.weight_map !== 'object') throw new SafetensorsError('model.safetensors.index.json has no "weight_map"');
  return new Map(Object.entries(j.weight_map));
}

/**
 * Reads a sharded checkpoint: `files` maps shard file names to their bytes. Every shard named in the index must be
 * present (the error lists the missing ones); tensors are merged into one map.
 */
export function readShardedSafetensors(indexText: string, files: ReadonlyMap<string, Uint8Array>): ReadResult {
  const weightMap = parseShardIndex(indexText);
  const shards = [...new Set(weightMap.values())];
  const missing = shards.filter((s) => !files.has(s));
  if (missing.length) throw new SafetensorsError(`model.safetensors.index.json names shard(s) that are not in the folder: ${missing.join(', ')}`);
  const out: ReadResult = { tensors: new Map(), skipped: [], metadata: {} };
  for (const shard of shards) {
    const r = readSafetensors(files.get(shard)!, { fileName: shard });
    for (const [k, v] of r.tensors) out.tensors.set(k, v);
    out.skipped.push(...r.skipped);
    Object.assign(out.metadata, r.metadata);
  }
  return out;
}
