// Progress and cancellation, shared by every long-running library function (ingest, query generation, mining,
// training, probing). The page turns these events into bars with counts and ETA; the command line into a
// terminal progress bar. Cancellation is a standard AbortSignal.

export interface Progress {
  /** What is running, e.g. 'ingest', 'tokenise', 'mine', 'train'. */
  stage: string;
  done: number;
  total: number;
  /** One short line for humans: the current file, the loss. */
  detail?: string;
}

export type OnProgress = (p: Progress) => void;

export interface LongRunning {
  onProgress?: OnProgress;
  signal?: AbortSignal;
}

/** Throws the standard AbortError when the signal has fired. Call it between units of work. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new DOMException('Cancelled', 'AbortError');
}

/** Estimates the time left from a start time and the fraction done. */
export function etaSeconds(startMs: number, done: number, total: number, nowMs = Date.now()): number | undefined {
  if (done <= 0 || total <= 0 || done >= total) return done >= total ? 0 : undefined;
  return ((nowMs - startMs) / 1000) * ((total - done) / done);
}
