// Query generation over an OpenAI-compatible endpoint: a pool of `concurrency` requests, each chunk's result
// cached by (chunk hash, prompt, model); per-chunk failures are reported as data and never stop the others;
// a configuration error (401/403/404) or a run of failures with no success stops early with one clear message.
// Nothing is paid for twice and nothing for nothing: an answer the query filters reject (empty, too long, copied
// from the chunk) is not cached, so a rerun asks again (and a cached one they reject counts as a miss); a cache
// write that fails stops the run at once instead of paying for answers that cannot be kept.

import type { Chunk } from './chunk.ts';
import { chatComplete, EndpointError, type EndpointOptions, type RetryWait } from './query-endpoint.ts';
import { MemoryCache, queryCacheKey, type QueryCache } from './query-cache.ts';
import { cleanGeneratedQuery, DEFAULT_QUERY_PROMPT, renderPrompt } from './query-prompt.ts';
import type { QueryRecord } from './jsonl.ts';
import { rejectReason, type FilterOptions } from './query-filter.ts';
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
  /** The query filters' limits (the same as filterQueries gets): rejected answers are not cached. */
  filter?: FilterOptions;
}

export interface GenerateStats {
  chunks: number;
  fromCache: number;
  generated: number;
  failed: number;
  retries: number;
  /** Answers the filters reject (empty, too long, copied): returned for the filters to count, not cached. */
  rejected: number;
  seconds: number;
}

export interface GenerateResult {
  queries: QueryRecord[];
  failures: { chunk_id: string; error: string }[];
  stats: GenerateStats;
}

class CacheWriteError extends Error {
  constructor(cause: Error) {
    super(`The query cache could not be written: ${cause.message.replace(/\.?$/, '.')}`);
  }
}

export async function generateQueries(chunks: readonly Chunk[], opts: GenerateOptions): Promise<GenerateResult> {
  const prompt = opts.prompt ?? DEFAULT_QUERY_PROMPT;
  const cache = opts.cache ?? new MemoryCache();
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const giveUpAfter = opts.giveUpAfter ?? 8;
  const t0 = performance.now();
  const results: (QueryRecord | undefined)[] = new Array(chunks.length);
  const failures: { chunk_id: string; error: string }[] = [];
  const stats: GenerateStats = { chunks: chunks.length, fromCache: 0, generated: 0, failed: 0, retries: 0, rejected: 0, seconds: 0 };
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
        if (query !== undefined && !rejectReason(query, c.text, opts.filter)) stats.fromCache++;
        else {
          const onRetry = (e: EndpointError, attempt: number, w: RetryWait) => {
            stats.retries++;
            const asked = w.askedMs !== undefined && w.askedMs > w.waitMs ? ` (the endpoint asked for ${Math.round(w.askedMs / 1000)} s)` : '';
            report(`${c.id}: retry ${attempt} in ${(w.waitMs / 1000).toFixed(1)} s${asked} after ${e.message.slice(0, 80)}`);
          };
          const raw = await chatComplete(opts.endpoint, [{ role: 'user', content: renderPrompt(prompt, c.text) }], pool.signal, onRetry);
          query = cleanGeneratedQuery(raw);
          stats.generated++;
          if (rejectReason(query, c.text, opts.filter)) stats.rejected++;
          else {
            try {
              await cache.set(key, query);
            } catch (e) {
              results[i] = { query, chunk_id: c.id, origin };
              throw new CacheWriteError(e as Error);
            }
          }
        }
        streak = 0;
        results[i] = { query, chunk_id: c.id, origin };
      } catch (e) {
        if (pool.signal.aborted) return;
        const err = e as Error;
        if (err instanceof CacheWriteError) {
          fatal = new Error(`${err.message} Stopped so that no more answers are paid for that cannot be kept (${stats.generated} generated in this run; those cached before the failure are kept).`);
          pool.abort(fatal);
          return;
        }
        stats.failed++;
        failures.push({ chunk_id: c.id, error: err.message });
        streak++;
        if (err instanceof EndpointError && err.fatal) {
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
