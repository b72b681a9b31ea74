// The GPU runtime: the one place that owns the adapter and device. Everything else (kernels, model, trainer,
// batch-size probe, page) goes through a GpuRuntime.
//
//  - asks for the adapter's real limits and, when offered, the one optional feature something uses (timestamp-query,
//    for the profiler); reports every optional feature the adapter offers (`info`: the page picks q4f16 by it);
//  - turns validation errors, out-of-memory and device loss into typed errors (./errors.ts);
//  - recreates the device after a loss (`recreate()`), telling listeners so they can re-upload their buffers;
//  - owns the buffer pool (byte accounting), the pipeline cache and the command encoder that launchers record into.

import { BufferPool } from './buffers.ts';
import {
  GpuDeviceLostError,
  GpuError,
  GpuUnavailableError,
  GpuValidationError,
  HOW_TO_GET_AN_ADAPTER,
  fromGpuError,
} from './errors.ts';
import { getGpu, getSoftwareFallbackGpu } from './navigator.ts';
import { PipelineCache } from './pipelines.ts';
import { Profiler } from './profiler.ts';

/** Optional features reported in `info` when the adapter offers them. */
export const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;
export type OptionalFeature = (typeof OPTIONAL_FEATURES)[number];
/** The ones requested from the device: no kernel uses f16 or subgroups; the profiler needs timestamp queries. */
const REQUESTED_FEATURES: readonly OptionalFeature[] = ['timestamp-query'];

/** Limits we raise from the spec defaults to whatever the adapter really allows. */
const WANTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;
export type WantedLimit = (typeof WANTED_LIMITS)[number];

export interface GpuInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A short human name: "nvidia nvidia-h200", "google swiftshader". */
  name: string;
  isSoftware: boolean;
  /** What the adapter offers (the device is given only REQUESTED_FEATURES of it). */
  features: OptionalFeature[];
  limits: Record<WantedLimit, number>;
}

export interface RuntimeOptions {
  powerPreference?: GPUPowerPreference;
  /** Submit the recorded work after this many dispatches, so no single submission runs long (GPU watchdogs). */
  dispatchesPerSubmit?: number;
}

export type LostListener = (err: GpuDeviceLostError) => void;

/** A CPU implementation of WebGPU (SwiftShader, llvmpipe, WARP…): correct but far slower than any GPU. */
export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const ai = adapter.info;
  return (
    /swiftshader|llvmpipe|lavapipe|software|warp/i.test(`${ai.vendor} ${ai.architecture} ${ai.device} ${ai.description}`) ||
    ((adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false)
  );
}

export class GpuRuntime {
  device!: GPUDevice;
  adapter!: GPUAdapter;
  info!: GpuInfo;
  readonly pool = new BufferPool(this);
  readonly pipelines = new PipelineCache(this);
  /** Set when the device was lost; every launch raises it until recreate(). */
  lostError: GpuDeviceLostError | undefined;
  /** First uncaptured error since the last flush(); raised by the next flush()/read(). */
  private pendingError: GpuError | undefined;
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private dispatchesInEncoder = 0;
  /** One-off buffers (volatile uniforms) used by the recorded work: destroyed once it is submitted. */
  private afterSubmit: GPUBuffer[] = [];
  private readonly lostListeners = new Set<LostListener>();
  private readonly recreateListeners = new Set<() => void>();
  private generation = 0;
  readonly dispatchesPerSubmit: number;
  /** Per-kernel GPU time, when enableProfiling() was called on an adapter with timestamp-query. */
  profiler: Profiler | undefined;

  private constructor(private readonly opts: RuntimeOptions) {
    this.dispatchesPerSubmit = opts.dispatchesPerSubmit ?? 64;
  }

  static async create(opts: RuntimeOptions = {}): Promise<GpuRuntime> {
    const rt = new GpuRuntime(opts);
    await rt.open();
    return rt;
  }

  private async open(): Promise<void> {
    const gpu = await getGpu();
    if (!gpu) throw new GpuUnavailableError(HOW_TO_GET_AN_ADAPTER + ' (navigator.gpu is missing)');
    const powerPreference = this.opts.powerPreference ?? 'high-performance';
    let adapter = await gpu.requestAdapter({ powerPreference });
    if (!adapter) {
      const soft = await getSoftwareFallbackGpu();
      adapter = soft ? await soft.requestAdapter({ powerPreference }) : null;
      if (adapter) console.warn('rerank-lab: no GPU driver found; using SwiftShader (WebGPU on the CPU, very slow).');
    }
    if (!adapter) throw new GpuUnavailableError(HOW_TO_GET_AN_ADAPTER);
    const features = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
    const requiredFeatures = features.filter((f) => REQUESTED_FEATURES.includes(f));
    const requiredLimits: Record<string, number> = {};
    for (const k of WANTED_LIMITS) requiredLimits[k] = adapter.limits[k];
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'rerank-lab' });
    } catch (e) {
      throw new GpuUnavailableError(`requestDevice failed: ${(e as Error).message}. ${HOW_TO_GET_AN_ADAPTER}`);
    }
    const ai = adapter.info;
    const limits = {} as Record<WantedLimit, number>;
    for (const k of WANTED_LIMITS) limits[k] = device.limits[k];
    const vendor = ai.vendor || '';
    const dev = ai.device || ai.description || '';
    const isSoftware = isSoftwareAdapter(adapter);
    this.info = {
      vendor,
      architecture: ai.architecture || '',
      device: dev,
      description: ai.description || '',
      name: [vendor, ai.architecture, dev].filter(Boolean).join(' ') || ai.description || 'unknown adapter',
      isSoftware,
      features,
      limits,
    };
    this.adapter = adapter;
    this.device = device;
    this.lostError = undefined;
    this.pendingError = undefined;
    const gen = ++this.generation;
    device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      if (!this.pendingError) this.pendingError = fromGpuError(err, 'GPU error');
    });
    void device.lost.then((info) => {
      if (gen !== this.generation) return; // an old device we replaced on purpose
      const err = new GpuDeviceLostError(
        `The GPU device was lost (${info.reason}): ${info.message || 'no message'}. ` +
          'Rerank Lab can recreate it; if it keeps happening, lower the batch size or the max length.',
        info.reason ?? 'unknown',
      );
      this.lostError = err;
      for (const l of this.lostListeners) l(err);
    });
  }

  /** Called with the typed error when the device is lost. Returns an unsubscribe function. */
  onLost(l: LostListener): () => void {
    this.lostListeners.add(l);
    return () => this.lostListeners.delete(l);
  }

  /** Called after recreate(): holders of GPU buffers must upload them again. */
  onRecreate(l: () => void): () => void {
    this.recreateListeners.add(l);
    return () => this.recreateListeners.delete(l);
  }

  /** Throws the device-lost error if the device is gone. */
  assertAlive(): void {
    if (this.lostError) throw this.lostError;
  }

  /** Drops the old device (all its buffers and pipelines) and opens a new one. */
  async recreate(): Promise<void> {
    this.encoder = undefined;
    this.afterSubmit = [];
    this.pass = undefined;
    this.dispatchesInEncoder = 0;
    this.pool.forgetAll();
    this.pipelines.clear();
    this.profiler = undefined; // its query set died with the device
    this.generation++;
    try {
      this.device?.destroy();
    } catch {
      /* already gone */
    }
    await this.open();
    for (const l of this.recreateListeners) l();
  }

  /** Simulates a device loss (tests, the batch-size probe's recovery path). */
  loseDevice(): void {
    this.device.destroy();
  }

  destroy(): void {
    this.generation++;
    this.pool.forgetAll();
    this.pipelines.clear();
    this.device?.destroy();
  }

  // ---- recording work ---------------------------------------------------------------------------------------

  /**
   * Times every dispatch from now on (a compute pass each, timestamped), summed by kernel name in
   * `profiler.report()` after a flush(). Returns false where the adapter has no timestamp-query.
   */
  enableProfiling(): boolean {
    if (!this.device.features.has('timestamp-query')) return false;
    this.submit();
    this.profiler ??= new Profiler(this.device);
    return true;
  }

  /** The compute pass that launchers record into; one pass holds many dispatches until flush(). */
  computePass(kernel: string): GPUComputePassEncoder {
    this.assertAlive();
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: `encoder(${kernel}…)` });
    if (this.profiler) {
      // one pass per dispatch, so its start and end can be timestamped
      this.pass?.end();
      this.pass = this.encoder.beginComputePass({ label: kernel, timestampWrites: this.profiler.nextPass(kernel) });
    } else if (!this.pass) {
      this.pass = this.encoder.beginComputePass({ label: `pass(${kernel}…)` });
    }
    return this.pass;
  }

  /** Counts a dispatch; submits when the batch is full so no submission runs long. */
  afterDispatch(): void {
    if (++this.dispatchesInEncoder >= this.dispatchesPerSubmit || this.profiler?.full) this.submit();
  }

  /** Encodes a buffer copy (ends the open pass first, since copies live outside passes). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.submit();
    this.assertAlive();
    const enc = this.device.createCommandEncoder({ label: 'copy' });
    enc.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.device.queue.submit([enc.finish()]);
  }

  /** Submits whatever was recorded, without waiting. */
  submit(): void {
    if (!this.encoder) return;
    this.pass?.end();
    const enc = this.encoder;
    this.profiler?.resolve(enc);
    this.pass = undefined;
    this.encoder = undefined;
    this.dispatchesInEncoder = 0;
    this.device.queue.submit([enc.finish()]);
    // destroy() after submit is safe: the submitted work keeps the memory until it has run.
    for (const b of this.afterSubmit) b.destroy();
    this.afterSubmit = [];
  }

  /** Destroys `buf` once the work recorded so far has been submitted (it may still be read by that work). */
  destroyAfterSubmit(buf: GPUBuffer): void {
    this.afterSubmit.push(buf);
  }

  /** Submits and waits for the GPU; raises the first error that happened since the last flush. */
  async flush(): Promise<void> {
    this.submit();
    this.assertAlive();
    await this.device.queue.onSubmittedWorkDone();
    await this.profiler?.collect();
    this.raisePending();
  }

  raisePending(): void {
    this.assertAlive();
    const e = this.pendingError;
    if (e) {
      this.pendingError = undefined;
      throw e;
    }
  }

  /**
   * Runs `fn` inside validation and out-of-memory error scopes and turns what they catch into typed errors.
   * Use around allocation and pipeline creation; hot loops rely on the uncaptured-error handler instead
   * (error scopes cost a round trip each).
   */
  async scoped<T>(what: string, fn: () => T, bytes = 0): Promise<T> {
    this.assertAlive();
    const d = this.device;
    d.pushErrorScope('validation');
    d.pushErrorScope('out-of-memory');
    let result: T;
    try {
      result = fn();
    } finally {
      const oom = await d.popErrorScope();
      const val = await d.popErrorScope();
      if (oom) throw fromGpuError(oom, what, bytes);
      if (val) throw new GpuValidationError(`${what}: ${val.message}`);
    }
    this.assertAlive();
    return result;
  }

  // ---- reading back -----------------------------------------------------------------------------------------

  /** Copies `bytes` from a GPU buffer into a new ArrayBuffer (submits pending work first) and waits for them. */
  read(src: GPUBuffer, bytes = src.size, offset = 0): Promise<ArrayBuffer> {
    return this.readLater(src, bytes, offset);
  }

  /**
   * Copies `bytes` from `src` in queue order (after everything recorded so far) and returns the promise of them
   * without waiting: the GPU goes on while the caller records more work (the trainer reads a step's loss and
   * gradient norm this way, a step late). Errors that happened meanwhile reject the promise.
   */
  readLater(src: GPUBuffer, bytes = src.size, offset = 0): Promise<ArrayBuffer> {
    this.submit();
    this.assertAlive();
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
    const enc = this.device.createCommandEncoder({ label: 'readback' });
    enc.copyBufferToBuffer(src, offset, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    return staging.mapAsync(GPUMapMode.READ).then(
      () => {
        const out = staging.getMappedRange().slice(0, bytes);
        staging.unmap();
        staging.destroy();
        this.raisePending();
        return out;
      },
      (e: Error) => {
        this.assertAlive();
        this.raisePending();
        throw new GpuValidationError(`readback failed: ${e.message}`);
      },
    );
  }

  async readF32(src: GPUBuffer, count?: number): Promise<Float32Array> {
    const n = count ?? src.size / 4;
    return new Float32Array(await this.read(src, n * 4));
  }

  async readU32(src: GPUBuffer, count?: number): Promise<Uint32Array> {
    const n = count ?? src.size / 4;
    return new Uint32Array(await this.read(src, n * 4));
  }

  /** Uploads typed data into a buffer (queue write; ordered before later submissions). */
  write(dst: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.submit(); // keep program order between recorded dispatches and queue writes
    this.device.queue.writeBuffer(dst, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Times `fn` with wall-clock time around a full flush (timestamp queries are optional per adapter). */
  async time(fn: () => Promise<void> | void): Promise<number> {
    await this.flush();
    const t0 = performance.now();
    await fn();
    await this.flush();
    return performance.now() - t0;
  }
}
