// Types shared by the training library, the command line and the page's training worker.
import type { ResolvedTrainOptions } from './checkpoint.ts';

import type { RerankMetrics, SelectBy } from '../eval/ranking.ts';

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
  /** What picks the best epoch (epoch 0, the base model, included): a ranking metric over the realistic validation
   * lists, or validation loss. Default 'ndcg@10'. */
  selectBy?: SelectBy;
  /** BM25 candidates per validation query in the realistic lists (default 30). */
  valCandidates?: number;
}

/** One evaluation's figures: validation loss and the seed's gap view over the loss groups, and the reranking
 * metrics over the realistic candidate lists beside BM25's own order of the same lists. */
export interface EvalFigures {
  epoch: number;
  step: number;
  valLoss: number;
  /** Mean of (positive score − its hardest sampled negative's) over the loss groups. */
  meanGap: number;
  /** MRR within the loss groups (1 positive + groupSize − 1 negatives): the seed's figure. */
  mrr: number;
  /** NDCG@10, MRR@10, Hit@1, Recall@10 of the model over the realistic lists (absent without validation queries). */
  ranking?: RerankMetrics;
  /** BM25's figures on the same lists: the floor to beat (the same every epoch). */
  bm25?: RerankMetrics;
  selectBy: SelectBy;
  /** The value of selectBy at this evaluation. */
  value: number;
}

/** What validation is made of, reported once before training. */
export interface ValidationInfo {
  /** Validation queries with a realistic candidate list. */
  queries: number;
  /** Distinct validation documents BM25 searched (validation documents only). */
  documents: number;
  /** BM25 candidates per query. */
  depth: number;
  /** Share of positives in BM25's top `depth`. */
  positivesRetrieved: number;
  /** Loss groups (1 positive + groupSize − 1 negatives, all from validation documents). */
  lossGroups: number;
  /** Validation examples left out of the loss: too few validation documents to fill a group. */
  lossGroupsSkipped: number;
  bm25: RerankMetrics;
  selectBy: SelectBy;
}

export type TrainEvent =
  | { type: 'step'; step: number; totalSteps: number; epoch: number; loss: number; lr: number; pairsPerSec: number; etaSeconds?: number }
  | { type: 'skipped'; step: number; reason: string }
  | ({ type: 'eval'; best: boolean } & EvalFigures)
  | ({ type: 'validation' } & ValidationInfo)
  | { type: 'progress'; stage: string; done: number; total: number }
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
  /** The metric that chose bestEpoch, and its value there. */
  selectBy?: SelectBy;
  bestValue?: number;
  /** True when no fine-tuned epoch beat the base model (epoch 0): the saved weights are the base model's. */
  keptBase?: boolean;
  /** Every evaluation's figures (epoch 0 = the base model). */
  evals?: EvalFigures[];
  validation?: ValidationInfo;
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

