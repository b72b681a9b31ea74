// pytorch_model.bin → tensors, without Python and without executing anything. Two container layouts:
//  - zip (torch ≥ 1.6): <dir>/data.pkl (the state dict, tensors as persistent ids), <dir>/data/<key> (raw little-
//    endian storages), <dir>/byteorder; read with fflate;
//  - legacy (torch < 1.6): pickles back to back — magic number, protocol version, system info, the state dict, the
//    list of storage keys — then each storage as an int64 element count and its raw bytes.
// The pickles go through the strict reader in torch-pickle.ts. Float storages (f32, f16, bf16, f64) become tensors
// exactly as safetensors.ts returns them; integer ones (position_ids buffers) are listed as skipped.

import { unzipSync } from 'fflate';
import { decodeTensor, type FloatTensor, type ReadResult } from './safetensors.ts';
import { TorchPickleError, isTensor, unpickle, type StorageRef, type TensorRef } from './torch-pickle.ts';

export class TorchCheckpointError extends Error {
  override name = 'TorchCheckpointError';
}

/** torch storage class → safetensors dtype name and element size. */
const STORAGE_DTYPE: Record<string, { dtype: string; size: number; float: boolean }> = {
  FloatStorage: { dtype: 'F32', size: 4, float: true },
  HalfStorage: { dtype: 'F16', size: 2, float: true },
  BFloat16Storage: { dtype: 'BF16', size: 2, float: true },
  DoubleStorage: { dtype: 'F64', size: 8, float: true },
  LongStorage: { dtype: 'I64', size: 8, float: false },
  IntStorage: { dtype: 'I32', size: 4, float: false },
  ShortStorage: { dtype: 'I16', size: 2, float: false },
  CharStorage: { dtype: 'I8', size: 1, float: false },
  ByteStorage: { dtype: 'U8', size: 1, float: false },
  BoolStorage: { dtype: 'BOOL', size: 1, float: false },
};

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** Reads a pytorch_model.bin (zip or legacy layout). Errors name the file and say what to do. */
export function readTorchBin(bytes: Uint8Array, fileName = 'pytorch_model.bin'): ReadResult {
  try {
    if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return readZip(bytes, fileName);
    if (bytes.length >= 2 && bytes[0] === 0x80) return readLegacy(bytes, fileName);
  } catch (e) {
    if (e instanceof TorchPickleError) throw new TorchCheckpointError(e.message);
    throw e;
  }
  if (bytes.length > 262 && new TextDecoder('latin1').decode(bytes.subarray(257, 262)) === 'ustar') {
    throw new TorchCheckpointError(`${fileName} is a tar archive (PyTorch before 0.4); re-save it with a current PyTorch, or convert it to model.safetensors`);
  }
  throw new TorchCheckpointError(`${fileName} is neither a PyTorch zip checkpoint nor a legacy pickle checkpoint (truncated download, a git-lfs pointer, or another format?)`);
}

function readZip(bytes: Uint8Array, fileName: string): ReadResult {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    throw new TorchCheckpointError(`${fileName} is not a readable zip (${(e as Error).message}; truncated download?)`);
  }
  const pkl = Object.keys(entries).find((k) => /^[^/]+\/data\.pkl$/.test(k));
  if (!pkl) throw new TorchCheckpointError(`${fileName} is a zip without <name>/data.pkl: not a PyTorch checkpoint`);
  const dir = pkl.slice(0, -'data.pkl'.length);
  const order = entries[`${dir}byteorder`];
  if (order && new TextDecoder().decode(order).trim() !== 'little') throw new TorchCheckpointError(`${fileName} was saved on a big-endian machine; re-save it on a little-endian one`);
  const state = unpickle(entries[pkl], 0, `${fileName} (data.pkl)`).value;
  return collect(state, fileName, (s) => {
    const raw = entries[`${dir}data/${s.key}`];
    if (!raw) throw new TorchCheckpointError(`${fileName}: storage ${s.key} is missing from the archive`);
    return raw;
  });
}

function readLegacy(bytes: Uint8Array, fileName: string): ReadResult {
  let pos = 0;
  const next = (what: string) => {
    const r = unpickle(bytes, pos, `${fileName} (${what})`);
    pos = r.end;
    return r.value;
  };
  if (next('magic number') !== LEGACY_MAGIC) throw new TorchCheckpointError(`${fileName} starts like a pickle but is not a PyTorch checkpoint (no magic number)`);
  const version = next('protocol version');
  if (version !== 1001) throw new TorchCheckpointError(`${fileName}: legacy checkpoint protocol ${String(version)} is not supported (expected 1001)`);
  const sys = next('system info');
  if (sys instanceof Map && sys.get('little_endian') === false) throw new TorchCheckpointError(`${fileName} was saved on a big-endian machine; re-save it on a little-endian one`);
  const state = next('state dict');
  const keys = next('storage keys');
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw new TorchCheckpointError(`${fileName}: the storage key list is malformed`);
  // Each storage: int64 element count, then the raw bytes; the element size comes from the storages' types.
  const types = new Map<string, StorageRef>();
  walkTensors(state, (t) => types.set(t.storage.key, t.storage));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Map<string, Uint8Array>();
  for (const key of keys as string[]) {
    const s = types.get(key);
    if (!s) throw new TorchCheckpointError(`${fileName}: storage ${key} is listed but no tensor uses it`);
    if (pos + 8 > bytes.length) throw new TorchCheckpointError(`${fileName} ends before storage ${key} (truncated download?)`);
    const n = Number(dv.getBigInt64(pos, true));
    const size = n * STORAGE_DTYPE[s.dtype].size;
    if (n < 0 || pos + 8 + size > bytes.length) throw new TorchCheckpointError(`${fileName}: storage ${key} needs ${size} bytes past byte ${pos + 8} of ${bytes.length} (truncated download?)`);
    data.set(key, bytes.subarray(pos + 8, pos + 8 + size));
    pos += 8 + size;
  }
  return collect(state, fileName, (s) => {
    const raw = data.get(s.key);
    if (!raw) throw new TorchCheckpointError(`${fileName}: storage ${s.key} is not in the file`);
    return raw;
  });
}

function walkTensors(state: unknown, fn: (t: TensorRef, name: string) => void): void {
  if (!(state instanceof Map)) return;
  for (const [k, v] of state) if (isTensor(v)) fn(v, String(k));
}

/** The state dict → float tensors (copied out of their storages, any strides) and the skipped non-float ones. */
function collect(state: unknown, fileName: string, storageBytes: (s: StorageRef) => Uint8Array): ReadResult {
  if (!(state instanceof Map)) throw new TorchCheckpointError(`${fileName} does not hold a state dict (a dict of tensor names to tensors); save model.state_dict(), not the model object`);
  const out: ReadResult = { tensors: new Map(), skipped: [], metadata: {} };
  const notTensors: string[] = [];
  for (const [k, v] of state) {
    const name = String(k);
    if (!isTensor(v)) {
      notTensors.push(name);
      continue;
    }
    const d = STORAGE_DTYPE[v.storage.dtype];
    if (!d.float) {
      out.skipped.push({ name, dtype: d.dtype, shape: v.shape });
      continue;
    }
    out.tensors.set(name, materialise(v, storageBytes(v.storage), d, `${fileName}: tensor ${name}`));
  }
  if (notTensors.length) {
    throw new TorchCheckpointError(`${fileName} is not a plain state dict: ${notTensors.slice(0, 5).join(', ')}${notTensors.length > 5 ? ' …' : ''} ${notTensors.length === 1 ? 'is' : 'are'} not tensors (a training checkpoint? save model.state_dict() alone)`);
  }
  return out;
}

function materialise(t: TensorRef, raw: Uint8Array, d: { dtype: string; size: number }, what: string): FloatTensor {
  const base = t.storage.viewOffset ?? 0;
  const count = t.shape.reduce((a, b) => a * b, 1);
  const storageElems = Math.floor(raw.length / d.size);
  // Highest element the view touches must lie inside the storage.
  const last = count === 0 ? 0 : base + t.offset + t.shape.reduce((a, n, i) => a + (n - 1) * t.stride[i], 0);
  if (count > 0 && last >= storageElems) throw new TorchCheckpointError(`${what} [${t.shape}] reaches element ${last} of a ${storageElems}-element storage (damaged file?)`);
  const contiguous = t.stride.every((s, i) => s === t.shape.slice(i + 1).reduce((a, b) => a * b, 1) || t.shape[i] === 1);
  let bytes: Uint8Array;
  if (contiguous) {
    const start = (base + t.offset) * d.size;
    bytes = raw.subarray(start, start + count * d.size);
  } else {
    // Gather element by element in row-major order.
    bytes = new Uint8Array(count * d.size);
    const idx = new Array(t.shape.length).fill(0);
    for (let i = 0; i < count; i++) {
      let src = base + t.offset;
      for (let a = 0; a < idx.length; a++) src += idx[a] * t.stride[a];
      bytes.set(raw.subarray(src * d.size, (src + 1) * d.size), i * d.size);
      for (let a = idx.length - 1; a >= 0; a--) {
        if (++idx[a] < t.shape[a]) break;
        idx[a] = 0;
      }
    }
  }
  return { dtype: d.dtype, shape: t.shape, data: decodeTensor(bytes, d.dtype, count) };
}
