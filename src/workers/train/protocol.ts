// The typed surface of the training worker (the one thread in the page that owns the GPU device).
// The page calls these through comlink; progress and training events arrive through callback proxies
// (Comlink.proxy); errors come back as data (WorkerResult) so the page can show them without try/catch plumbing.
// A newer job supersedes an older one of the same kind: the old one is cancelled and answers { ok: false,
// error: { name: 'AbortError' } }.

import type { ErrorData, WorkerResult } from '../result.ts';
import type { GpuInfo } from '../../gpu/runtime.ts';
import type { Progress } from '../../util/progress.ts';
import type { Activation } from '../../eval/report.ts';
import type { RunRecord, RunSlot, RunTag } from './runs.ts';
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
export type { RunRecord, RunSlot, RunTag };


/** How a training run treats an existing checkpoint (see TrainWorkerApi.train). */
export type TrainMode = 'new' | 'resume' | 'restart';

export interface ScoredPair {
  query: string;
  doc: string;
}

/** A loaded model as the page sees it: its summary, its identity and how its scores read. */
export interface LoadedModel extends ModelSummary {
  /** SHA-256 of the folder's files (see fingerprint.ts): the page's provenance records it. */
  fingerprint: string;
  /** The name the page gave it (the folder name or hub id). */
  name: string;
  /** sentence-transformers' activation for this config (sigmoid for one label). */
  activation: Activation;
}

/** Where a run saved in this browser stands (the last checkpoint, or the fine-tuned weights). */
export interface SavedRunInfo extends RunRecord {
  /** True when it was trained from the model loaded now. */
  sameModel: boolean;
}

/** Jobs the page can cancel by kind; 'evaluate' and 'try' are scoring jobs of the evaluation step. */
export type JobKind = 'download' | 'load' | 'probe' | 'train' | 'evaluate' | 'try' | 'score-base' | 'export';

export interface TrainWorkerApi {
  /** Opens the GPU (once) and describes the adapter: name, software or not, features, limits. */
  adapterInfo(): Promise<WorkerResult<GpuInfo>>;
  /** Downloads a model folder from the Hugging Face hub (or a mirror endpoint) by id; the page then loads it. */
  fetchHubModel(id: string, opts: { endpoint?: string; token?: string }, onProgress?: (p: Progress) => void): Promise<WorkerResult<Record<string, Uint8Array>>>;
  /** Loads a Hugging Face model folder (file name → bytes) as the base model, under the name the page shows. */
  loadModel(files: Record<string, Uint8Array>, onProgress?: (p: Progress) => void, name?: string): Promise<WorkerResult<LoadedModel>>;
  /** Training memory for the loaded model at this shape, before anything is allocated. */
  estimateMemory(opts: { batchSize: number; groupSize: number; maxLength: number }): Promise<WorkerResult<MemoryEstimate>>;
  /**
   * Scores pairs with the base model or the fine-tuned one (raw logits; the activation is the page's business).
   * `job` names the job for cancel() (a newer job of the same kind supersedes it). Scoring 'tuned' refuses
   * fine-tuned weights trained from another model than the loaded one (TunedModelMismatch).
   */
  score(pairs: ScoredPair[], which: 'base' | 'tuned', maxLength: number, onProgress?: (p: Progress) => void, job?: JobKind): Promise<WorkerResult<number[]>>;
  /** Real training steps at batch sizes 1, 2, 4, … until out-of-memory or device loss, then a search between. */
  probeBatchSize(
    sample: TrainExample[],
    opts: { groupSize: number; maxLength: number; loss: 'bce' | 'listwise'; maxBatch: number; marginPercent: number },
    onStep?: (s: ProbeStep) => void,
  ): Promise<WorkerResult<ProbeResult>>;
  /**
   * Trains on `train`, evaluates on `val` after each epoch, keeps the best checkpoint. `mode`: 'new' (the default;
   * answers CheckpointExistsError when an unfinished run's checkpoint exists, so the page can ask), 'resume' (from
   * that checkpoint, of the same model only), 'restart' (delete it and start over). `true`/`false` mean
   * 'resume'/'new'. The 'main' slot's result becomes the fine-tuned model; a 'sweep' trial keeps its own checkpoint
   * and leaves the fine-tuned model alone.
   */
  train(train: TrainExample[], val: TrainExample[], opts: TrainOptions, onEvent?: (e: TrainEvent) => void, mode?: TrainMode | boolean, tag?: RunTag): Promise<WorkerResult<TrainSummary>>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
  /** Cancels a running job of this kind (it answers AbortError). */
  cancel(kind: JobKind): Promise<void>;
  /** The last checkpoint of a slot: its position, options and the model it belongs to (undefined: none saved). */
  checkpointInfo(slot?: RunSlot): Promise<WorkerResult<SavedRunInfo | undefined>>;
  /** What the fine-tuned weights in this browser were trained from (undefined: none yet). */
  tunedInfo(): Promise<WorkerResult<SavedRunInfo | undefined>>;
  /**
   * The fine-tuned (best) model as a Hugging Face folder: file name → bytes; refused when it was trained from another
   * model. With onnx, also onnx/model.onnx (+ onnx/model.onnx_data for very large models) and transformers.js_config
   * in config.json (src/export/). maxLength (the trained length) becomes tokenizer_config.json's model_max_length.
   */
  exportModel(opts?: { onnx?: boolean; maxLength?: number }): Promise<WorkerResult<Record<string, Uint8Array>>>;
}
