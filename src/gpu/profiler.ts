// Where the time goes, per kernel: with the adapter's timestamp-query feature, every dispatch runs in its own compute
// pass whose beginning and end are timestamped; the totals are summed by kernel name. Profiling serialises passes a
// little, so it is for `bench --profile`, not for training.

export interface KernelTime {
  kernel: string;
  ms: number;
  dispatches: number;
}

export class Profiler {
  readonly querySet: GPUQuerySet;
  private names: string[] = [];
  private pending: { buf: GPUBuffer; resolveBuf: GPUBuffer; names: string[] }[] = [];
  private readonly totals = new Map<string, { ms: number; dispatches: number }>();

  constructor(
    private readonly device: GPUDevice,
    readonly capacity = 1024,
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: capacity * 2, label: 'profiler' });
  }

  get full(): boolean {
    return this.names.length >= this.capacity;
  }

  /** The timestampWrites for the next dispatch's pass. */
  nextPass(kernel: string): GPUComputePassTimestampWrites {
    const i = this.names.length;
    this.names.push(kernel);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Adds the resolve and copy commands for the passes recorded into `enc` since the last call. */
  resolve(enc: GPUCommandEncoder): void {
    const n = this.names.length;
    if (!n) return;
    const bytes = n * 16;
    const resolveBuf = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readBuf = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.resolveQuerySet(this.querySet, 0, 2 * n, resolveBuf, 0);
    enc.copyBufferToBuffer(resolveBuf, 0, readBuf, 0, bytes);
    this.pending.push({ buf: readBuf, resolveBuf, names: this.names });
    this.names = [];
  }

  /** Reads the resolved timestamps (after the work was submitted) into the per-kernel totals. */
  async collect(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) {
      await p.buf.mapAsync(GPUMapMode.READ);
      const t = new BigInt64Array(p.buf.getMappedRange());
      p.names.forEach((name, i) => {
        const ns = Number(t[2 * i + 1] - t[2 * i]);
        const e = this.totals.get(name) ?? { ms: 0, dispatches: 0 };
        e.ms += Math.max(0, ns) / 1e6;
        e.dispatches++;
        this.totals.set(name, e);
      });
      p.buf.unmap();
      p.buf.destroy();
      p.resolveBuf.destroy();
    }
  }

  /** Totals by kernel, largest first. */
  report(): KernelTime[] {
    return [...this.totals].map(([kernel, v]) => ({ kernel, ...v })).sort((a, b) => b.ms - a.ms);
  }

  reset(): void {
    this.totals.clear();
  }

  destroy(): void {
    this.querySet.destroy();
  }
}
