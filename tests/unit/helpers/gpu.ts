// Shared by every GPU test file: one runtime per file, the adapter's name printed once, and a loud failure
// (never a skip) when there is no adapter.
import { mulberry32 } from '../../../src/util/rng.ts';
import { GpuRuntime, type WantedLimit } from '../../../src/gpu/runtime.ts';

let rt: Promise<GpuRuntime> | undefined;

export function gpu(): Promise<GpuRuntime> {
  if (!rt) {
    rt = GpuRuntime.create().then(
      (r) => {
        console.log(`[gpu] adapter: ${r.info.name}${r.info.isSoftware ? ' (software)' : ''}; features: ${r.info.features.join(', ') || 'none'}`);
        return r;
      },
      (e: Error) => {
        throw new Error(
          `These tests need a WebGPU adapter and found none: ${e.message}\n` +
            'Run `npm test` (it installs Debian chromium + libvulkan1 for SwiftShader), or set VK_ICD_FILENAMES to a Vulkan driver.',
        );
      },
    );
  }
  return rt;
}

/** Deterministic pseudo-random numbers (mulberry32) so failures reproduce. */
export const rng = mulberry32;

export function randomF32(n: number, r: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** Runs `fn` with one of the runtime's limits set to `value` (e.g. a small grid, so launchers must split work). */
export async function withLimit<T>(rt: GpuRuntime, limit: WantedLimit, value: number, fn: () => Promise<T>): Promise<T> {
  const saved = rt.info.limits[limit];
  rt.info.limits[limit] = value;
  try {
    return await fn();
  } finally {
    rt.info.limits[limit] = saved;
  }
}

/** Runs `fn` with maxComputeWorkgroupsPerDimension lowered, so the launcher must spread work over y as well. */
export function withGridLimit<T>(rt: GpuRuntime, max: number, fn: () => Promise<T>): Promise<T> {
  return withLimit(rt, 'maxComputeWorkgroupsPerDimension', max, fn);
}
