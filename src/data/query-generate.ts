// Query generation over an OpenAI-compatible endpoint: a pool of `concurrency` requests, each chunk's result
// cached by (chunk hash, prompt, model); per-chunk failures are reported as data and never stop the others;
// a configuration error (401/403/404) or `giveUpAfter` failures in a row (an endpoint that died mid-run, or never
// answered) stop early with one clear message. Each result is handed to `onResult` as it arrives, so a caller can
// show and keep what is paid for before the run ends.
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
  /** Stop after this many failures in a row, whether or not earlier requests succeeded (default 8). */
  giveUpAfter?: number;
  /** The query filters' limits (the same as filterQueries gets): rejected answers are not cached. */
  filter?: FilterOptions;
  /** Hears every chunk's outcome as it arrives, with the running counts. */
  onResult?: (r: ChunkOutcome, stats: GenerateStats) => void;
}

export interface ChunkOutcome {
  chunk_id: string;
  query?: QueryRecord;
  fromCache?: boolean;
  error?: string;
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
  /** Generation speed of a model run in this process (in-page / --model-file); endpoints do not report it. */
  tokensPerSecond?: number;
  /** Failures in a row right now (the give-up counter). */
  streak: number;
  /** Wall time from the first request sent to the endpoint to the last answer (cache hits excluded), in ms. */
  freshMs: number;
}

/**
 * Seconds left for `remaining` chunks at the rate of the requests actually sent (cache hits are instant and would
 * make the estimate far too short); undefined before the first fresh answer.
 */
export function freshEta(stats: Pick<GenerateStats, 'generated' | 'freshMs'>, remaining: number): number | undefined {
  if (remaining <= 0) return 0;
  if (stats.generated <= 0 || stats.freshMs <= 0) return undefined;
  return ((stats.freshMs / 1000) * remaining) / stats.generated;
}

/** One short request to check URL, model and key before a long run. */
export async function testEndpoint(endpoint: EndpointOptions, signal?: AbortSignal): Promise<{ ms: number; reply: string }> {
  const t0 = performance.now();
  const reply = await chatComplete(
    { ...endpoint, retries: 0, timeoutMs: Math.min(endpoint.timeoutMs ?? 60_000, 30_000), maxTokens: 16 },
    [{ role: 'user', content: '请只回答"OK"。Reply with OK only.' }],
    signal,
  );
  return { ms: performance.now() - t0, reply: reply.trim().slice(0, 80) };
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
  const stats: GenerateStats = { chunks: chunks.length, fromCache: 0, generated: 0, failed: 0, retries: 0, rejected: 0, seconds: 0, streak: 0, freshMs: 0 };
  let firstSent: number | undefined;
  const origin = `endpoint:${opts.endpoint.model}`;
  // one controller for the pool: the caller's cancel or a fatal configuration error stops every request
  const pool = new AbortController();
  const onAbort = () => pool.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let fatal: Error | undefined;
  let next = 0;
  let done = 0;
  let streak = 0;
  const report = (detail?: string) =>
    opts.onProgress?.({ stage: 'queries', done, total: chunks.length, detail: detail ?? `${stats.generated} new · ${stats.fromCache} cached · ${stats.failed} failed` });

  const worker = async () => {
    while (!pool.signal.aborted) {
      const i = next++;
      if (i >= chunks.length) return;
      const c = chunks[i];
      try {
        const key = await queryCacheKey(c.text, prompt, opts.endpoint.model);
        let query = await cache.get(key);
        const fromCache = query !== undefined && !rejectReason(query, c.text, opts.filter);
        if (fromCache) stats.fromCache++;
        else {
          const onRetry = (e: EndpointError, attempt: number, w: RetryWait) => {
            stats.retries++;
            const asked = w.askedMs !== undefined && w.askedMs > w.waitMs ? ` (the endpoint asked for ${Math.round(w.askedMs / 1000)} s)` : '';
            report(`${c.id}: retry ${attempt} in ${(w.waitMs / 1000).toFixed(1)} s${asked} after ${e.message.slice(0, 80)}`);
          };
          firstSent ??= performance.now();
          const raw = await chatComplete(opts.endpoint, [{ role: 'user', content: renderPrompt(prompt, c.text) }], pool.signal, onRetry);
          query = cleanGeneratedQuery(raw);
          stats.generated++;
          stats.freshMs = performance.now() - firstSent;
          if (rejectReason(query, c.text, opts.filter)) stats.rejected++;
          else {
            try {
              await cache.set(key, query);
            } catch (e) {
              results[i] = { query, chunk_id: c.id, origin };
              // paid for: the caller keeps it even though the cache could not
              opts.onResult?.({ chunk_id: c.id, query: results[i], fromCache: false }, stats);
              throw new CacheWriteError(e as Error);
            }
          }
        }
        streak = 0;
        stats.streak = 0;
        results[i] = { query: query!, chunk_id: c.id, origin };
        opts.onResult?.({ chunk_id: c.id, query: results[i], fromCache }, stats);
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
        stats.streak = streak;
        opts.onResult?.({ chunk_id: c.id, error: err.message }, stats);
        if (err instanceof EndpointError && err.fatal) {
          fatal = new Error(`The endpoint refused the request: ${err.message}. Fix the URL, model or key and run again (cached queries are kept).`);
          pool.abort(fatal);
        } else if (streak >= giveUpAfter) {
          const ok = stats.generated + stats.fromCache;
          fatal = ok
            ? new Error(
                `Stopped: ${streak} requests in a row failed (last: ${err.message}). The endpoint at ${opts.endpoint.url} stopped answering after ` +
                  `${ok} queries; those are kept (and cached, so a new run does not pay for them again). Test the connection, then run again to continue.`,
              )
            : new Error(`The first ${streak} requests all failed (last: ${err.message}). Is the endpoint running at ${opts.endpoint.url}?`);
          pool.abort(fatal);
        }
      }
      done++;
      report();
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
