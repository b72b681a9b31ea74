// The typed surface of the training worker (the one thread in the page that owns the GPU device).
// The page calls these through comlink; progress and training events arrive through callback proxies
// (Comlink.proxy); errors come back as data (WorkerResult) so the page can show them without try/catch plumbing.
// A newer job supersedes an older one of the same kind: the old one is cancelled and answers { ok: false,
// error: { name: 'AbortError' } }.

import type { GpuInfo } from '../../gpu/runtime.ts';
import type { Progress } from '../../util/progress.ts';

export type WorkerResult<T> = { ok: true; value: T } | { ok: false; error: ErrorData };
export interface ErrorData {
  /** GpuOutOfMemoryError, GpuDeviceLostError, ModelConfigError, AbortError, … */
  name: string;
  message: string;
}

/** One FlagEmbedding training example: {"query": str, "pos": [str], "neg": [str]}. */
export interface TrainExample {
  query: string;
  pos: string[];
  neg: string[];
}

export interface ModelSummary {
  arch: 'bert' | 'xlm-roberta';
  modelType: string;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  vocabSize: number;
  maxPositions: number;
  paramCount: number;
  /** True when the folder had no classification head and one was initialised from the seed. */
  newHead: boolean;
  notes: string[];
}

export interface MemoryEstimate {
  paramsBytes: number;
  gradsBytes: number;
  optimizerBytes: number;
  activationsBytes: number;
  totalBytes: number;
}

export interface TrainOptions {
  loss: 'bce' | 'listwise';
  /** Query groups per optimizer step (pairs per step = batchSize × groupSize). */
  batchSize: number;
  /** Documents per query: 1 positive + (groupSize − 1) negatives. */
  groupSize: number;
  epochs: number;
  lr: number;
  warmupRatio: number;
  maxLength: number;
  seed: number;
  weightDecay?: number;
  maxGradNorm?: number;
  /** Micro-batches per optimizer step (gradient accumulation). */
  gradAccum?: number;
}

export type TrainEvent =
  | { type: 'step'; step: number; totalSteps: number; epoch: number; loss: number; lr: number; pairsPerSec: number; etaSeconds?: number }
  | { type: 'skipped'; step: number; reason: string }
  | { type: 'eval'; epoch: number; step: number; valLoss: number; meanGap: number; mrr: number; best: boolean }
  | { type: 'warning'; kind: 'overfitting' | 'collapse' | 'device-lost' | 'other'; message: string }
  | { type: 'checkpoint'; step: number; bytes: number };

export interface TrainSummary {
  steps: number;
  epochs: number;
  bestEpoch: number;
  bestValLoss: number;
  stopped: 'finished' | 'stopped' | 'error';
  seconds: number;
}

export interface ProbeStep {
  batchSize: number;
  ok: boolean;
  /** Why it failed: 'out-of-memory', 'device-lost', 'limit', or an error message. */
  failure?: string;
  peakBytes: number;
  pairsPerSec?: number;
}

export interface ProbeResult {
  steps: ProbeStep[];
  largestOk: number;
  /** largestOk reduced by the margin. */
  recommended: number;
}

export interface ScoredPair {
  query: string;
  doc: string;
}

export interface TrainWorkerApi {
  /** Opens the GPU (once) and describes the adapter: name, software or not, features, limits. */
  adapterInfo(): Promise<WorkerResult<GpuInfo>>;
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
  exportModel(): Promise<WorkerResult<Record<string, Uint8Array>>>;
}

export function toErrorData(e: unknown): ErrorData {
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.name, message: err.message };
}
