// A strict reader of the pickles inside a PyTorch checkpoint (pytorch_model.bin). It executes nothing: it knows the
// few opcodes torch.save writes for a state dict (containers, strings, numbers, memo, persistent ids) and a short
// list of globals it "calls" by building plain data (an OrderedDict, a tensor descriptor). Any other opcode or global
// stops the read with an error that names it, so a pickle that would run code in Python is refused here.
// No npm pickle parser is kept up (pickleparser had its last release in 2024 and rebuilds arbitrary classes).

export class TorchPickleError extends Error {
  override name = 'TorchPickleError';
}

/** Where a tensor's numbers are: a storage (by key) of `dtype`, and the view into it (in elements). */
export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

export interface StorageRef {
  kind: 'storage';
  /** torch storage class name: FloatStorage, HalfStorage, BFloat16Storage, LongStorage … */
  dtype: string;
  key: string;
  /** Elements in the storage. */
  numel: number;
  /** Legacy format only: this storage is a view (offset in elements) into the root storage `key`. */
  viewOffset?: number;
}

/** A dict from the pickle: a Map keeps insertion order and takes any key. */
export type PickleDict = Map<unknown, unknown>;

type Global = { kind: 'global'; module: string; name: string };
type Mark = { kind: 'mark' };

/** The storage classes torch writes as the second item of a persistent id. */
export const STORAGE_TYPES = new Set([
  'FloatStorage', 'HalfStorage', 'BFloat16Storage', 'DoubleStorage', 'LongStorage', 'IntStorage', 'ShortStorage',
  'CharStorage', 'ByteStorage', 'BoolStorage',
]);

/** Globals we accept, and what "calling" each builds. */
const CALLABLE: Record<string, (args: unknown[]) => unknown> = {
  'collections.OrderedDict': (args) => {
    if (args.length && !(Array.isArray(args[0]) && args[0].length === 0)) throw new TorchPickleError('OrderedDict built from items is not supported');
    return new Map();
  },
  'torch._utils._rebuild_tensor_v2': (args) => rebuildTensor(args),
  'torch._utils._rebuild_tensor': (args) => rebuildTensor(args),
  'torch._utils._rebuild_parameter': (args) => {
    if (!isTensor(args[0])) throw new TorchPickleError('_rebuild_parameter without a tensor');
    return args[0];
  },
};

function isTensor(v: unknown): v is TensorRef {
  return !!v && typeof v === 'object' && (v as TensorRef).kind === 'tensor';
}

function intTuple(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0)) throw new TorchPickleError(`tensor ${what} must be a tuple of non-negative integers, got ${String(v)}`);
  return v as number[];
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!storage || (storage as StorageRef).kind !== 'storage') throw new TorchPickleError('a tensor was rebuilt from something that is not a storage');
  if (!Number.isInteger(offset) || (offset as number) < 0) throw new TorchPickleError(`bad tensor storage offset ${String(offset)}`);
  const shape = intTuple(size, 'size');
  const strides = intTuple(stride, 'stride');
  if (strides.length !== shape.length) throw new TorchPickleError(`tensor size [${shape}] and stride [${strides}] differ in rank`);
  return { kind: 'tensor', storage: storage as StorageRef, offset: offset as number, shape, stride: strides };
}

/** Turns a persistent id tuple into a storage reference (zip and legacy layouts). */
function persistentLoad(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage') throw new TorchPickleError(`unknown persistent id ${JSON.stringify(pid)?.slice(0, 80)}`);
  const [, type, key, , numel, view] = pid as [string, Global, unknown, unknown, unknown, unknown];
  if (!type || type.kind !== 'global' || type.module !== 'torch' || !STORAGE_TYPES.has(type.name)) {
    throw new TorchPickleError(`persistent id names storage type ${type?.kind === 'global' ? `${type.module}.${type.name}` : String(type)}, which is not a torch storage class`);
  }
  if (typeof key !== 'string') throw new TorchPickleError('storage key must be a string');
  if (!Number.isInteger(numel) || (numel as number) < 0) throw new TorchPickleError(`storage ${key} has a bad size ${String(numel)}`);
  const ref: StorageRef = { kind: 'storage', dtype: type.name, key, numel: numel as number };
  if (Array.isArray(view)) {
    const [viewKey, viewOffset, viewSize] = view as [unknown, unknown, unknown];
    if (typeof viewKey !== 'string' || !Number.isInteger(viewOffset) || !Number.isInteger(viewSize)) throw new TorchPickleError('bad storage view in a legacy checkpoint');
    return { kind: 'storage', dtype: type.name, key, numel: viewSize as number, viewOffset: viewOffset as number };
  }
  return ref;
}

const OP_NAMES: Record<number, string> = {
  0x63: 'GLOBAL', 0x69: 'INST', 0x6f: 'OBJ', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x52: 'REDUCE', 0x62: 'BUILD',
  0x50: 'PERSID', 0x46: 'FLOAT', 0x49: 'INT', 0x4c: 'LONG', 0x53: 'STRING', 0x56: 'UNICODE', 0x70: 'PUT', 0x67: 'GET',
  0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

export interface UnpickleResult {
  value: unknown;
  /** Bytes read (a legacy checkpoint is several pickles back to back). */
  end: number;
}

/**
 * Reads one pickle starting at `start`. Returns its value: dicts as Map, tuples and lists as arrays, tensors as
 * TensorRef, storages (persistent ids) as StorageRef, big integers (LONG1 beyond 2^53) as bigint.
 */
export function unpickle(bytes: Uint8Array, start = 0, what = 'pickle'): UnpickleResult {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = start;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const need = (n: number) => {
    if (pos + n > bytes.length) throw new TorchPickleError(`${what} ends in the middle of an instruction (truncated file?)`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), dv.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), dv.getUint32(pos - 4, true));
  const take = (n: number) => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const pop = () => {
    if (!stack.length) throw new TorchPickleError(`${what}: stack underflow`);
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) throw new TorchPickleError(`${what}: no MARK to pop to`);
    return stack.splice(m);
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new TorchPickleError(`${what} ends in the middle of an instruction (truncated file?)`);
    if (end - pos > 256) throw new TorchPickleError(`${what}: a GLOBAL name is ${end - pos} bytes long (damaged file?)`);
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const global = (module: string, name: string): Global => {
    const full = `${module}.${name}`;
    if (CALLABLE[full] || (module === 'torch' && STORAGE_TYPES.has(name))) return { kind: 'global', module, name };
    throw new TorchPickleError(`${what} refers to ${full}, which is not part of a plain PyTorch state dict; it is refused (nothing in the file is executed)`);
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!(dict instanceof Map)) throw new TorchPickleError(`${what}: SETITEM on something that is not a dict`);
    for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i], items[i + 1]);
  };
  const string = (n: number) => {
    const b = take(n);
    try {
      return utf8.decode(b);
    } catch {
      throw new TorchPickleError(`${what}: a string is not valid UTF-8`);
    }
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO n
      case 0x95: take(8); break; // FRAME (protocol 4)
      case 0x2e: return { value: pop(), end: pos }; // STOP
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { const items = popMark(); const d = new Map(); setItems(d, items); stack.push(d); break; } // DICT
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: need(4); stack.push(dv.getInt32(pos, true)); pos += 4; break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: { // LONG1: n bytes, little-endian two's complement
        const b = take(u8());
        let v = 0n;
        for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: need(8); stack.push(dv.getFloat64(pos, false)); pos += 8; break; // BINFLOAT (big-endian)
      case 0x58: stack.push(string(u32())); break; // BINUNICODE
      case 0x8c: stack.push(string(u8())); break; // SHORT_BINUNICODE
      case 0x54: stack.push(new TextDecoder('latin1').decode(take(u32()))); break; // BINSTRING (py2 str)
      case 0x55: stack.push(new TextDecoder('latin1').decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x42: take(u32()); stack.push(null); break; // BINBYTES (content unused)
      case 0x43: take(u8()); stack.push(null); break; // SHORT_BINBYTES
      case 0x71: memo.set(u8(), stack[stack.length - 1]); break; // BINPUT
      case 0x72: memo.set(u32(), stack[stack.length - 1]); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, stack[stack.length - 1]); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) throw new TorchPickleError(`${what}: memo ${i} read before it was written`);
        stack.push(memo.get(i));
        break;
      }
      case 0x63: stack.push(global(line(), line())); break; // GLOBAL module\nname\n
      case 0x93: { const name = pop(); const module = pop(); stack.push(global(String(module), String(name))); break; } // STACK_GLOBAL
      case 0x52: { // REDUCE: callable(*args), only for the whitelisted globals
        const args = pop();
        const fn = pop() as Global;
        if (!fn || fn.kind !== 'global' || !CALLABLE[`${fn.module}.${fn.name}`] || !Array.isArray(args)) throw new TorchPickleError(`${what}: REDUCE of something that is not an accepted function`);
        stack.push(CALLABLE[`${fn.module}.${fn.name}`](args));
        break;
      }
      case 0x62: pop(); break; // BUILD: the state of an OrderedDict (its _metadata) is not needed
      case 0x51: stack.push(persistentLoad(pop())); break; // BINPERSID
      case 0x73: { const v = pop(); const k = pop(); setItems(stack[stack.length - 1], [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(stack[stack.length - 1], items); break; } // SETITEMS
      case 0x61: { const v = pop(); const l = stack[stack.length - 1]; if (!Array.isArray(l)) throw new TorchPickleError(`${what}: APPEND to a non-list`); l.push(v); break; } // APPEND
      case 0x65: { const items = popMark(); const l = stack[stack.length - 1]; if (!Array.isArray(l)) throw new TorchPickleError(`${what}: APPENDS to a non-list`); l.push(...items); break; } // APPENDS
      default:
        throw new TorchPickleError(`${what} uses pickle opcode ${OP_NAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`} at byte ${pos - 1}, which a plain PyTorch state dict does not need; it is refused (nothing in the file is executed)`);
    }
  }
}

export { isTensor };
