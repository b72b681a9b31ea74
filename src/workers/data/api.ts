// The data worker's API, independent of the transport: data.worker.ts exposes it over comlink, tests call it
// directly. Every method returns a Result (errors travel as data, never as a rejected promise across the worker
// boundary), reports progress through a callback (pass it wrapped in Comlink.proxy from the page), and can be
// cancelled with cancel(jobId). The page's documents step, negatives table and export use it too: chunking of
// stored documents, a one-document chunk preview, BM25 scores of mined examples, and zipping the export.

import { type WorkerResult, toErrorData } from '../result.ts';
import { Zip, ZipDeflate, ZipPassThrough } from 'fflate';
import { chunkDocuments, chunkText, type Chunk, type ChunkOptions } from '../../data/chunk.ts';
import { ingest, type IngestedDoc, type IngestOptions, type IngestReport } from '../../data/ingest.ts';
import { decodeJsonl, type QueryRecord, type TrainExample } from '../../data/jsonl.ts';
import { mine, type MineOptions, type MineStats } from '../../data/mine.ts';
import { MemoryCache, type QueryCache } from '../../data/query-cache.ts';
import { IndexedDbCache } from '../../data/query-cache-idb.ts';
import { filterQueries, roundTripFilter, type FilterOptions, type FilterResult } from '../../data/query-filter.ts';
import { generateQueries, testEndpoint, type ChunkOutcome, type GenerateOptions, type GenerateResult, type GenerateStats } from '../../data/query-generate.ts';
import { queryCacheKey } from '../../data/query-cache.ts';
import { importPairs, type ImportResult } from '../../data/query-import.ts';
import { fromBlob, fromBytes, type SourceFile } from '../../data/source.ts';
import { createTokenizer, type TokenMode } from '../../data/tokenize.ts';
import type { InPageGenerator, InPageModelOptions } from '../../data/query-inpage.ts';
import type { GgufInfo } from '../../data/gguf.ts';
import type { OnProgress } from '../../util/progress.ts';
import { buildRerankSet, type RerankSet } from '../../eval/candidates.ts';
import { createExampleScorer, type ExampleScores, type ScoredExample } from './example-scores.ts';

export type { ExampleScores, ScoredExample } from './example-scores.ts';

export type Result<T> = WorkerResult<T>;

/** Options that cross the worker boundary: plain data only (no callbacks, no signals). */
export type ChunkJobOptions = Omit<ChunkOptions, 'countTokens' | 'unit'>;
export type IngestJobOptions = Omit<IngestOptions, 'onProgress' | 'signal'> & ChunkJobOptions;
export type GenerateJobOptions = Omit<GenerateOptions, 'onProgress' | 'signal' | 'cache' | 'endpoint'> & {
  endpoint: Omit<GenerateOptions['endpoint'], 'fetch'>;
};
export type InPageJobOptions = Omit<InPageModelOptions, 'onProgress' | 'device'> & {
  prompt?: string;
  /** A local GGUF model file (the page's "Model in this page"); without one, `model` is a hub id for transformers.js. */
  file?: File;
  /** 'auto' (default): WebGPU on a hardware adapter, else the CPU (WASM). */
  device?: 'auto' | 'webgpu' | 'wasm';
};
export type EndpointJobOptions = Omit<GenerateOptions['endpoint'], 'fetch'>;

/** Answers of a running generation, sent in batches (every ~300 ms) so the page shows and keeps them as they arrive. */
export interface QueryBatch {
  queries: QueryRecord[];
  failures: { chunk_id: string; error: string }[];
  stats: GenerateStats;
}
export type OnQueryBatch = (b: QueryBatch) => void;
export type MineJobOptions = Omit<MineOptions, 'onProgress' | 'signal' | 'tokenizer' | 'tokenPool'>;

/** Pasted text or bytes, with the path it should be reported under. */
export interface InMemoryFile {
  path: string;
  data: Uint8Array | string;
}

/**
 * A file with the path it should be reported under, for files whose own name lacks the folder (a dropped folder's
 * entries carry their path only in the FileSystemEntry, not in File.webkitRelativePath).
 */
export interface PathedFile {
  file: Blob;
  /** Path relative to the dropped folder's parent, '/'-separated. */
  path: string;
}

export interface IngestJobResult {
  chunks: Chunk[];
  report: IngestReport;
  /** The decoded documents, so the page can rechunk, preview and persist them without reading the files again. */
  docs: IngestedDoc[];
  documents: number;
}

export interface DataWorkerApi {
  /**
   * Files from a drop or directory picker (File objects are structured-cloneable), files with their folder path, or
   * in-memory texts/bytes → decoded documents, chunked with opts (stages 'ingest', then 'chunk').
   */
  ingest(jobId: string, files: (File | PathedFile | InMemoryFile)[], opts: IngestJobOptions, onProgress?: OnProgress): Promise<Result<IngestJobResult>>;
  /** Chunks documents already ingested (new chunk settings without reading the files again). Stage 'chunk'. */
  chunk(jobId: string, docs: { source: string; text: string }[], opts: ChunkJobOptions, onProgress?: OnProgress): Promise<Result<Chunk[]>>;
  /** The chunks of one document with these settings, for a live preview (fast; not cancellable). */
  chunkPreview(doc: { source: string; text: string }, opts: ChunkJobOptions): Promise<Result<Chunk[]>>;
  /**
   * BM25 (over all chunks, rank_bm25 formula, the token mode mining used) of each example's positives and negatives
   * for its query. The index is kept between calls with the same chunks and mode (stage 'BM25 index' when built).
   */
  bm25Scores(jobId: string, chunks: Chunk[], examples: ScoredExample[], mode: TokenMode, onProgress?: OnProgress): Promise<Result<ExampleScores[]>>;
  /**
   * A zip of the files (deflate level 6); names listed in store are stored uncompressed (safetensors barely shrink).
   * Streams file by file in 1 MiB pieces: progress (stage 'zip', bytes) and cancel(jobId) between pieces.
   */
  zip(files: Record<string, Uint8Array>, store: string[], jobId?: string, onProgress?: OnProgress): Promise<Result<Uint8Array>>;
  /** `onBatch` receives the answers as they arrive (the run's final result holds them all too). */
  generateQueries(jobId: string, chunks: Chunk[], opts: GenerateJobOptions, onProgress?: OnProgress, onBatch?: OnQueryBatch): Promise<Result<GenerateResult>>;
  /** One short request: is the endpoint there, and do the URL, model and key work? */
  testEndpoint(endpoint: EndpointJobOptions): Promise<Result<{ ms: number; reply: string }>>;
  /** How many of these chunks already have a cached query for this prompt and model (free on the next run). */
  countCached(chunks: Chunk[], prompt: string, model: string): Promise<Result<number>>;
  /**
   * Queries from a small instruct model in this worker, for users with no endpoint: a dropped GGUF file (opts.file;
   * llama.cpp in WebAssembly, WebGPU or CPU) or a hub id (transformers.js; never tested against a real model). The
   * model loads on first use (progress stage 'load model' / 'download') and stays loaded for the next run.
   */
  generateQueriesInPage(jobId: string, chunks: Chunk[], opts: InPageJobOptions, onProgress?: OnProgress, onBatch?: OnQueryBatch): Promise<Result<GenerateResult>>;
  /** Pairs as text, or as the file's bytes (then the encoding is detected: BOM, UTF-16, UTF-8, GBK). */
  /** Reads a dropped model file's header: its name and format, or a clear refusal (not GGUF, an encoder, cut short…). */
  inspectModelFile(file: File): Promise<Result<GgufInfo>>;
  importPairs(input: string | Uint8Array, fileName: string, chunks: Chunk[]): Promise<Result<ImportResult>>;
  filterQueries(
    jobId: string,
    queries: QueryRecord[],
    chunks: Chunk[],
    opts: FilterOptions & { roundTripK?: number; tokenMode?: TokenMode },
    onProgress?: OnProgress,
  ): Promise<Result<FilterResult>>;
  mine(jobId: string, chunks: Chunk[], queries: QueryRecord[], opts: MineJobOptions, onProgress?: OnProgress): Promise<Result<{ train: TrainExample[]; val: TrainExample[]; stats: MineStats }>>;
  /**
   * The realistic validation lists (src/eval/candidates.ts): each example's query reranks BM25's top `depth` of the
   * validation documents (jieba tokens, the miner's default mode) plus its positives. Stage 'validation candidates
   * (BM25)'; cancel(jobId) between texts.
   */
  rerankSet(jobId: string, val: TrainExample[], depth: number, onProgress?: OnProgress): Promise<Result<RerankSet>>;
  /** Cancels a running job; its call resolves with { ok: false, error: { name: 'AbortError' } }. */
  cancel(jobId: string): Promise<boolean>;
}

/** A GGUF file through llama.cpp in WebAssembly; the engine's assets are bundled with the page (./wllama-web.ts). */
async function loadGgufInWorker(file: File, device: InPageJobOptions['device'], onProgress?: OnProgress): Promise<InPageGenerator> {
  const [{ loadGgufGenerator }, { createWebWllama }] = await Promise.all([import('../../data/query-gguf.ts'), import('./wllama-web.ts')]);
  return loadGgufGenerator(file, file.name, createWebWllama, { device, onProgress });
}

const isBlob = (f: unknown): f is Blob => typeof Blob !== 'undefined' && f instanceof Blob;
const isPathed = (f: File | PathedFile | InMemoryFile): f is PathedFile => !isBlob(f) && 'file' in f && isBlob(f.file);

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

  const scoreExamples = createExampleScorer();

  async function run<T>(fn: () => Promise<T>): Promise<Result<T>> {
    try {
      return { ok: true, value: await fn() };
    } catch (e) {
      return { ok: false, error: toErrorData(e) };
    }
  }
  async function job<T>(jobId: string, fn: (signal: AbortSignal) => Promise<T>): Promise<Result<T>> {
    const ac = new AbortController();
    jobs.set(jobId, ac);
    try {
      return await run(() => fn(ac.signal));
    } finally {
      // a later job may have reused the id: leave its controller in place
      if (jobs.get(jobId) === ac) jobs.delete(jobId);
    }
  }
  // progress callbacks may be comlink proxies: never let a failed postMessage break the job
  const safe = (cb?: OnProgress): OnProgress | undefined => (cb ? (p) => void Promise.resolve(cb(p)).catch(() => {}) : undefined);

  /** Collects outcomes and posts them in batches at most every `ms` (one message per answer would flood the page). */
  function batcher(cb: OnQueryBatch | undefined, ms = 300) {
    let queries: QueryRecord[] = [];
    let failures: QueryBatch['failures'] = [];
    let stats: GenerateStats | undefined;
    let last = 0;
    const flush = () => {
      if (!cb || !stats || (!queries.length && !failures.length)) return;
      const b = { queries, failures, stats: { ...stats } };
      queries = [];
      failures = [];
      last = Date.now();
      void Promise.resolve(cb(b)).catch(() => {});
    };
    const onResult = (r: ChunkOutcome, s: GenerateStats) => {
      if (r.query) queries.push(r.query);
      if (r.error) failures.push({ chunk_id: r.chunk_id, error: r.error });
      stats = s;
      if (Date.now() - last >= ms) flush();
    };
    return { onResult: cb ? onResult : undefined, flush };
  }

  return {
    ingest: (jobId, files, opts, onProgress) =>
      job(jobId, async (signal) => {
        const sources: SourceFile[] = files.map((f, i) => {
          if (isPathed(f)) return fromBlob(f.file, f.path);
          if (!isBlob(f)) return fromBytes(f.data, f.path);
          const named = f as Blob & { name?: string; webkitRelativePath?: string };
          return fromBlob(f, named.webkitRelativePath || named.name || `file-${i + 1}`);
        });
        const progress = safe(onProgress);
        const { docs, report } = await ingest(sources, { ...opts, onProgress: progress, signal });
        const chunks = chunkDocuments(docs, { ...opts, onProgress: progress, signal });
        return { chunks, report, docs, documents: docs.length };
      }),
    chunk: (jobId, docs, opts, onProgress) => job(jobId, async (signal) => chunkDocuments(docs, { ...opts, onProgress: safe(onProgress), signal })),
    chunkPreview: (doc, opts) => run(async () => chunkText(doc.source, doc.text, opts)),
    bm25Scores: (jobId, chunks, examples, mode, onProgress) => job(jobId, (signal) => scoreExamples(chunks, examples, mode, { onProgress: safe(onProgress), signal })),
    zip: (files, store, jobId, onProgress) =>
      job(jobId ?? `zip-${Date.now()}`, async (signal) => {
        const parts: Uint8Array[] = [];
        let error: Error | undefined;
        const zip = new Zip((err, chunk) => {
          if (err) error = err;
          else parts.push(chunk);
        });
        const total = Object.values(files).reduce((s, b) => s + b.byteLength, 0);
        let done = 0;
        const PIECE = 1 << 20;
        const progress = safe(onProgress);
        for (const [name, bytes] of Object.entries(files)) {
          const entry = store.includes(name) ? new ZipPassThrough(name) : new ZipDeflate(name, { level: 6 });
          zip.add(entry);
          for (let at = 0; at < bytes.byteLength || at === 0; at += PIECE) {
            if (signal.aborted) {
              zip.terminate();
              throw signal.reason;
            }
            const end = Math.min(bytes.byteLength, at + PIECE);
            entry.push(bytes.subarray(at, end), end >= bytes.byteLength);
            done += end - at;
            progress?.({ stage: 'zip', done, total, detail: name });
            await new Promise((r) => setTimeout(r, 0)); // let cancel() in between
            if (end >= bytes.byteLength) break;
          }
        }
        zip.end();
        if (error) throw error;
        const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
        let o = 0;
        for (const p of parts) {
          out.set(p, o);
          o += p.byteLength;
        }
        return out;
      }),
    generateQueries: (jobId, chunks, opts, onProgress, onBatch) =>
      job(jobId, async (signal) => {
        const b = batcher(onBatch);
        try {
          return await generateQueries(chunks, { ...opts, cache: await getCache(), onProgress: safe(onProgress), onResult: b.onResult, signal });
        } finally {
          b.flush(); // what arrived before a stop, a cancel or an error reaches the page too
        }
      }),
    testEndpoint: (endpoint) => run(() => testEndpoint(endpoint)),
    countCached: (chunks, prompt, model) =>
      run(async () => {
        const cache = await getCache();
        let n = 0;
        for (const c of chunks) if ((await cache.get(await queryCacheKey(c.text, prompt, model))) !== undefined) n++;
        return n;
      }),
    generateQueriesInPage: (jobId, chunks, opts, onProgress, onBatch) =>
      job(jobId, async (signal) => {
        const { loadInPageGenerator, generateQueriesInPage } = await import('../../data/query-inpage.ts');
        const { file, device, ...rest } = opts;
        const key = file ? `file|${file.name}|${file.size}|${file.lastModified}|${device ?? ''}` : `${opts.model ?? ''}|${opts.dtype ?? ''}|${device ?? ''}`;
        if (!inPage || inPage.key !== key) {
          await inPage?.gen.then((g) => g.dispose()).catch(() => {});
          const progress = safe(onProgress);
          inPage = { key, gen: file ? loadGgufInWorker(file, device, progress) : loadInPageGenerator({ ...rest, device: device === 'auto' ? undefined : device, onProgress: progress }) };
          inPage.gen.catch(() => (inPage = undefined)); // a failed load may be retried
        }
        const gen = await inPage.gen;
        const b = batcher(onBatch);
        try {
          return await generateQueriesInPage(chunks, gen, { prompt: opts.prompt, cache: await getCache(), onProgress: safe(onProgress), onResult: b.onResult, signal });
        } finally {
          b.flush();
        }
      }),
    inspectModelFile: (file) =>
      run(async () => {
        const { inspectGgufFile } = await import('../../data/query-gguf.ts');
        return inspectGgufFile(file, file.name);
      }),
    importPairs: async (input, fileName, chunks) => job(`import-${fileName}`, async () => importPairs(typeof input === 'string' ? input : decodeJsonl(input), fileName, chunks)),
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
    rerankSet: (jobId, val, depth, onProgress) =>
      job(jobId, async (signal) => buildRerankSet(val, { depth, tokenizer: await createTokenizer('default'), onProgress: safe(onProgress), signal })),
    cancel: async (jobId) => {
      const ac = jobs.get(jobId);
      ac?.abort(new DOMException('Cancelled', 'AbortError'));
      return !!ac;
    },
  };
}
