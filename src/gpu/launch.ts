// The launcher every kernel uses: checks the grid against the device's limits, binds buffers in declaration order,
// packs a uniform block, records one dispatch into the runtime's open compute pass, and names the kernel in any error.
//
// Binding convention for every shader in shaders/: group 0, storage buffers at bindings 0..n-1 in the order the
// launcher passes them, then (if the kernel has parameters) one uniform struct at binding n. Each entry point must
// use every binding it is given (the pipeline layout is 'auto').

import { type Tensor, numel } from './buffers.ts';
import { KernelShapeError } from './errors.ts';
import type { PipelineKey } from './pipelines.ts';
import type { GpuRuntime } from './runtime.ts';

export interface Launch extends PipelineKey {
  bindings: (GPUBuffer | Tensor)[];
  /** Uniform values, written as 32-bit words: integers as u32, use `f32bits(x)` for floats. */
  params?: number[];
  /**
   * The params change on every call (a dropout seed, a step's scalars): use a one-off uniform buffer and bind group,
   * freed after the submission, instead of filling the per-shape cache with entries never used again.
   */
  volatile?: boolean;
  workgroups: [number, number?, number?];
}

const scratch = new DataView(new ArrayBuffer(4));
/** The bits of an f32, to put a float into a u32 params array (the shader reads it with bitcast<f32>). */
export function f32bits(x: number): number {
  scratch.setFloat32(0, x, true);
  return scratch.getUint32(0, true);
}

/** Splits `groups` workgroups over x and y so neither exceeds the per-dimension limit. */
export function grid(rt: GpuRuntime, groups: number): [number, number] {
  const max = rt.info.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [Math.max(1, groups), 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

/** A binding: the whole buffer, or a view's byte range (offset and size, as WebGPU binds sub-ranges). */
function bindingOf(b: GPUBuffer | Tensor): GPUBufferBinding {
  if (!('buffer' in b)) return { buffer: b };
  if (b.offset === undefined) return { buffer: b.buffer };
  return { buffer: b.buffer, offset: b.offset, size: Math.max(4, numel(b.shape) * 4) };
}

const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 1;
function bufId(b: GPUBuffer): number {
  let id = bufferIds.get(b);
  if (id === undefined) bufferIds.set(b, (id = nextBufferId++));
  return id;
}

interface LaunchCaches {
  uniforms: Map<string, GPUBuffer>;
  bindGroups: Map<string, GPUBindGroup>;
}
const caches = new WeakMap<GPUDevice, LaunchCaches>();
const MAX_CACHED = 8192;

function cachesFor(device: GPUDevice): LaunchCaches {
  let c = caches.get(device);
  if (!c) caches.set(device, (c = { uniforms: new Map(), bindGroups: new Map() }));
  return c;
}

function newUniformBuffer(rt: GpuRuntime, params: number[]): GPUBuffer {
  const words = new Uint32Array(Math.max(4, Math.ceil(params.length / 4) * 4));
  words.set(params.map((x) => x >>> 0));
  const buf = rt.device.createBuffer({
    size: words.byteLength,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    label: 'params',
    mappedAtCreation: true,
  });
  new Uint32Array(buf.getMappedRange()).set(words);
  buf.unmap();
  return buf;
}

/** One uniform buffer per distinct params (a shape's sizes), made once and reused by every later call. */
function uniformBuffer(rt: GpuRuntime, c: LaunchCaches, params: number[]): GPUBuffer {
  const key = params.join(',');
  let buf = c.uniforms.get(key);
  if (!buf) {
    if (c.uniforms.size >= MAX_CACHED) {
      rt.submit();
      for (const b of c.uniforms.values()) b.destroy();
      c.uniforms.clear();
      c.bindGroups.clear();
    }
    buf = newUniformBuffer(rt, params);
    c.uniforms.set(key, buf);
    launchStats.uniforms++;
  }
  return buf;
}

/** Counts of what launch() created, for tests and `bench`: a steady training step should create nothing cached. */
export const launchStats = { dispatches: 0, uniforms: 0, bindGroups: 0, volatile: 0 };

export async function launch(rt: GpuRuntime, l: Launch): Promise<void> {
  const [x, y = 1, z = 1] = l.workgroups;
  const max = rt.info.limits.maxComputeWorkgroupsPerDimension;
  for (const n of [x, y, z]) {
    if (!Number.isInteger(n) || n < 0 || n > max) {
      throw new KernelShapeError(l.kernel, `grid [${x}, ${y}, ${z}] is outside 0..${max} per dimension`);
    }
  }
  const pipeline = await rt.pipelines.get(l);
  rt.assertAlive();
  if (x * y * z === 0) return;
  const c = cachesFor(rt.device);
  const buffers = l.bindings.map(bindingOf);
  const maxBinding = rt.info.limits.maxStorageBufferBindingSize;
  buffers.forEach((b, i) => {
    const size = b.size ?? b.buffer.size;
    if (size > maxBinding) {
      throw new KernelShapeError(l.kernel, `binding ${i} ('${b.buffer.label}') is ${size} bytes, over maxStorageBufferBindingSize ${maxBinding}`);
    }
  });
  if (l.volatile && l.params) {
    const ubuf = newUniformBuffer(rt, l.params);
    const entries: GPUBindGroupEntry[] = buffers.map((resource, binding) => ({ binding, resource }));
    entries.push({ binding: buffers.length, resource: { buffer: ubuf } });
    const bg = rt.device.createBindGroup({ label: l.kernel, layout: pipeline.getBindGroupLayout(0), entries });
    launchStats.volatile++;
    dispatch(rt, l.kernel, pipeline, bg, x, y, z);
    rt.destroyAfterSubmit(ubuf);
    return;
  }
  const ubuf = l.params ? uniformBuffer(rt, c, l.params) : undefined;
  const ids = buffers.map((b) => (b.size === undefined ? `${bufId(b.buffer)}` : `${bufId(b.buffer)}@${b.offset}+${b.size}`));
  const key = `${rt.pipelines.id(pipeline)}:${ids.join(',')}:${ubuf ? bufId(ubuf) : ''}`;
  let bg = c.bindGroups.get(key);
  if (!bg) {
    if (c.bindGroups.size >= MAX_CACHED) c.bindGroups.clear();
    const entries: GPUBindGroupEntry[] = buffers.map((resource, binding) => ({ binding, resource }));
    if (ubuf) entries.push({ binding: buffers.length, resource: { buffer: ubuf } });
    bg = rt.device.createBindGroup({ label: l.kernel, layout: pipeline.getBindGroupLayout(0), entries });
    c.bindGroups.set(key, bg);
    launchStats.bindGroups++;
  }
  dispatch(rt, l.kernel, pipeline, bg, x, y, z);
}

function dispatch(rt: GpuRuntime, kernel: string, pipeline: GPUComputePipeline, bg: GPUBindGroup, x: number, y: number, z: number): void {
  const pass = rt.computePass(kernel);
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bg);
  pass.dispatchWorkgroups(x, y, z);
  launchStats.dispatches++;
  rt.afterDispatch();
}
