// Node tokenising pool over worker_threads; each thread loads jieba-wasm once (tokenize-thread-node.mjs).
// Threads are unref'd between jobs so an idle pool never keeps the process alive; still close() it when done.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { TokenizeReply } from './tokenize-batch.ts';
import { poolOf, type TokenizePool, type TokenizeThread } from './tokenize-pool.ts';

/** Default thread count: every core, at most 4 (jieba's gain flattens beyond; memory grows per thread). */
export function defaultTokenizeThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

function nodeThread(): TokenizeThread {
  const w = new Worker(new URL('./tokenize-thread-node.mjs', import.meta.url));
  w.unref();
  let replyCb: ((r: TokenizeReply) => void) | undefined;
  let errorCb: ((e: Error) => void) | undefined;
  let ready!: () => void;
  let failed!: (e: Error) => void;
  const readyP = new Promise<void>((res, rej) => {
    ready = res;
    failed = rej;
  });
  w.on('message', (m: TokenizeReply | { ready: true }) => {
    if ('ready' in m) ready();
    else replyCb?.(m);
  });
  const crash = (e: Error) => {
    failed(e);
    errorCb?.(e);
  };
  w.on('error', crash);
  w.on('exit', (code) => crash(new Error(`worker thread exited (code ${code})`)));
  return {
    ready: readyP,
    post: (req) => w.postMessage(req),
    onReply: (cb) => (replyCb = cb),
    onError: (cb) => (errorCb = cb),
    hold: (on) => (on ? w.ref() : w.unref()),
    terminate: () => {
      errorCb = undefined;
      void w.terminate();
    },
  };
}

/** Starts `threads` tokenising threads (default: defaultTokenizeThreads()) and waits until each has loaded jieba. */
export function openNodeTokenizePool(threads = defaultTokenizeThreads()): Promise<TokenizePool> {
  return poolOf(Array.from({ length: Math.max(1, threads) }, nodeThread));
}
