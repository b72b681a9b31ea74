// The typed surface of the training worker (the one thread in the page that owns the GPU device).
// The page calls these through comlink; progress and training events arrive through callback proxies
// (Comlink.proxy); errors come back as data (WorkerResult) so the page can show them without try/catch plumbing.
// A newer job supersedes an older one of the same kind: the old one is cancelled and answers { ok: false,
// error: { name: 'AbortError' } }.

import type { ErrorData, WorkerResult } from '../result.ts';
import type { GpuInfo } from '../../gpu/runtime.ts';
import type { Progress } from '../../util/progress.ts';
import type {
  MemoryEstimate,
  ModelSummary,
  ProbeResult,
  ProbeStep,
  TrainEvent,
  TrainExample,
  TrainOptions,
  TrainSummary,
} from '../../train/types.ts';

export { toErrorData } from '../result.ts';
export type { ErrorData, WorkerResult };
export type { MemoryEstimate, ModelSummary, ProbeResult, ProbeStep, TrainEvent, TrainExample, TrainOptions, TrainSummary };


export interface ScoredPair {
  query: string;
  doc: string;
}

export interface TrainWorkerApi {
  /** Opens the GPU (once) and describes the adapter: name, software or not, features, limits. */
  adapterInfo(): Promise<WorkerResult<GpuInfo>>;
  /** Downloads a model folder from the Hugging Face hub (or a mirror endpoint) by id; the page then loads it. */
  fetchHubModel(id: string, opts: { endpoint?: string; token?: string }, onProgress?: (p: Progress) => void): Promise<WorkerResult<Record<string, Uint8Array>>>;
  /** Loads a Hugging Face model folder (file name → bytes) as the base model. */
  loadModel(files: Record<string, Uint8Array>, onProgress?: (p: Progress) => void): Promise<WorkerResult<ModelSummary>>;
  /** Training memory for the loaded model at this shape, before anything is allocated. */
  estimateMemory(opts: { batchSize: number; groupSize: number; maxLength: number }): Promise<WorkerResult<MemoryEstimate>>;
  /** Scores pairs with the base model or the fine-tuned one (raw logits; sigmoid is the page's business). */
  score(pairs: ScoredPair[], which: 'base' | 'tuned', maxLength: number, onProgress?: (p: Progress) => void): Promise<WorkerResult<number[]>>;
  /** Real training steps at batch sizes 1, 2, 4, … until out-of-memory or device loss, then a search between. */
  probeBatchSize(
    sample: TrainExample[],
    opts: { groupSize: number; maxLength: number; loss: 'bce' | 'listwise'; maxBatch: number; marginPercent: number },
    onStep?: (s: ProbeStep) => void,
  ): Promise<WorkerResult<ProbeResult>>;
  /** Trains on `train`, evaluates on `val` after each epoch, keeps the best checkpoint. Resumes when asked to. */
  train(train: TrainExample[], val: TrainExample[], opts: TrainOptions, onEvent?: (e: TrainEvent) => void, resume?: boolean): Promise<WorkerResult<TrainSummary>>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
  /** The fine-tuned (best) model as a Hugging Face folder: file name → bytes. */
  /** The fine-tuned model as a Hugging Face folder; maxLength (the trained length) becomes its model_max_length. */
  exportModel(opts?: { maxLength?: number }): Promise<WorkerResult<Record<string, Uint8Array>>>;
}
