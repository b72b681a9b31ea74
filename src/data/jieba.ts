// Loads jieba-wasm once per realm (Node process, page, or worker).
// In Node the package's "node" export is a CommonJS module that instantiates its wasm synchronously on require.
// In a browser (or worker) bundlers resolve the "browser" export, an ES module whose default export must be awaited
// with the wasm bytes or URL before `cut` works; by default it fetches `jieba_rs_wasm_bg.wasm` next to itself,
// which Vite rewrites to a served asset.

export interface Jieba {
  cut(text: string, hmm?: boolean | null): string[];
}

export type JiebaModule = Partial<Jieba> & { default?: unknown };

let loading: Promise<Jieba> | undefined;

/** Turns either build of jieba-wasm into a ready segmenter (exported so tests can exercise the web build in Node). */
export async function initJiebaModule(mod: JiebaModule, wasm?: BufferSource | WebAssembly.Module | URL | string): Promise<Jieba> {
  if (typeof mod.cut === 'function') {
    // Web build: exports `cut` plus an async initialiser as default.
    if (typeof mod.default === 'function') {
      await (mod.default as (arg?: unknown) => Promise<unknown>)(wasm === undefined ? undefined : { module_or_path: wasm });
    }
    return mod as Jieba;
  }
  // Node build through ESM interop: everything sits on the CommonJS exports object.
  const cjs = mod.default as Partial<Jieba> | undefined;
  if (cjs && typeof cjs.cut === 'function') return cjs as Jieba;
  throw new Error('jieba-wasm loaded but exposes no cut(); reinstall the jieba-wasm package (2.4.x expected).');
}

/**
 * Returns the loaded segmenter. `wasm` (bytes, a compiled module or a URL) is only used by the web build, for hosts
 * where the default asset URL does not work; Node ignores it.
 */
export function loadJieba(wasm?: BufferSource | WebAssembly.Module | URL | string): Promise<Jieba> {
  loading ??= import('jieba-wasm').then((mod) => initJiebaModule(mod as unknown as JiebaModule, wasm));
  loading.catch(() => {
    loading = undefined; // let a later call retry, e.g. after the page fixes the wasm URL
  });
  return loading;
}
