// The page's own helper worker for what the data worker (src/workers/data) does not offer:
//  - ingest that keeps the decoded documents (the data worker returns only chunks), so chunk settings can change
//    and be previewed without reading the folder again, and the corpus can persist across reloads;
//  - chunking of stored documents, and a preview of one document;
//  - BM25 scores of mined examples (mining returns texts only) for the negatives table;
//  - zipping the export (fflate) off the main thread.
// Every method returns a Result; cancel(jobId) aborts a running job.

import { zipSync, type Zippable } from 'fflate';
import { Bm25Index } from '../../data/bm25.ts';
import { chunkDocuments, chunkText, type Chunk, type ChunkOptions } from '../../data/chunk.ts';
import { ingest, type IngestedDoc, type IngestOptions, type IngestReport } from '../../data/ingest.ts';
import { tokenizeAll } from '../../data/mine.ts';
import { fromBlob } from '../../data/source.ts';
import { createTokenizer, type TokenMode, type Tokenizer } from '../../data/tokenize.ts';
import type { OnProgress } from '../../util/progress.ts';

export type Result<T> = { ok: true; value: T } | { ok: false; error: { name: string; message: string } };

export interface PathedFile {
  file: File;
  /** Path relative to the dropped folder's parent, '/'-separated. */
  path: string;
}

export type LabChunkOptions = Pick<ChunkOptions, 'size' | 'overlap' | 'minChars' | 'joinLineBreaks'>;

export interface ExampleScores {
  pos: number[];
  neg: number[];
}

export interface LabWorkerApi {
  ingest(jobId: string, files: PathedFile[], opts: Omit<IngestOptions, 'onProgress' | 'signal'>, onProgress?: OnProgress): Promise<Result<{ docs: IngestedDoc[]; report: IngestReport }>>;
  chunk(jobId: string, docs: { source: string; text: string }[], opts: LabChunkOptions, onProgress?: OnProgress): Promise<Result<Chunk[]>>;
  preview(doc: { source: string; text: string }, opts: LabChunkOptions): Promise<Result<Chunk[]>>;
  /** BM25 (over all chunks, rank_bm25 formula) of each example's positives and negatives for its query. */
  bm25Scores(jobId: string, chunks: Chunk[], examples: { query: string; pos: string[]; neg: string[] }[], mode: TokenMode, onProgress?: OnProgress): Promise<Result<ExampleScores[]>>;
  zip(files: Record<string, Uint8Array>, store: string[]): Promise<Result<Uint8Array>>;
  cancel(jobId: string): Promise<boolean>;
}

export function createLabApi(): LabWorkerApi {
  const jobs = new Map<string, AbortController>();
  const safe = (cb?: OnProgress): OnProgress | undefined => (cb ? (p) => void Promise.resolve(cb(p)).catch(() => {}) : undefined);
  async function job<T>(jobId: string, fn: (signal: AbortSignal) => Promise<T>): Promise<Result<T>> {
    jobs.get(jobId)?.abort(new DOMException('Superseded', 'AbortError'));
    const ac = new AbortController();
    jobs.set(jobId, ac);
    try {
      return { ok: true, value: await fn(ac.signal) };
    } catch (e) {
      const err = e instanceof Error || e instanceof DOMException ? e : new Error(String(e));
      return { ok: false, error: { name: err.name, message: err.message } };
    } finally {
      if (jobs.get(jobId) === ac) jobs.delete(jobId);
    }
  }
  // one BM25 index, rebuilt when the chunks change (keyed by count + first/last id)
  let cached: { key: string; mode: TokenMode; index: Bm25Index; byText: Map<string, number>; tok: Tokenizer } | undefined;

  return {
    ingest: (jobId, files, opts, onProgress) =>
      job(jobId, (signal) => ingest(files.map((f) => fromBlob(f.file, f.path)), { ...opts, onProgress: safe(onProgress), signal })),
    chunk: (jobId, docs, opts, onProgress) => job(jobId, async (signal) => chunkDocuments(docs, { ...opts, onProgress: safe(onProgress), signal })),
    preview: (doc, opts) => job('preview', async () => chunkText(doc.source, doc.text, opts)),
    bm25Scores: (jobId, chunks, examples, mode, onProgress) =>
      job(jobId, async (signal) => {
        const key = `${chunks.length}:${chunks[0]?.id}:${chunks[chunks.length - 1]?.id}`;
        if (!cached || cached.key !== key || cached.mode !== mode) {
          const tok = await createTokenizer(mode);
          const docTokens = await tokenizeAll(chunks.map((c) => c.text), tok, { onProgress: safe(onProgress), signal, stage: 'BM25 index' });
          const byText = new Map<string, number>();
          chunks.forEach((c, i) => byText.has(c.text) || byText.set(c.text, i));
          cached = { key, mode, index: Bm25Index.build(docTokens), byText, tok };
        }
        const { index, byText, tok } = cached;
        return examples.map((ex) => {
          const s = index.scores(tok.tokenize(ex.query));
          const at = (t: string) => {
            const i = byText.get(t);
            return i === undefined ? NaN : s[i];
          };
          return { pos: ex.pos.map(at), neg: ex.neg.map(at) };
        });
      }),
    zip: async (files, store) =>
      job('zip', async () => {
        const z: Zippable = {};
        for (const [name, bytes] of Object.entries(files)) z[name] = store.includes(name) ? [bytes, { level: 0 }] : bytes;
        return zipSync(z, { level: 6 });
      }),
    cancel: async (jobId) => {
      const ac = jobs.get(jobId);
      ac?.abort(new DOMException('Cancelled', 'AbortError'));
      return !!ac;
    },
  };
}
