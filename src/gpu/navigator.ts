// Where the GPU object comes from: the page's navigator.gpu, or Dawn (the `webgpu` package) in Node.
// Only src/gpu/ imports this.

// Dawn segfaults the process if a GPU object is garbage-collected while its devices live: keep every one.
let dawnGpu: GPU | undefined;
const keepAlive: GPU[] = [];
let dawnModule: { create(flags: string[]): GPU; globals: Record<string, unknown> } | undefined;

/** Where Debian's chromium package puts SwiftShader's Vulkan driver (a complete WebGPU on the CPU). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

export async function getGpu(): Promise<GPU | undefined> {
  if (typeof navigator !== 'undefined' && (navigator as Navigator).gpu) return (navigator as Navigator).gpu;
  if (!isNode) return undefined;
  if (dawnGpu) return dawnGpu;
  // A variable specifier keeps Vite from bundling Dawn into the page. WEBGPU_MODULE lets a trimmed copy of the
  // addon (the GPU machine's .devkit) stand in for node_modules/webgpu.
  const spec = process.env.WEBGPU_MODULE ?? 'webgpu';
  let mod: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    mod = await import(/* @vite-ignore */ spec);
  } catch (e) {
    throw new Error(`Could not load Dawn from '${spec}' (npm install webgpu): ${(e as Error).message}`);
  }
  Object.assign(globalThis, mod.globals);
  dawnModule = mod;
  process.env.XDG_RUNTIME_DIR ??= '/tmp'; // quiets a warning SwiftShader prints on every start
  dawnGpu = createDawn();
  return dawnGpu;
}

function createDawn(): GPU {
  const flags = (process.env.DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const gpu = dawnModule!.create(flags);
  keepAlive.push(gpu);
  return gpu;
}

/**
 * Node only: when Dawn finds no GPU driver and none was chosen with VK_ICD_FILENAMES, try SwiftShader (installed
 * with Debian's chromium). Returns undefined where that is not possible. The caller says it is a software adapter.
 */
export async function getSoftwareFallbackGpu(): Promise<GPU | undefined> {
  if (!isNode || !dawnModule || process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return undefined;
  const fsName = 'node:fs';
  const fs: typeof import('node:fs') = await import(/* @vite-ignore */ fsName);
  if (!fs.existsSync(SWIFTSHADER_ICD)) return undefined;
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  dawnGpu = createDawn();
  return dawnGpu;
}
