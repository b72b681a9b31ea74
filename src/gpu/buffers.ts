// Buffer pool with byte accounting. Every GPU buffer the engine holds comes from here, so `heldBytes` (live + free
// lists) and `peakHeldBytes` are the engine's real footprint (the batch-size probe and `bench` report them).

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

/** A released buffer waiting for reuse, stamped with the pool's generation when it was released. */
interface FreeBuffer {
  buffer: GPUBuffer;
  generation: number;
}

/**
 * Every GPU buffer the engine holds comes from here. Released buffers wait in free lists (by exact byte size) for a
 * later request of the same size: one training step releases and re-requests the same scratch sizes many times.
 * What no later step asks for is destroyed by collect(): called once per step (GpuModel does), it frees every
 * buffer that sat unused through a whole step, so shapes that come and go (a batch's ids, scratch sized by its
 * length) cannot pile up. `heldBytes` is the footprint that matters on the device: live plus free.
 */
export class BufferPool {
  /** Bytes of buffers handed out and not released. */
  currentBytes = 0;
  peakBytes = 0;
  /** Bytes of released buffers kept for reuse (the free lists). */
  freeBytes = 0;
  /** The most bytes held (live + free) since resetPeak(). */
  peakHeldBytes = 0;
  /**
   * Optional cap on held bytes (live + free lists), below what the device would allow: a user sharing a GPU can keep
   * Rerank Lab under a budget, and tests can exercise the out-of-memory path on adapters with plenty of memory.
   * Free lists are given back to the driver first; only live bytes over the cap raise GpuOutOfMemoryError.
   */
  limitBytes: number | undefined;
  private readonly live = new Map<GPUBuffer, number>();
  /** Released buffers kept for reuse, by exact byte size. */
  private readonly free = new Map<number, FreeBuffer[]>();
  private generation = 0;

  constructor(private readonly rt: GpuRuntime) {}

  resetPeak(): void {
    this.peakBytes = this.currentBytes;
    this.peakHeldBytes = this.heldBytes;
  }

  /** Every byte the pool holds on the device: live buffers and the free lists. */
  get heldBytes(): number {
    return this.currentBytes + this.freeBytes;
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
    const reused = this.free.get(size)?.pop();
    if (reused) this.freeBytes -= size;
    const buf = reused?.buffer ?? (await this.create(size, label));
    this.live.set(buf, size);
    this.currentBytes += size;
    if (this.currentBytes > this.peakBytes) this.peakBytes = this.currentBytes;
    if (this.heldBytes > this.peakHeldBytes) this.peakHeldBytes = this.heldBytes;
    return buf;
  }

  /** A new buffer; free lists go back to the driver first when the budget or the device runs short. */
  private async create(size: number, label: string): Promise<GPUBuffer> {
    this.rt.assertAlive(); // a lost device is the error to report, not the budget
    if (this.limitBytes !== undefined && this.heldBytes + size > this.limitBytes) this.trim();
    if (this.limitBytes !== undefined && this.currentBytes + size > this.limitBytes) {
      throw new GpuOutOfMemoryError(
        `allocating '${label}' (${fmtBytes(size)}) would exceed the memory budget of ${fmtBytes(this.limitBytes)} (${fmtBytes(this.currentBytes)} in use)`,
        size,
        label,
      );
    }
    const make = () =>
      this.rt.scoped(`allocating '${label}' (${fmtBytes(size)})`, () => this.rt.device.createBuffer({ size, usage: storageUsage(), label }), size);
    try {
      return await make();
    } catch (e) {
      if (!(e instanceof GpuOutOfMemoryError) || this.freeBytes === 0) throw e;
      this.trim();
      return make();
    }
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

  /** Returns a buffer to the pool for reuse (its bytes stop counting as current, and count as free). */
  release(t: Tensor | GPUBuffer): void {
    const buf = 'buffer' in t ? t.buffer : t;
    const size = this.live.get(buf);
    if (size === undefined) return;
    this.live.delete(buf);
    this.currentBytes -= size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push({ buffer: buf, generation: this.generation });
    this.freeBytes += size;
  }

  /**
   * Ends a step: destroys the free buffers nobody took since the previous collect() (released before it and still
   * free), i.e. sizes the current shapes do not use. Call it once per step, between steps.
   */
  collect(): void {
    this.generation++;
    const stale = this.generation - 1;
    this.destroyWhere((f) => f.generation < stale);
  }

  /** Destroys every buffer kept for reuse (gives memory back to the driver). */
  trim(): void {
    this.destroyWhere(() => true);
  }

  private destroyWhere(pick: (f: FreeBuffer) => boolean): void {
    let submitted = false;
    for (const [size, list] of this.free) {
      const keep = list.filter((f) => !pick(f));
      if (keep.length === list.length) continue;
      // Destroying is safe once the work that used the buffer is submitted (the driver waits for it).
      if (!submitted) (this.rt.submit(), (submitted = true));
      for (const f of list) if (pick(f)) f.buffer.destroy();
      this.freeBytes -= size * (list.length - keep.length);
      if (keep.length) this.free.set(size, keep);
      else this.free.delete(size);
    }
  }

  /** Forgets every buffer without touching the device (after a device loss its buffers are gone anyway). */
  forgetAll(): void {
    this.live.clear();
    this.free.clear();
    this.currentBytes = 0;
    this.freeBytes = 0;
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
