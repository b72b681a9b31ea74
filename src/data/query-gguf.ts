// A local GGUF model as a query generator: llama.cpp compiled to WebAssembly (@wllama/wllama) with WebGPU when the
// machine has a real GPU and the CPU (WASM) otherwise. The file is checked (./gguf.ts) before the engine sees it.
// The page and the command line share this module; each passes its own way of creating the engine
// (src/workers/data/wllama-web.ts in the page's data worker, ./wllama-node.ts in Node).
//
// The result is an InPageGenerator, so generateQueriesInPage (./query-inpage.ts) gives it the endpoint path's prompt,
// cleaning, cache, cancel and progress.

import type { Wllama } from '@wllama/wllama';
import { checkGenerativeGguf, describeGguf, GgufError, readGgufInfo, type GgufInfo } from './gguf.ts';
import type { InPageGenerator } from './query-inpage.ts';
import type { OnProgress } from '../util/progress.ts';

export type GgufDevice = 'webgpu' | 'wasm';

export interface GgufLoadOptions {
  /** 'auto' (default): WebGPU when a hardware adapter is offered, the CPU otherwise. */
  device?: GgufDevice | 'auto';
  /** CPU threads (default: what the engine picks; 1 where threads are unavailable). */
  threads?: number;
  /** Longest question, in tokens (default 64). */
  maxNewTokens?: number;
  /** Context window: the prompt with its chunk plus the question (default 2048 tokens). */
  contextTokens?: number;
  /** Stage 'load model' while the weights are read. */
  onProgress?: OnProgress;
}

export interface GgufGenerator extends InPageGenerator {
  info: GgufInfo;
  device: GgufDevice;
  /** Tokens generated so far and the seconds spent generating them, prompt reading excluded (for tokens/s). */
  throughput(): { tokens: number; seconds: number };
}

/** Creates an engine instance; the page and Node each have their own (assets and workers differ). */
export type WllamaFactory = () => Promise<Wllama>;

/** The cache's model key for a GGUF file: its name, weight format and size (a renamed copy is the same model). */
export function ggufModelKey(info: GgufInfo): string {
  return `gguf:${info.name ?? info.architecture}:${info.quantization ?? '?'}:${info.fileBytes}`;
}

/** Reads and checks the header: refuses a file that is not a usable instruct model, with what to do instead. */
export async function inspectGgufFile(file: Blob, fileName: string): Promise<GgufInfo> {
  return checkGenerativeGguf(await readGgufInfo(file, fileName), fileName);
}

/** Loads the model file and returns a generator that answers one chat turn at a time (greedy, reproducible). */
export async function loadGgufGenerator(file: Blob, fileName: string, createWllama: WllamaFactory, opts: GgufLoadOptions = {}): Promise<GgufGenerator> {
  const info = await inspectGgufFile(file, fileName);
  const auto = !opts.device || opts.device === 'auto';
  let device = auto ? await preferredDevice() : (opts.device as GgufDevice);
  let engine: Wllama;
  try {
    engine = await startEngine(file, info, device, createWllama, opts);
  } catch (e) {
    // the WASM fallback: WebGPU chosen on its own that fails to start (driver, memory) falls back to the CPU
    if (!(auto && device === 'webgpu')) throw loadError(e, fileName, info);
    device = 'wasm';
    engine = await startEngine(file, info, device, createWllama, opts).catch((e2) => Promise.reject(loadError(e2, fileName, info)));
  }
  opts.onProgress?.({ stage: 'load model', done: 1, total: 1, detail: describeGguf(info) });
  let tokens = 0;
  let seconds = 0;
  return {
    model: ggufModelKey(info),
    info,
    device,
    async complete(userMessage, signal) {
      const t0 = performance.now();
      // streamed, and stopped once the first line is complete: the question is that line (cleanGeneratedQuery keeps
      // only it), so a small model that runs on after it costs nothing more
      const stop = new AbortController();
      const onCancel = () => stop.abort();
      signal?.addEventListener('abort', onCancel, { once: true });
      let text = '';
      let timing: { predicted_n: number; predicted_ms: number } | undefined;
      let pieces = 0;
      try {
        await engine.createChatCompletion({
          messages: [{ role: 'user', content: userMessage }],
          max_tokens: opts.maxNewTokens ?? 64,
          temperature: 0,
          // a thinking model (Qwen3 and the like) would spend the token budget thinking: ask for the answer only
          chat_template_kwargs: { enable_thinking: false },
          timings_per_token: true,
          stream: true,
          abortSignal: stop.signal,
          onData: (chunk) => {
            text += chunk.choices[0]?.delta?.content ?? '';
            pieces++;
            timing = chunk.timings ?? timing;
            if (hasFirstLine(text)) stop.abort();
          },
        });
      } catch (e) {
        if (signal?.aborted || !stop.signal.aborted) throw e; // our own early stop is not an error
      } finally {
        signal?.removeEventListener('abort', onCancel);
      }
      // generation speed as llama.cpp times it (prompt reading excluded); the wall clock where it gives no timings
      tokens += timing?.predicted_n ?? pieces;
      seconds += timing ? timing.predicted_ms / 1000 : (performance.now() - t0) / 1000;
      return text;
    },
    throughput: () => ({ tokens, seconds }),
    dispose: () => engine.exit(),
  };
}

async function startEngine(file: Blob, info: GgufInfo, device: GgufDevice, createWllama: WllamaFactory, opts: GgufLoadOptions): Promise<Wllama> {
  opts.onProgress?.({ stage: 'load model', done: 0, total: 1, detail: `${describeGguf(info)} on ${device === 'webgpu' ? 'WebGPU' : 'CPU (WASM)'}` });
  const engine = await createWllama();
  try {
    await engine.loadModel([file], {
      n_ctx: opts.contextTokens ?? 2048,
      n_threads: opts.threads,
      // every layer on the GPU for WebGPU; none (and no WebGPU device at all) for the CPU
      n_gpu_layers: device === 'webgpu' ? 999 : 0,
      n_parallel: 1,
    });
    return engine;
  } catch (e) {
    await engine.exit().catch(() => undefined);
    throw e;
  }
}

function loadError(e: unknown, fileName: string, info: GgufInfo): GgufError {
  return new GgufError(`The engine could not load ${fileName} (${describeGguf(info)}): ${(e as Error).message}. If the architecture '${info.architecture}' is very new, this page's llama.cpp may not know it yet.`);
}

/** A non-empty line outside any <think> block has ended. */
export function hasFirstLine(text: string): boolean {
  return /\S[^\n]*\n/.test(text.replace(/<think>[\s\S]*?(<\/think>|$)/g, ''));
}

/** WebGPU when the browser offers a hardware adapter; a software one (SwiftShader) is slower than plain WASM. */
async function preferredDevice(): Promise<GgufDevice> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return 'wasm';
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return 'wasm';
  const { isSoftwareAdapter } = await import('../gpu/runtime.ts');
  return isSoftwareAdapter(adapter) ? 'wasm' : 'webgpu';
}
