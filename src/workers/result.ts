// What every worker method answers: a value, or the error as data (name and message), so the page shows failures
// without try/catch plumbing and nothing un-cloneable crosses the worker boundary.

export interface ErrorData {
  /** GpuOutOfMemoryError, GpuDeviceLostError, ModelConfigError, AbortError, … */
  name: string;
  message: string;
}

export type WorkerResult<T> = { ok: true; value: T } | { ok: false; error: ErrorData };

export function toErrorData(e: unknown): ErrorData {
  const err = e instanceof Error || (typeof DOMException !== 'undefined' && e instanceof DOMException) ? e : new Error(String(e));
  return { name: err.name, message: err.message };
}
