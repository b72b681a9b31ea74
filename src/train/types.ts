// Types shared by the training library, the command line and the page's training worker.
import type { ResolvedTrainOptions } from './checkpoint.ts';

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
  /** Hidden dropout probability; default: the model's config.json hidden_dropout_prob (0 when absent). */
  dropout?: number;
  /** Dropout on the attention probabilities; default: config.json attention_probs_dropout_prob (0 when absent). */
  attentionDropout?: number;
  /** Dropout in the classification head (HF's placement); default: config.json classifier_dropout, else the hidden
   * dropout (as transformers does when classifier_dropout is null). */
  classifierDropout?: number;
  /** BCE only: torch's pos_weight; default: the negatives per group (groupSize − 1), sentence-transformers v4's
   * reranker recipe; 1 = plain BCE. */
  posWeight?: number;
  /** Share (0–1) of each group's negatives drawn at random from other examples' documents instead of the mined
   * hard negatives; default 0 (hard negatives only, as FlagEmbedding and sentence-transformers train). */
  randomNegatives?: number;
  /** Keep only the first N tokens of each query before pair truncation (FlagEmbedding's query_max_len); default 0 =
   * no cap (sentence-transformers' CrossEncoder has none). */
  queryMaxLength?: number;
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
  /** Optimizer steps the full run has (steps < totalSteps when stopped early). */
  totalSteps?: number;
  /** Updates skipped by the NaN/Inf guard. */
  skippedSteps?: number;
  /** Validation loss per evaluation; epoch 0 is the model before training. */
  valLosses?: { epoch: number; loss: number }[];
  /** The options the run used, defaults filled in (what the model card records). */
  options?: ResolvedTrainOptions;
  /** Training pairs tokenised by this run and how many were cut to max length (document; query too). */
  truncation?: { pairs: number; documents: number; queries: number };
}

export interface ProbeStep {
  batchSize: number;
  ok: boolean;
  /** Why it failed: 'out-of-memory', 'device-lost', 'limit', or an error message. */
  failure?: string;
  /** The most bytes the GPU buffer pool held during the trial (live buffers and free lists). */
  peakBytes: number;
  pairsPerSec?: number;
}

export interface ProbeResult {
  steps: ProbeStep[];
  largestOk: number;
  /** largestOk reduced by the margin. */
  recommended: number;
  /** Tokens per pair every trial was padded to (the run's max length), and pairs per query group. */
  maxLength: number;
  groupSize: number;
}

