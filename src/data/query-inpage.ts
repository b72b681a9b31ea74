// Query generation with a model running in this process (the page's data worker, or Node for the command line), for
// users with no endpoint. One chunk at a time, cached exactly like the endpoint path (key model = 'inpage:<model>').
// Two engines give an InPageGenerator: a local GGUF file through llama.cpp in WebAssembly (./query-gguf.ts, the one
// the page offers; tested with real models), and a Hugging Face hub id through @huggingface/transformers (below;
// needs the hub, so it has never loaded a model here: only its loop is tested, with a fake generator).

import { rejectReason } from './query-filter.ts';
import type { Chunk } from './chunk.ts';
import type { QueryRecord } from './jsonl.ts';
import { MemoryCache, queryCacheKey, type QueryCache } from './query-cache.ts';
import type { GenerateOptions, GenerateResult, GenerateStats } from './query-generate.ts';
import { cleanGeneratedQuery, DEFAULT_QUERY_PROMPT, renderPrompt } from './query-prompt.ts';
import { throwIfAborted, type LongRunning, type OnProgress } from '../util/progress.ts';

export const DEFAULT_INPAGE_MODEL = 'onnx-community/Qwen2.5-0.5B-Instruct';

export interface InPageGenerator {
  model: string;
  /** One chat turn → the assistant's text; the signal stops a generation in progress. */
  complete(userMessage: string, signal?: AbortSignal): Promise<string>;
  /** Tokens generated so far and the seconds they took, where the engine reports them (shown as tokens/s). */
  throughput?(): { tokens: number; seconds: number };
  dispose(): Promise<void>;
}

export interface InPageModelOptions {
  model?: string;
  /** 'webgpu' (default) or 'wasm' (CPU fallback, slow). */
  device?: 'webgpu' | 'wasm';
  /** Weight format; 'q4f16' needs shader-f16 (ask src/gpu's runtime info), 'q4' does not (default 'q4'). */
  dtype?: 'q4f16' | 'q4' | 'fp16' | 'fp32';
  maxNewTokens?: number;
  /** Download progress (bytes) as Progress events with stage 'download'. */
  onProgress?: OnProgress;
}

type ChatOut = { generated_text: { role: string; content: string }[] | string }[];

/** Loads the model (downloads once; the browser caches it) and returns a generator. */
export async function loadInPageGenerator(opts: InPageModelOptions = {}): Promise<InPageGenerator> {
  const model = opts.model ?? DEFAULT_INPAGE_MODEL;
  const { pipeline } = await import('@huggingface/transformers');
  // src/gpu owns adapters: the page reads shader-f16 from the runtime's info and passes q4f16 when offered
  const dtype = opts.dtype ?? 'q4';
  const files = new Map<string, { loaded: number; total: number }>();
  const gen = (await pipeline('text-generation', model, {
    device: opts.device ?? 'webgpu',
    dtype,
    progress_callback: (e: { status?: string; file?: string; loaded?: number; total?: number }) => {
      if (e.status !== 'progress' || !e.file) return;
      files.set(e.file, { loaded: e.loaded ?? 0, total: e.total ?? 0 });
      let done = 0;
      let total = 0;
      for (const f of files.values()) {
        done += f.loaded;
        total += f.total;
      }
      opts.onProgress?.({ stage: 'download', done, total, detail: e.file });
    },
  })) as unknown as ((msgs: { role: string; content: string }[], o: Record<string, unknown>) => Promise<ChatOut>) & { dispose(): Promise<void> };
  return {
    model,
    async complete(userMessage) {
      const out = await gen([{ role: 'user', content: userMessage }], { max_new_tokens: opts.maxNewTokens ?? 64, do_sample: false });
      const g = out[0]?.generated_text;
      return typeof g === 'string' ? g : (g?.[g.length - 1]?.content ?? '');
    },
    dispose: () => gen.dispose(),
  };
}

export interface InPageGenerateOptions extends LongRunning {
  prompt?: string;
  cache?: QueryCache;
  onResult?: GenerateOptions['onResult'];
}

class CacheStop extends Error {}

/** One query per chunk with an in-page model; failures are reported per chunk, cancel stops between chunks. */
export async function generateQueriesInPage(chunks: readonly Chunk[], gen: InPageGenerator, opts: InPageGenerateOptions = {}): Promise<GenerateResult> {
  const prompt = opts.prompt ?? DEFAULT_QUERY_PROMPT;
  const cache = opts.cache ?? new MemoryCache();
  const key = `inpage:${gen.model}`;
  const t0 = performance.now();
  const queries: QueryRecord[] = [];
  const failures: { chunk_id: string; error: string }[] = [];
  const stats: GenerateStats = { chunks: chunks.length, fromCache: 0, generated: 0, failed: 0, retries: 0, rejected: 0, seconds: 0, streak: 0, freshMs: 0 };
  let firstSent: number | undefined;
  const speed = () => {
    const t = gen.throughput?.();
    if (t && t.seconds > 0) stats.tokensPerSecond = t.tokens / t.seconds;
    return stats.tokensPerSecond === undefined ? '' : ` · ${stats.tokensPerSecond.toFixed(1)} tokens/s`;
  };
  for (let i = 0; i < chunks.length; i++) {
    throwIfAborted(opts.signal);
    opts.onProgress?.({ stage: 'queries', done: i, total: chunks.length, detail: chunks[i].id + speed() });
    const c = chunks[i];
    try {
      const k = await queryCacheKey(c.text, prompt, key);
      let q = await cache.get(k);
      const fromCache = q !== undefined && !rejectReason(q, c.text);
      if (fromCache) stats.fromCache++;
      else {
        firstSent ??= performance.now();
        q = cleanGeneratedQuery(await gen.complete(renderPrompt(prompt, c.text), opts.signal));
        stats.generated++;
        stats.freshMs = performance.now() - firstSent;
        // as generateQueries: a rejected answer is not cached; a cache that cannot be written stops the run
        if (rejectReason(q, c.text)) stats.rejected++;
        else await cache.set(k, q).catch((e: Error) => Promise.reject(new CacheStop(`The query cache could not be written (${e.message}); stopped.`)));
      }
      const rec = { query: q!, chunk_id: c.id, origin: key };
      queries.push(rec);
      stats.streak = 0;
      opts.onResult?.({ chunk_id: c.id, query: rec, fromCache }, stats);
    } catch (e) {
      throwIfAborted(opts.signal); // a cancelled generation is a cancel, not a failed chunk
      if (e instanceof CacheStop) throw e;
      stats.failed++;
      stats.streak++;
      failures.push({ chunk_id: c.id, error: (e as Error).message });
      opts.onResult?.({ chunk_id: c.id, error: (e as Error).message }, stats);
    }
  }
  const rate = speed(); // also sets stats.tokensPerSecond, with or without a progress listener
  opts.onProgress?.({ stage: 'queries', done: chunks.length, total: chunks.length, detail: rate.slice(3) || undefined });
  stats.seconds = (performance.now() - t0) / 1000;
  return { queries, failures, stats };
}
