// Types shared by the training library, the command line and the page's training worker.

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
  /** Training pairs tokenised by this run and how many were cut to max length (document; query too). */
  truncation?: { pairs: number; documents: number; queries: number };
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

