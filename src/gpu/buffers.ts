// Buffer pool with byte accounting. Every GPU buffer the engine holds comes from here, so `currentBytes` and
// `peakBytes` are the engine's real footprint (the batch-size probe and `bench` report them).

import { GpuLimitError, GpuOutOfMemoryError } from './errors.ts';
import type { GpuRuntime } from './runtime.ts';

export type DType = 'f32' | 'u32' | 'i32';

/**
 * A GPU buffer with a shape. Row-major, contiguous. With `offset` it is a view: numel(shape) elements starting
 * `offset` bytes into the buffer (a multiple of the adapter's minStorageBufferOffsetAlignment, 256), bound as that
 * range only — how the flat parameter, gradient and moment buffers hand out one tensor per parameter.
 */
export interface Tensor {
  buffer: GPUBuffer;
  shape: number[];
  dtype: DType;
  label: string;
  offset?: number;
}

/** GPUBufferUsage is a global only once a WebGPU implementation is loaded, so read it lazily. */
export function storageUsage(): number {
  return GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Byte range [start, end) of a tensor (or a whole buffer) within its buffer. */
function byteRange(t: Tensor | GPUBuffer): [GPUBuffer, number, number] {
  if (!('buffer' in t)) return [t, 0, t.size];
  const start = t.offset ?? 0;
  return [t.buffer, start, t.offset === undefined ? t.buffer.size : start + numel(t.shape) * 4];
}

/** True when two tensors (views or whole buffers) share bytes: what the kernels' aliasing checks ask. */
export function overlaps(a: Tensor | GPUBuffer, b: Tensor | GPUBuffer): boolean {
  const [ba, sa, ea] = byteRange(a);
  const [bb, sb, eb] = byteRange(b);
  return ba === bb && sa < eb && sb < ea;
}

export class BufferPool {
  currentBytes = 0;
  peakBytes = 0;
  /**
   * Optional cap on live bytes, below what the device would allow: a user sharing a GPU can keep Rerank Lab under
   * a budget, and tests can exercise the out-of-memory path on adapters with plenty of memory.
   */
  limitBytes: number | undefined;
  private readonly live = new Map<GPUBuffer, number>();
  /** Released buffers kept for reuse, by exact byte size. */
  private readonly free = new Map<number, GPUBuffer[]>();

  constructor(private readonly rt: GpuRuntime) {}

  resetPeak(): void {
    this.peakBytes = this.currentBytes;
  }

  /** A storage buffer of at least `bytes` (rounded up to 4). Raises GpuOutOfMemoryError / GpuLimitError. */
  async alloc(bytes: number, label: string): Promise<GPUBuffer> {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const lim = this.rt.info.limits;
    if (size > lim.maxBufferSize) {
      throw new GpuLimitError(
        `Buffer '${label}' needs ${fmtBytes(size)} but this adapter allows at most ${fmtBytes(lim.maxBufferSize)} per buffer (maxBufferSize).`,
        'maxBufferSize',
        lim.maxBufferSize,
      );
    }
    if (this.limitBytes !== undefined && this.currentBytes + size > this.limitBytes) {
      throw new GpuOutOfMemoryError(
        `allocating '${label}' (${fmtBytes(size)}) would exceed the memory budget of ${fmtBytes(this.limitBytes)} (${fmtBytes(this.currentBytes)} in use)`,
        size,
        label,
      );
    }
    const buf =
      this.free.get(size)?.pop() ??
      (await this.rt.scoped(
        `allocating '${label}' (${fmtBytes(size)})`,
        () => this.rt.device.createBuffer({ size, usage: storageUsage(), label }),
        size,
      ));
    this.live.set(buf, size);
    this.currentBytes += size;
    if (this.currentBytes > this.peakBytes) this.peakBytes = this.currentBytes;
    return buf;
  }

  async tensor(shape: number[], label: string, dtype: DType = 'f32'): Promise<Tensor> {
    return { buffer: await this.alloc(numel(shape) * 4, label), shape: [...shape], dtype, label };
  }

  /** A tensor filled with `data`. */
  async upload(data: Float32Array | Uint32Array | Int32Array, shape: number[], label: string): Promise<Tensor> {
    if (data.length !== numel(shape)) throw new Error(`upload '${label}': ${data.length} values for shape [${shape}]`);
    const dtype: DType = data instanceof Float32Array ? 'f32' : data instanceof Uint32Array ? 'u32' : 'i32';
    const t = await this.tensor(shape, label, dtype);
    this.rt.write(t.buffer, data);
    return t;
  }

  /** Returns a buffer to the pool for reuse (its bytes stop counting as current). */
  release(t: Tensor | GPUBuffer): void {
    const buf = 'buffer' in t ? t.buffer : t;
    const size = this.live.get(buf);
    if (size === undefined) return;
    this.live.delete(buf);
    this.currentBytes -= size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
  }

  /** Destroys the buffers kept for reuse (gives memory back to the driver). */
  trim(): void {
    this.rt.submit();
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
  }

  /** Forgets every buffer without touching the device (after a device loss its buffers are gone anyway). */
  forgetAll(): void {
    this.live.clear();
    this.free.clear();
    this.currentBytes = 0;
  }
}

export function fmtBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}
