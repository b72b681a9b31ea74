// Query generation over an OpenAI-compatible endpoint: a pool of `concurrency` requests, each chunk's result
// cached by (chunk hash, prompt, model); per-chunk failures are reported as data and never stop the others;
// a configuration error (401/403/404) or a run of failures with no success stops early with one clear message.

import type { Chunk } from './chunk.ts';
import { chatComplete, EndpointError, type EndpointOptions } from './query-endpoint.ts';
import { MemoryCache, queryCacheKey, type QueryCache } from './query-cache.ts';
import { cleanGeneratedQuery, DEFAULT_QUERY_PROMPT, renderPrompt } from './query-prompt.ts';
import type { QueryRecord } from './jsonl.ts';
import { throwIfAborted, type LongRunning } from '../util/progress.ts';

export interface GenerateOptions extends LongRunning {
  endpoint: EndpointOptions;
  /** Prompt template with {chunk} (default: DEFAULT_QUERY_PROMPT). */
  prompt?: string;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  cache?: QueryCache;
  /** Stop after this many consecutive failures when nothing has succeeded yet (default 8). */
  giveUpAfter?: number;
}

export interface GenerateStats {
  chunks: number;
  fromCache: number;
  generated: number;
  failed: number;
  retries: number;
  seconds: number;
  /** Generation speed of a model run in this process (in-page / --model-file); endpoints do not report it. */
  tokensPerSecond?: number;
}

export interface GenerateResult {
  queries: QueryRecord[];
  failures: { chunk_id: string; error: string }[];
  stats: GenerateStats;
}

export async function generateQueries(chunks: readonly Chunk[], opts: GenerateOptions): Promise<GenerateResult> {
  const prompt = opts.prompt ?? DEFAULT_QUERY_PROMPT;
  const cache = opts.cache ?? new MemoryCache();
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const giveUpAfter = opts.giveUpAfter ?? 8;
  const t0 = performance.now();
  const results: (QueryRecord | undefined)[] = new Array(chunks.length);
  const failures: { chunk_id: string; error: string }[] = [];
  const stats: GenerateStats = { chunks: chunks.length, fromCache: 0, generated: 0, failed: 0, retries: 0, seconds: 0 };
  const origin = `endpoint:${opts.endpoint.model}`;
  // one controller for the pool: the caller's cancel or a fatal configuration error stops every request
  const pool = new AbortController();
  const onAbort = () => pool.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let fatal: Error | undefined;
  let next = 0;
  let done = 0;
  let streak = 0;
  const report = (detail?: string) => opts.onProgress?.({ stage: 'queries', done, total: chunks.length, detail });

  const worker = async () => {
    while (!pool.signal.aborted) {
      const i = next++;
      if (i >= chunks.length) return;
      const c = chunks[i];
      try {
        const key = await queryCacheKey(c.text, prompt, opts.endpoint.model);
        let query = await cache.get(key);
        if (query !== undefined) stats.fromCache++;
        else {
          const raw = await chatComplete(opts.endpoint, [{ role: 'user', content: renderPrompt(prompt, c.text) }], pool.signal, () => stats.retries++);
          query = cleanGeneratedQuery(raw);
          await cache.set(key, query);
          stats.generated++;
        }
        streak = 0;
        results[i] = { query, chunk_id: c.id, origin };
      } catch (e) {
        if (pool.signal.aborted) return;
        const err = e as Error;
        stats.failed++;
        failures.push({ chunk_id: c.id, error: err.message });
        streak++;
        if (err instanceof EndpointError && !err.retryable) {
          fatal = new Error(`The endpoint refused the request: ${err.message}. Fix the URL, model or key and run again (cached queries are kept).`);
          pool.abort(fatal);
        } else if (streak >= giveUpAfter && stats.generated + stats.fromCache === 0) {
          fatal = new Error(`The first ${streak} requests all failed (last: ${err.message}). Is the endpoint running at ${opts.endpoint.url}?`);
          pool.abort(fatal);
        }
      }
      done++;
      report(c.id);
    }
  };
  try {
    throwIfAborted(opts.signal);
    report();
    await Promise.all(Array.from({ length: Math.min(concurrency, chunks.length) }, worker));
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  throwIfAborted(opts.signal);
  if (fatal) throw fatal;
  stats.seconds = (performance.now() - t0) / 1000;
  return { queries: results.filter((q): q is QueryRecord => q !== undefined), failures, stats };
}
