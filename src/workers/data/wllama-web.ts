// wllama in the page (inside the data worker, which wllama's own engine worker nests in). Every asset is bundled by
// Vite and served from this page: nothing is fetched from a CDN, so a model file never meets the network.
//  - the default engine: JSPI + 64-bit memory (Chrome/Edge 137+), WebGPU and SIMD CPU;
//  - the compat engine (@wllama/wllama-compat: Asyncify, 32-bit memory) for browsers without them (Safari, Firefox),
//    slower, used by wllama on its own when needed.
// Threads need cross-origin isolation (COOP/COEP headers); without it the CPU path runs on one thread.

import { Wllama, type CacheManager } from '@wllama/wllama';
import wasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import compatWasmUrl from '@wllama/wllama-compat/wasm/wllama.wasm?url';
import compatWorkerCode from '@wllama/wllama-compat/wasm/wllama.js?raw';

// models come as dropped files, never from a URL: wllama's download cache (OPFS) is never touched
const noDownloads = {} as CacheManager;

export async function createWebWllama(): Promise<Wllama> {
  const w = new Wllama({ default: wasmUrl }, { suppressNativeLog: true, cacheManager: noDownloads, logger: quiet });
  w.setCompat({ wasm: compatWasmUrl, worker: { code: compatWorkerCode } }, 'firefox_safari');
  return w;
}

const quiet = { debug: () => {}, log: () => {}, warn: (...a: unknown[]) => console.warn('[wllama]', ...a), error: (...a: unknown[]) => console.error('[wllama]', ...a) };
