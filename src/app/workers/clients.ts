// Handles on the two workers the page uses (data, train). Components call these; none of them computes on the main
// thread.
import { type WorkerResult, toErrorData } from '../../workers/result.ts';
import * as Comlink from 'comlink';
import { createDataWorker, type DataWorker } from '../../workers/data/client.ts';

let data: DataWorker | undefined;

export function dataWorker(): DataWorker['api'] {
  data ??= createDataWorker();
  return data.api;
}

export { trainWorker } from '../../workers/train/client.ts';
/**
 * A callback the workers may call (progress, events). Its return value is dropped: comlink would post it back, and
 * a Svelte state proxy returned by an arrow like `(p) => (progress = p)` cannot be cloned.
 */
export function proxy<A extends unknown[]>(fn: (...args: A) => unknown): ((...args: A) => void) & Comlink.ProxyMarked {
  return Comlink.proxy((...args: A) => {
    fn(...args);
  });
}

let jobN = 0;
export const newJobId = (kind: string) => `${kind}-${++jobN}-${Date.now()}`;

/** Calls a worker method and turns a thrown error (a method the worker lacks, a dead worker) into a Result. */
export async function call<T>(p: () => Promise<WorkerResult<T>>): Promise<WorkerResult<T>> {
  try {
    return await p();
  } catch (e) {
    const err = toErrorData(e);
    // comlink reports a method the worker does not expose as this TypeError: say so plainly
    if (/reading 'apply'/.test(err.message)) {
      return { ok: false, error: { name: 'NotImplemented', message: 'The worker does not offer this operation yet (its implementation is missing in this build).' } };
    }
    return { ok: false, error: err };
  }
}
