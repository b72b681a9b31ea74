// wllama (llama.cpp compiled to WebAssembly) in Node, for the command line: wllama is written for browsers and
// starts its engine in a Web Worker made from a blob: URL. Node has no Web Worker, so this module gives wllama the
// few browser globals it reads (Worker, self.location, navigator) and runs the engine's code in a worker_threads
// thread whose `postMessage`/`onmessage` behave like a Web Worker's. Node 20 has neither JSPI nor 64-bit wasm
// memory, so the engine is wllama's compat build (Asyncify, wasm32, CPU only), shipped in @wllama/wllama-compat.
//
// The page does not use this file: there wllama runs as written, inside the data worker.

import { resolveObjectURL } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker as ThreadWorker } from 'node:worker_threads';

// Runs before the engine's code in the thread: a Web Worker's global scope, as much of it as wllama's worker uses.
const PRELUDE = `
const { parentPort } = require('node:worker_threads');
globalThis.self = globalThis;
// no WebGPU in Node: an adapter request that finds none makes llama.cpp use the CPU only
if (typeof navigator === 'undefined') globalThis.navigator = {};
if (!navigator.gpu) Object.defineProperty(navigator, 'gpu', { value: { requestAdapter: async () => null } });
globalThis.postMessage = (data, transfer) => parentPort.postMessage(data, transfer);
parentPort.on('message', (data) => { if (typeof globalThis.onmessage === 'function') globalThis.onmessage({ data }); });
`;

type Listener = ((ev: { data: unknown }) => void) | null;

/** The part of the Web Worker interface wllama uses, over a worker_threads thread started from a blob: URL. */
class BlobUrlWorker {
  onmessage: Listener = null;
  onerror: ((e: unknown) => void) | null = null;
  private readonly thread: Promise<ThreadWorker>;

  constructor(url: string | URL) {
    const blob = resolveObjectURL(String(url));
    if (!blob) throw new Error(`wllama-node: cannot resolve worker URL ${String(url)}`);
    this.thread = blob.text().then((code) => {
      const t = new ThreadWorker(PRELUDE + code, { eval: true });
      t.on('message', (data) => this.onmessage?.({ data }));
      t.on('error', (e) => this.onerror?.(e));
      return t;
    });
  }

  postMessage(data: unknown, transfer?: Transferable[]): void {
    void this.thread.then((t) => t.postMessage(data, (transfer ?? []) as never));
  }

  terminate(): void {
    void this.thread.then((t) => t.terminate());
  }
}

let installed = false;

/** Gives wllama the browser globals it reads; idempotent, and leaves any that exist alone. */
function installBrowserGlobals(): void {
  if (installed) return;
  installed = true;
  const g = globalThis as Record<string, unknown>;
  g.Worker ??= BlobUrlWorker;
  g.self ??= globalThis;
  const self = g.self as Record<string, unknown>;
  self.location ??= { href: pathToFileURL(process.cwd() + '/').href };
  g.navigator ??= { hardwareConcurrency: availableParallelism(), userAgent: `Node.js/${process.versions.node}` };
}

export interface NodeWllamaAssets {
  /** file: URL of the compat engine's wasm. */
  wasm: string;
  /** The compat engine's JavaScript (wllama takes it as code). */
  workerCode: string;
}

/** Finds wllama's compat engine in node_modules. */
export async function nodeWllamaAssets(): Promise<NodeWllamaAssets> {
  const require = createRequire(import.meta.url);
  const js = require.resolve('@wllama/wllama-compat/wasm/wllama.js');
  const wasm = require.resolve('@wllama/wllama-compat/wasm/wllama.wasm');
  return { wasm: pathToFileURL(wasm).href, workerCode: await readFile(js, 'utf8') };
}

/** A wllama instance that runs in this Node process (CPU, one thread). */
export async function createNodeWllama(): Promise<import('@wllama/wllama').Wllama> {
  installBrowserGlobals();
  const assets = await nodeWllamaAssets();
  const { Wllama } = await import('@wllama/wllama');
  // the default (JSPI + memory64) build is never used in Node 20; its path only has to be present
  const w = new Wllama({ default: assets.wasm }, { suppressNativeLog: true, logger: quietLogger, cacheManager: noDownloads });
  w.setCompat({ wasm: assets.wasm, worker: { code: assets.workerCode } }, 'firefox_safari');
  return w;
}

// models come as files, never from a URL: wllama's download cache (OPFS in browsers) is never touched
const noDownloads = {} as import('@wllama/wllama').CacheManager;
const quietLogger = { debug: () => {}, log: () => {}, warn: () => {}, error: (...a: unknown[]) => console.error('[wllama]', ...a) };
