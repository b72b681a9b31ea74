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
    // Indirect specifiers keep Vite from bundling fs or emitting the shaders twice.
    const fsName = 'node:fs/promises';
    const fs: typeof import('node:fs/promises') = await import(/* @vite-ignore */ fsName);
    const here = import.meta.url;
    const url = new URL('../../shaders/' + name + '.wgsl', here);
    try {
      src = await fs.readFile(url, 'utf8');
    } catch {
      throw new Error(`No shader named '${name}' (expected shaders/${name}.wgsl)`);
    }
  }
  cache.set(name, src);
  return src;
}
