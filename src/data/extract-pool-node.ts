// Node: .docx/.pdf extraction in a worker thread with a heap limit and a time limit per file. A file that runs the
// thread out of memory (the V8 heap of a 100 MB XML part) or past the time limit fails alone — the thread is
// replaced for the next file — instead of taking `ingest` and everything it read so far down.

import { Worker } from 'node:worker_threads';
import { docxText, ExtractSkip, pdfText, type DocxLimits } from './extract.ts';
import type { ExtractReply, ExtractRequest } from './extract-thread-node.ts';

export interface ExtractThreadOptions {
  /** The thread's V8 heap limit (default 2048 MB). */
  maxMemoryMb?: number;
  /** Per file (default 120 s). */
  timeoutMs?: number;
  docx?: DocxLimits;
  /** The thread's entry (tests start a misbehaving one). */
  entry?: URL;
}

export interface ExtractThread {
  extract(format: 'docx' | 'pdf', bytes: Uint8Array): Promise<string>;
  close(): Promise<void>;
}

export function openExtractThread(opts: ExtractThreadOptions = {}): ExtractThread {
  const maxMemoryMb = opts.maxMemoryMb ?? 2048;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  let worker: Worker | undefined;
  let ready: Promise<void> | undefined;
  let nextId = 0;
  let pending: { id: number; w: Worker; resolve(t: string): void; reject(e: Error): void } | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  // A thread that cannot start at all (a single-file bundle without the thread's entry beside it) means extracting
  // here, as the page does: the size limits still hold, only the heap limit is lost.
  let inProcess = false;

  const start = () => {
    const w = new Worker(opts.entry ?? new URL('./extract-thread-node.mjs', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: maxMemoryMb } });
    worker = w;
    ready = new Promise<void>((res, rej) => {
      w.once('message', () => res());
      w.once('error', rej);
    });
    ready.catch(() => undefined);
    w.on('message', (m: ExtractReply | { ready: true }) => {
      if ('ready' in m || !pending || pending.w !== w || m.id !== pending.id) return;
      const p = pending;
      pending = undefined;
      if (m.ok) p.resolve(m.text);
      else p.reject(m.skip ? new ExtractSkip(m.message) : new Error(m.message));
    });
    const died = (why: string) => {
      if (worker === w) worker = undefined;
      if (pending?.w !== w) return; // a thread already replaced (timed out) ending late
      const p = pending;
      pending = undefined;
      p.reject(new Error(why));
    };
    w.on('error', (e: Error & { code?: string }) =>
      died(e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `extraction ran out of memory (over ${maxMemoryMb} MB): the file is too complex or a zip bomb; save it as .txt to include it` : `extraction crashed: ${e.message}`),
    );
    w.on('exit', (code) => died(`extraction stopped unexpectedly (thread exit code ${code})`));
  };

  const runOne = async (format: 'docx' | 'pdf', bytes: Uint8Array): Promise<string> => {
    if (inProcess) return format === 'docx' ? docxText(bytes, opts.docx) : pdfText(bytes);
    if (!worker) start();
    const w = worker!;
    try {
      await ready;
    } catch (e) {
      if (!opts.entry) {
        inProcess = true;
        console.warn(`extraction thread unavailable (${(e as Error).message}); extracting .docx/.pdf in this process`);
        return runOne(format, bytes);
      }
      throw e;
    }
    const id = ++nextId;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending = undefined;
        worker = undefined;
        void w.terminate();
        reject(new Error(`extraction took longer than ${Math.round(timeoutMs / 1000)} s; save the file as .txt to include it`));
      }, timeoutMs);
      pending = {
        id,
        w,
        resolve: (t) => (clearTimeout(timer), resolve(t)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      const req: ExtractRequest = { id, format, bytes, docx: opts.docx };
      w.postMessage(req);
    });
  };

  return {
    // one file at a time: the thread's heap limit is per file then
    extract(format, bytes) {
      const p = queue.then(() => runOne(format, bytes));
      queue = p.catch(() => undefined);
      return p;
    },
    async close() {
      await queue;
      const w = worker;
      worker = undefined;
      await w?.terminate();
    },
  };
}
