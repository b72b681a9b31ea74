// The typed surface of the training worker (the one thread in the page that owns the GPU device).
// The page calls these through comlink; progress arrives through a callback proxy; errors come back as data
// (WorkerResult) so the page can show them without try/catch plumbing.

import type { GpuInfo } from '../../gpu/runtime.ts';

export type WorkerResult<T> = { ok: true; value: T } | { ok: false; error: { name: string; message: string } };

export interface TrainWorkerApi {
  /** Opens the GPU (once) and describes the adapter: name, software or not, features, limits. */
  adapterInfo(): Promise<WorkerResult<GpuInfo>>;
}

export function toErrorData(e: unknown): { name: string; message: string } {
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.name, message: err.message };
}
