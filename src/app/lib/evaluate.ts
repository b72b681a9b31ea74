// Base vs fine-tuned on realistic candidate lists, as `rerank-lab eval` (src/cli/commands/eval.ts) does it: the data
// worker builds the lists (src/eval/candidates.ts: each validation query reranks BM25's top N of the validation
// documents plus its positives; BM25 needs jieba, which that worker already loads), the training worker scores each
// unique pair once per model (it owns the GPU), and src/eval/compare.ts turns the scores into NDCG@10 / MRR@10 /
// Hit@1 / Recall@10 beside BM25's own order (the floor) and the seed's per-case report. Nothing here computes on the
// page's thread beyond the metrics' arithmetic.

import type { TrainExample } from '../../data/jsonl.ts';
import type { RerankSet } from '../../eval/candidates.ts';
import { compareModels, type ScorePairs } from '../../eval/compare.ts';
import type { Activation, EvalReport, RerankComparison } from '../../eval/report.ts';
import { isModelFolderFile } from '../../model/folder-files.ts';
import type { Progress } from '../../util/progress.ts';
import type { WorkerResult } from '../../workers/result.ts';
import type { JobKind, ScoredPair } from '../../workers/train/protocol.ts';
import { call, dataWorker, proxy, trainWorker } from '../workers/clients.ts';

export type Evaluated =
  | { ok: true; report: EvalReport; ranking: RerankComparison }
  | { ok: false; error: string; cancelled?: boolean; mismatch?: boolean };

export interface EvaluateOptions {
  /** BM25 candidates per query (training's valCandidates, default 30). */
  depth: number;
  /** Tokens per pair for both models. */
  maxLength: number;
  /** The model's activation: the report's default scale. */
  activation: Activation;
  /** false: the base model alone (step 4's base scores); the report then has no fine-tuned column. */
  tuned?: boolean;
  onProgress?: (p: Progress) => void;
  /** Names the jobs for cancelEvaluation() (a newer job of the same kind supersedes the running one). */
  job?: JobKind;
}

/** The two workers' methods this needs, injectable so tests can drive it without workers or a GPU. */
export interface EvaluateWorkers {
  rerankSet(val: TrainExample[], depth: number, onProgress: ((p: Progress) => void) | undefined, job: JobKind): Promise<WorkerResult<RerankSet>>;
  score(pairs: ScoredPair[], which: 'base' | 'tuned', maxLength: number, onProgress: ((p: Progress) => void) | undefined, job: JobKind): Promise<WorkerResult<number[]>>;
}

/** The data worker's job id for the lists of a page job. */
const listsJob = (job: JobKind) => `rerank-set-${job}`;

const pageWorkers: EvaluateWorkers = {
  rerankSet: (val, depth, onProgress, job) => call(() => dataWorker().rerankSet(listsJob(job), val, depth, onProgress ? proxy(onProgress) : undefined)),
  score: (pairs, which, maxLength, onProgress, job) => call(() => trainWorker().score(pairs, which, maxLength, onProgress ? proxy(onProgress) : undefined, job)),
};

/** Cancels an evaluation in whichever worker it runs now (building the lists, or scoring). */
export function cancelEvaluation(job: JobKind): void {
  void call(async () => ({ ok: true as const, value: await dataWorker().cancel(listsJob(job)) }));
  void trainWorker().cancel(job);
}

/** A failed worker call ends the evaluation with its reason as data (the page shows it), not as an exception. */
class Failed extends Error {
  constructor(readonly result: Evaluated & { ok: false }) {
    super(result.error);
  }
}

function failure(error: { name: string; message: string }): Evaluated & { ok: false } {
  if (error.name === 'AbortError') return { ok: false, error: 'Cancelled.', cancelled: true };
  if (error.name === 'TunedModelMismatch') return { ok: false, error: error.message, mismatch: true };
  return { ok: false, error: `${error.name}: ${error.message}` };
}

/**
 * Builds the realistic lists of `val` and scores them with the base model and (unless opts.tuned is false) the
 * fine-tuned one: the report with its `ranking` (NDCG@10, MRR@10, Hit@1, Recall@10 for BM25, base, fine-tuned).
 */
export async function evaluateOnLists(val: readonly TrainExample[], opts: EvaluateOptions, workers: EvaluateWorkers = pageWorkers): Promise<Evaluated> {
  const usable = val.filter((e) => e.pos.length > 0 && e.query.trim());
  if (!usable.length) return { ok: false, error: 'The validation set is empty: mine again with a validation share above 0 (step 3).' };
  if (!Number.isInteger(opts.depth) || opts.depth < 1) return { ok: false, error: `Candidates per query must be a whole number ≥ 1 (got ${opts.depth}).` };
  const job = opts.job ?? 'evaluate';
  const lists = await workers.rerankSet([...usable], opts.depth, opts.onProgress, job);
  if (!lists.ok) return failure(lists.error);
  const score: ScorePairs = async (pairs, which) => {
    const label = which === 'base' ? 'base model' : 'fine-tuned';
    const onProgress = opts.onProgress && ((p: Progress) => opts.onProgress!({ ...p, stage: `${label} ${p.stage}` }));
    const r = await workers.score(pairs, which, opts.maxLength, onProgress, job);
    if (!r.ok) throw new Failed(failure(r.error));
    return r.value;
  };
  try {
    const { report } = await compareModels(usable, lists.value, score, { tuned: opts.tuned !== false, activation: opts.activation });
    return { ok: true, report, ranking: report.ranking! };
  } catch (e) {
    if (e instanceof Failed) return e.result;
    return { ok: false, error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

/** Files of a Hugging Face folder the worker needs (weights, config, tokenizer); training artefacts are left out. */
export const isModelFile = isModelFolderFile;
