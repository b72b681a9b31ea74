// Tokenising on several threads. Environment-free: a pool drives "threads" given as small adapters, so the same
// code runs Node worker_threads (tokenize-pool-node.ts) and, in the page, Web Workers. Texts go out in batches,
// each thread keeps two batches queued (no idle gap between them), and results are written in input order, so the
// output equals tokenising the texts one by one on this thread.

import { decodeTokens, type TokenizeReply, type TokenizeRequest } from './tokenize-batch.ts';
import type { TokenizerSpec } from './tokenize.ts';
import { throwIfAborted, type LongRunning } from '../util/progress.ts';

/** One tokenising thread as the pool sees it. */
export interface TokenizeThread {
  post(req: TokenizeRequest): void;
  /** Resolves once the thread has loaded jieba; rejects if it cannot start. */
  ready: Promise<void>;
  onReply(cb: (reply: TokenizeReply) => void): void;
  /** A crash of the thread (not a bad batch: those come back as replies with ok: false). */
  onError(cb: (err: Error) => void): void;
  terminate(): void;
  /** Keep the host alive while a job runs (Node: ref/unref the worker); optional. */
  hold?(on: boolean): void;
}

export interface TokenizePool {
  readonly threads: number;
  tokenize(texts: readonly string[], spec: TokenizerSpec, opts?: LongRunning & { stage?: string; batch?: number }): Promise<string[][]>;
  close(): void;
}

/** Builds a pool over started threads; fails (and terminates them all) if any cannot load. */
export async function poolOf(threads: TokenizeThread[]): Promise<TokenizePool> {
  try {
    await Promise.all(threads.map((t) => t.ready));
  } catch (e) {
    for (const t of threads) t.terminate();
    throw e;
  }
  let busy = false;
  let nextId = 0;
  let broken: Error | undefined;
  // One listener per thread for the pool's life; each job installs its own handlers here.
  let onReply: ((t: TokenizeThread, r: TokenizeReply) => void) | undefined;
  let onError: ((e: Error) => void) | undefined;
  for (const t of threads) {
    t.onReply((r) => onReply?.(t, r));
    t.onError((e) => {
      broken = e;
      onError?.(e);
    });
  }
  return {
    threads: threads.length,
    close() {
      for (const t of threads) t.terminate();
    },
    async tokenize(texts, spec, opts = {}) {
      if (busy) throw new Error('This tokenising pool is already running a job; wait for it or open another pool.');
      if (broken) throw new Error(`A tokenising thread stopped: ${broken.message}`);
      busy = true;
      for (const t of threads) t.hold?.(true);
      const stage = opts.stage ?? 'tokenise';
      const batch = Math.max(1, opts.batch ?? 500);
      const out: string[][] = new Array(texts.length);
      try {
        throwIfAborted(opts.signal);
        opts.onProgress?.({ stage, done: 0, total: texts.length });
        await new Promise<void>((resolve, reject) => {
          let sent = 0;
          let done = 0;
          let failed = false;
          const starts = new Map<number, number>(); // request id -> index of its first text
          const fail = (e: unknown) => {
            if (failed) return;
            failed = true;
            reject(e);
          };
          const send = (t: TokenizeThread) => {
            if (failed || sent >= texts.length) return;
            if (opts.signal?.aborted) return fail(opts.signal.reason ?? new DOMException('Aborted', 'AbortError'));
            const id = nextId++;
            starts.set(id, sent);
            const end = Math.min(sent + batch, texts.length);
            t.post({ id, spec, texts: texts.slice(sent, end) as string[] });
            sent = end;
          };
          onReply = (t, r) => {
            const at = starts.get(r.id);
            if (at === undefined || failed) return; // a reply to an earlier, abandoned job
            starts.delete(r.id);
            if (!r.ok) return fail(new Error(`Tokenising failed in a worker thread: ${r.message}`));
            decodeTokens(r.tokens, out, at);
            done += r.tokens.ends.length;
            opts.onProgress?.({ stage, done, total: texts.length });
            if (done === texts.length) resolve();
            else send(t);
          };
          onError = (e) => fail(new Error(`A tokenising thread stopped: ${e.message}`));
          if (texts.length === 0) return resolve();
          for (let round = 0; round < 2; round++) for (const t of threads) send(t);
        });
        return out;
      } finally {
        onReply = undefined;
        onError = undefined;
        for (const t of threads) t.hold?.(false);
        busy = false;
      }
    },
  };
}
