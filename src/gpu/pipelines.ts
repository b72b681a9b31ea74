// Compute pipelines, created once per (shader, entry point, override constants) and cached.

import { GpuValidationError } from './errors.ts';
import type { GpuRuntime } from './runtime.ts';
import { shaderSource } from './shaders.ts';

export interface PipelineKey {
  /** Kernel name, used in every error message. */
  kernel: string;
  /** File name under shaders/, without .wgsl. */
  shader: string;
  entry?: string;
  /** WGSL `override` constants. */
  constants?: Record<string, number>;
  /** Text prepended to the shader (e.g. `enable f16;` or `alias T = f32;`). */
  prelude?: string;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly ids = new WeakMap<GPUComputePipeline, number>();
  private nextId = 1;

  constructor(private readonly rt: GpuRuntime) {}

  get(k: PipelineKey): Promise<GPUComputePipeline> {
    const key = `${k.shader}|${k.entry ?? 'main'}|${k.prelude ?? ''}|${JSON.stringify(k.constants ?? {})}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.create(k);
      this.pipelines.set(key, p);
      p.catch(() => this.pipelines.delete(key));
    }
    return p;
  }

  id(p: GPUComputePipeline): number {
    let id = this.ids.get(p);
    if (id === undefined) this.ids.set(p, (id = this.nextId++));
    return id;
  }

  clear(): void {
    this.pipelines.clear();
  }

  private async create(k: PipelineKey): Promise<GPUComputePipeline> {
    const device = this.rt.device;
    const code = (k.prelude ? k.prelude + '\n' : '') + (await shaderSource(k.shader));
    const module = device.createShaderModule({ code, label: `${k.kernel}:${k.shader}.wgsl` });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) {
      const text = errors.map((m) => `shaders/${k.shader}.wgsl:${m.lineNum}:${m.linePos}: ${m.message}`).join('\n');
      throw new GpuValidationError(`shader does not compile:\n${text}`, k.kernel);
    }
    try {
      return await device.createComputePipelineAsync({
        label: k.kernel,
        layout: 'auto',
        compute: { module, entryPoint: k.entry ?? 'main', constants: k.constants },
      });
    } catch (e) {
      throw new GpuValidationError(`pipeline creation failed: ${(e as Error).message}`, k.kernel);
    }
  }
}
