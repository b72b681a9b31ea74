// The data worker's API, independent of the transport: data.worker.ts exposes it over comlink, tests call it
// directly. Every method returns a Result (errors travel as data, never as a rejected promise across the worker
// boundary), reports progress through a callback (pass it wrapped in Comlink.proxy from the page), and can be
// cancelled with cancel(jobId).

import { chunkDocuments, type Chunk, type ChunkOptions } from '../../data/chunk.ts';
import { ingest, type IngestOptions, type IngestReport } from '../../data/ingest.ts';
import type { QueryRecord, TrainExample } from '../../data/jsonl.ts';
import { mine, type MineOptions, type MineStats } from '../../data/mine.ts';
import { MemoryCache, type QueryCache } from '../../data/query-cache.ts';
import { IndexedDbCache } from '../../data/query-cache-idb.ts';
import { filterQueries, roundTripFilter, type FilterOptions, type FilterResult } from '../../data/query-filter.ts';
import { generateQueries, type GenerateOptions, type GenerateResult } from '../../data/query-generate.ts';
import { importPairs, type ImportResult } from '../../data/query-import.ts';
import { fromBlob, fromBytes, type SourceFile } from '../../data/source.ts';
import { createTokenizer, type TokenMode } from '../../data/tokenize.ts';
import type { InPageGenerator, InPageModelOptions } from '../../data/query-inpage.ts';
import type { OnProgress } from '../../util/progress.ts';

export type Result<T> = { ok: true; value: T } | { ok: false; error: { name: string; message: string } };

/** Options that cross the worker boundary: plain data only (no callbacks, no signals). */
export type IngestJobOptions = Omit<IngestOptions, 'onProgress' | 'signal'> & Omit<ChunkOptions, 'countTokens' | 'unit'>;
export type GenerateJobOptions = Omit<GenerateOptions, 'onProgress' | 'signal' | 'cache' | 'endpoint'> & {
  endpoint: Omit<GenerateOptions['endpoint'], 'fetch'>;
};
export type InPageJobOptions = Omit<InPageModelOptions, 'onProgress'> & { prompt?: string };
export type MineJobOptions = Omit<MineOptions, 'onProgress' | 'signal' | 'tokenizer'>;

/** Pasted text or bytes, with the path it should be reported under. */
export interface InMemoryFile {
  path: string;
  data: Uint8Array | string;
}

export interface IngestJobResult {
  chunks: Chunk[];
  report: IngestReport;
  documents: number;
}

export interface DataWorkerApi {
  /** Files from a drop or directory picker (File objects are structured-cloneable), or in-memory texts/bytes. */
  ingest(jobId: string, files: (File | InMemoryFile)[], opts: IngestJobOptions, onProgress?: OnProgress): Promise<Result<IngestJobResult>>;
  generateQueries(jobId: string, chunks: Chunk[], opts: GenerateJobOptions, onProgress?: OnProgress): Promise<Result<GenerateResult>>;
  /**
   * Queries from a small instruct model in this worker (transformers.js on WebGPU), for users with no endpoint.
   * The model loads on first use (progress stage 'download') and stays loaded. Untested against a real model.
   */
  generateQueriesInPage(jobId: string, chunks: Chunk[], opts: InPageJobOptions, onProgress?: OnProgress): Promise<Result<GenerateResult>>;
  importPairs(text: string, fileName: string, chunks: Chunk[]): Promise<Result<ImportResult>>;
  filterQueries(
    jobId: string,
    queries: QueryRecord[],
    chunks: Chunk[],
    opts: FilterOptions & { roundTripK?: number; tokenMode?: TokenMode },
    onProgress?: OnProgress,
  ): Promise<Result<FilterResult>>;
  mine(jobId: string, chunks: Chunk[], queries: QueryRecord[], opts: MineJobOptions, onProgress?: OnProgress): Promise<Result<{ train: TrainExample[]; val: TrainExample[]; stats: MineStats }>>;
  /** Cancels a running job; its call resolves with { ok: false, error: { name: 'AbortError' } }. */
  cancel(jobId: string): Promise<boolean>;
}

const isBlob = (f: unknown): f is Blob => typeof Blob !== 'undefined' && f instanceof Blob;

export function createDataApi(options: { cache?: () => Promise<QueryCache> } = {}): DataWorkerApi {
  const jobs = new Map<string, AbortController>();
  let cache: Promise<QueryCache> | undefined;
  let inPage: { key: string; gen: Promise<InPageGenerator> } | undefined;
  const getCache = () =>
    (cache ??= options.cache
      ? options.cache()
      : typeof indexedDB !== 'undefined'
        ? IndexedDbCache.open().catch(() => new MemoryCache())
        : Promise.resolve(new MemoryCache()));

  async function job<T>(jobId: string, fn: (signal: AbortSignal) => Promise<T>): Promise<Result<T>> {
    const ac = new AbortController();
    jobs.set(jobId, ac);
    try {
      return { ok: true, value: await fn(ac.signal) };
    } catch (e) {
      const err = e instanceof Error || e instanceof DOMException ? e : new Error(String(e));
      return { ok: false, error: { name: err.name, message: err.message } };
    } finally {
      jobs.delete(jobId);
    }
  }
  // progress callbacks may be comlink proxies: never let a failed postMessage break the job
  const safe = (cb?: OnProgress): OnProgress | undefined => (cb ? (p) => void Promise.resolve(cb(p)).catch(() => {}) : undefined);

  return {
    ingest: (jobId, files, opts, onProgress) =>
      job(jobId, async (signal) => {
        const sources: SourceFile[] = files.map((f, i) => {
          if (!isBlob(f)) return fromBytes(f.data, f.path);
          const named = f as Blob & { name?: string; webkitRelativePath?: string };
          return fromBlob(f, named.webkitRelativePath || named.name || `file-${i + 1}`);
        });
        const progress = safe(onProgress);
        const { docs, report } = await ingest(sources, { ...opts, onProgress: progress, signal });
        const chunks = chunkDocuments(docs, { ...opts, onProgress: progress, signal });
        return { chunks, report, documents: docs.length };
      }),
    generateQueries: (jobId, chunks, opts, onProgress) =>
      job(jobId, async (signal) => generateQueries(chunks, { ...opts, cache: await getCache(), onProgress: safe(onProgress), signal })),
    generateQueriesInPage: (jobId, chunks, opts, onProgress) =>
      job(jobId, async (signal) => {
        const { loadInPageGenerator, generateQueriesInPage } = await import('../../data/query-inpage.ts');
        const key = `${opts.model ?? ''}|${opts.dtype ?? ''}|${opts.device ?? ''}`;
        if (!inPage || inPage.key !== key) {
          await inPage?.gen.then((g) => g.dispose()).catch(() => {});
          inPage = { key, gen: loadInPageGenerator({ ...opts, onProgress: safe(onProgress) }) };
          inPage.gen.catch(() => (inPage = undefined)); // a failed load may be retried
        }
        const gen = await inPage.gen;
        return generateQueriesInPage(chunks, gen, { prompt: opts.prompt, cache: await getCache(), onProgress: safe(onProgress), signal });
      }),
    importPairs: async (text, fileName, chunks) => job(`import-${fileName}`, async () => importPairs(text, fileName, chunks)),
    filterQueries: (jobId, queries, chunks, opts, onProgress) =>
      job(jobId, async (signal) => {
        const f = filterQueries(queries, chunks, opts);
        if (!opts.roundTripK) return f;
        const rt = await roundTripFilter(f.kept, chunks, { k: opts.roundTripK, tokenMode: opts.tokenMode, onProgress: safe(onProgress), signal });
        return { kept: rt.kept, dropped: [...f.dropped, ...rt.dropped], counts: { ...f.counts, roundTrip: rt.counts.roundTrip } };
      }),
    mine: (jobId, chunks, queries, opts, onProgress) =>
      job(jobId, async (signal) => {
        const tokenizer = await createTokenizer(opts.seedCompatible ? 'seed' : (opts.tokenMode ?? 'default'));
        return mine(chunks, queries, { ...opts, tokenizer, onProgress: safe(onProgress), signal });
      }),
    cancel: async (jobId) => {
      const ac = jobs.get(jobId);
      ac?.abort(new DOMException('Cancelled', 'AbortError'));
      return !!ac;
    },
  };
}
