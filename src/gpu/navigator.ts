// Where the GPU object comes from: the page's navigator.gpu, or Dawn (the `webgpu` package) in Node.
// Only src/gpu/ imports this.

let dawnGpu: GPU | undefined; // Dawn segfaults the process if this object is garbage-collected while devices live.

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
  const flags = (process.env.DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean);
  dawnGpu = mod.create(flags);
  return dawnGpu;
}
