// WGSL sources from /shaders. In the page (and Vitest) Vite inlines them at build time; in Node without Vite
// (tsx, the command line) they are read from disk next to the package.

let bundled: Record<string, string> = {};
try {
  bundled = import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<
    string,
    string
  >;
} catch {
  // import.meta.glob exists only under Vite.
}

const cache = new Map<string, string>();

export async function shaderSource(name: string): Promise<string> {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  let src = bundled[`../../shaders/${name}.wgsl`];
  if (src === undefined) {
    const fs = await import('node:fs/promises');
    const url = new URL(`../../shaders/${name}.wgsl`, import.meta.url);
    try {
      src = await fs.readFile(url, 'utf8');
    } catch {
      throw new Error(`No shader named '${name}' (expected shaders/${name}.wgsl)`);
    }
  }
  cache.set(name, src);
  return src;
}
