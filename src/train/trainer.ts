// The training loop, one code path for Node (the `train` command) and the page's training worker.
//
//   per epoch e:  groups = 1 positive + (groupSize − 1) sampled negatives per example, seeded by (seed, e), shuffled
//                 per step: batchSize groups in gradAccum micro-batches (forward, loss, backward; gradients add up,
//                 each scaled by its share of the step), then one AdamW update at lrAt(step) (linear warmup/decay),
//                 clipped to maxGradNorm, skipped (and reported) when the gradients hold NaN/Inf
//   after e:      validation (see below); keep the parameters of the best evaluation by `selectBy`
//
// Validation is built from validation documents only (split by source document when the data comes from `mine`):
//   loss groups   1 positive + (groupSize − 1) negatives per validation example, topped up only from other
//                 validation examples' documents (never training documents); validation loss, the seed's gap view
//                 (positive vs its hardest sampled negative) and MRR within the group
//   ranking       each validation query reranks BM25's top N of the whole validation corpus plus its positives
//                 (src/eval/candidates.ts, as sentence-transformers' CrossEncoderRerankingEvaluator): NDCG@10,
//                 MRR@10, Hit@1, Recall@10 beside BM25's own order of the same lists
// Epoch 0 (the base model, evaluated before training) is a candidate for best: a run that only made the model worse
// keeps the base weights and says so.
//
// Steps are pipelined: step t+1 is recorded while the GPU runs step t, and step t's loss and update report (norm,
// skipped or not) are read back then, so its events come a step late and the GPU never waits for the CPU.
// Cancel with `signal` (the steps already recorded finish — one beyond the last reported — then the run returns
// 'stopped' and checkpoints); pause with `waitIfPaused` (awaited between steps). A checkpoint holds everything to continue exactly (see checkpoint.ts).
// GPU errors (device lost, out of memory) propagate: the caller decides whether to recreate and resume from the
// last checkpoint it was given.
//
// The parts, in the order a run meets them: train() checks a resume against its checkpoint; setUpValidation builds the
// validation material; planEpochs the steps; then a TrainingRun holds the state a checkpoint records and runs
// trainEpoch (recordStep, reportStep) and endEpoch (evaluate, checkpoint) until finish() reports the result.

import type { GpuRuntime } from '../gpu/runtime.ts';
import type { ModelConfig } from '../model/config.ts';
import type { HfModel } from '../model/hf-folder.ts';
import { type Group, type GroupStats, STREAM, documentPool, buildGroups, epochGroups, microBatches, mixSeed, pairsOf, stepsOf } from './batches.ts';
import { type Checkpoint, type ResolvedTrainOptions, type ValRecord, checkpointBytes, writeOptimizerState } from './checkpoint.ts';
import { type ValBatch, evaluateGroups, tokeniseGroups } from './evaluate-loss.ts';
import { evaluateRanking } from './evaluate-ranking.ts';
import { DEFAULT_RERANK_DEPTH, type RerankSet, buildRerankSet } from '../eval/candidates.ts';
import { DEFAULT_SELECT_BY, SELECT_METRICS, type SelectBy, beats, formatSelect, isSelectBy, selectValue } from '../eval/ranking.ts';
import { GpuModel } from './gpu-model.ts';
import { type AdamW, DEFAULT_ADAMW } from './optimizer.ts';
import { fingerprintMismatch, runFingerprint } from './fingerprint.ts';
import { describeNonFinite, firstNonFinite } from '../model/finite.ts';
import { type Truncation, addTruncation, truncationMessage } from './truncation.ts';
import { lrAt, warmupStepsFromRatio } from './schedule.ts';
import type { EvalFigures, TrainEvent, TrainExample, TrainOptions, TrainSummary, ValidationInfo } from './types.ts';
import { mulberry32 } from '../util/rng.ts';

export interface TrainHooks {
  onEvent?(e: TrainEvent): void;
  signal?: AbortSignal;
  /** Awaited between steps; resolves when the user resumes. */
  waitIfPaused?(): Promise<void>;
  /** Receives a checkpoint after each epoch's evaluation, every `checkpointEverySteps` steps, and when stopped. */
  onCheckpoint?(c: Checkpoint): Promise<void>;
  checkpointEverySteps?: number;
  /** Continue this run (same options, same data) from where the checkpoint left it. */
  resumeFrom?: Checkpoint;
  /** Evaluate the untrained model first (reported as epoch 0). Default true. */
  evalBeforeTraining?: boolean;
}

export interface TrainResult {
  summary: TrainSummary;
  /** Parameters of the best evaluation by `selectBy` (HF names; the base model's when epoch 0 stayed best); the last
   * parameters when nothing was evaluated. */
  best: Map<string, Float32Array>;
}

/** Training and validation examples, and optionally the validation candidate lists already built from `val`
 * (buildRerankSet; built here when absent). */
export interface TrainData {
  train: readonly TrainExample[];
  val: readonly TrainExample[];
  rerank?: RerankSet;
}

export class TrainOptionsError extends Error {
  override name = 'TrainOptionsError';
}

/** Fills defaults (AdamW weight decay 0.01, max grad norm 1.0, no accumulation, dropout = hidden_dropout_prob,
 * attention dropout = attention_probs_dropout_prob, classifier dropout = classifier_dropout ?? hidden dropout, BCE
 * pos_weight = negatives per group, no random negatives, no query cap) and checks every option against the model,
 * with an error that says what to change. */
export function resolveTrainOptions(cfg: ModelConfig, o: TrainOptions): ResolvedTrainOptions {
  const bad: string[] = [];
  const int = (v: number, name: string, min: number) => {
    if (!Number.isInteger(v) || v < min) bad.push(`${name} must be an integer ≥ ${min} (got ${v})`);
  };
  if (o.loss !== 'bce' && o.loss !== 'listwise') bad.push(`loss must be 'bce' or 'listwise' (got ${String(o.loss)})`);
  int(o.batchSize, 'batch size', 1);
  int(o.groupSize, 'group size', 2);
  int(o.epochs, 'epochs', 1);
  int(o.maxLength, 'max length', 4);
  int(o.seed, 'seed', 0);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) bad.push(`learning rate must be a positive number (got ${o.lr})`);
  if (!(o.warmupRatio >= 0 && o.warmupRatio <= 1)) bad.push(`warmup ratio must be between 0 and 1 (got ${o.warmupRatio})`);
  if (o.maxLength > cfg.maxSequenceLength) bad.push(`max length ${o.maxLength} exceeds the model's ${cfg.maxSequenceLength} positions; use at most ${cfg.maxSequenceLength}`);
  const gradAccum = o.gradAccum ?? 1;
  int(gradAccum, 'gradient accumulation', 1);
  if (gradAccum > o.batchSize) bad.push(`gradient accumulation ${gradAccum} exceeds the batch size ${o.batchSize}: each micro-batch needs at least one group`);
  const fromConfig = (key: string, fallback: number) => (typeof cfg.raw[key] === 'number' ? (cfg.raw[key] as number) : fallback);
  const dropout = o.dropout ?? fromConfig('hidden_dropout_prob', 0);
  if (!(dropout >= 0 && dropout < 1)) bad.push(`dropout must be in [0, 1) (got ${dropout})`);
  const attentionDropout = o.attentionDropout ?? fromConfig('attention_probs_dropout_prob', 0);
  if (!(attentionDropout >= 0 && attentionDropout < 1)) bad.push(`attention dropout must be in [0, 1) (got ${attentionDropout}); 0 turns it off`);
  const classifierDropout = o.classifierDropout ?? fromConfig('classifier_dropout', dropout);
  if (!(classifierDropout >= 0 && classifierDropout < 1)) bad.push(`classifier dropout must be in [0, 1) (got ${classifierDropout}); 0 turns it off`);
  if (o.posWeight != null && o.loss !== 'bce') bad.push(`pos weight applies to the bce loss only (the loss is ${o.loss}); leave it unset`);
  const posWeight = o.loss === 'bce' ? (o.posWeight ?? o.groupSize - 1) : 1;
  if (!(posWeight > 0 && Number.isFinite(posWeight))) bad.push(`pos weight must be a positive number (got ${posWeight}); 1 is plain BCE, the negatives per group (${o.groupSize - 1}) balances them`);
  const randomNegatives = o.randomNegatives ?? 0;
  if (!(randomNegatives >= 0 && randomNegatives <= 1)) bad.push(`the random-negative share must be between 0 and 1 (got ${randomNegatives}): 0 uses mined hard negatives only, 0.25 makes a quarter of each group's negatives random documents`);
  const queryMaxLength = o.queryMaxLength ?? 0;
  if (!Number.isInteger(queryMaxLength) || queryMaxLength < 0) bad.push(`query max length must be a whole number of tokens ≥ 0 (got ${queryMaxLength}); 0 means no cap`);
  else if (queryMaxLength > 0 && queryMaxLength >= o.maxLength - 2) bad.push(`query max length ${queryMaxLength} leaves no room for the document within max length ${o.maxLength}; use less than ${o.maxLength - 2}, or 0 for no cap`);
  const weightDecay = o.weightDecay ?? DEFAULT_ADAMW.weightDecay;
  if (!(weightDecay >= 0)) bad.push(`weight decay must be ≥ 0 (got ${weightDecay})`);
  const maxGradNorm = o.maxGradNorm ?? DEFAULT_ADAMW.maxGradNorm!;
  if (!(maxGradNorm > 0)) bad.push(`max grad norm must be > 0 (got ${maxGradNorm})`);
  const selectBy = o.selectBy ?? DEFAULT_SELECT_BY;
  if (!isSelectBy(selectBy)) bad.push(`the metric that picks the best epoch must be one of ${SELECT_METRICS.join(', ')} (got ${String(selectBy)})`);
  const valCandidates = o.valCandidates ?? DEFAULT_RERANK_DEPTH;
  int(valCandidates, 'BM25 candidates per validation query', 1);
  if (bad.length) throw new TrainOptionsError(`invalid training options: ${bad.join('; ')}`);
  return {
    loss: o.loss, batchSize: o.batchSize, groupSize: o.groupSize, epochs: o.epochs, lr: o.lr, warmupRatio: o.warmupRatio,
    maxLength: o.maxLength, seed: o.seed, weightDecay, maxGradNorm, gradAccum, dropout,
    attentionDropout, classifierDropout, posWeight, randomNegatives, queryMaxLength, selectBy, valCandidates,
  };
}

/** Optimizer steps per epoch and in all for `groups` training groups. */
export function stepCounts(groups: number, o: Pick<TrainOptions, 'batchSize' | 'epochs'>): { perEpoch: number; total: number } {
  const perEpoch = Math.ceil(groups / o.batchSize);
  return { perEpoch, total: perEpoch * o.epochs };
}

/** The options that differ between this run (a) and a checkpoint (b), one line each; empty when they agree. */
function optionDifferences(a: ResolvedTrainOptions, b: ResolvedTrainOptions): string[] {
  // an option the checkpoint does not record is one its version did not have: nothing to compare
  const keys = (Object.keys(a) as (keyof ResolvedTrainOptions)[]).filter((k) => k in b);
  return keys.filter((k) => a[k] !== b[k]).map((k) => `${k}: checkpoint ${String(b[k])}, now ${String(a[k])}`);
}

function isAbort(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

/** Trains `model` on `data.train`, evaluating on `data.val` after every epoch. */
export async function train(
  rt: GpuRuntime,
  model: HfModel,
  data: TrainData,
  options: TrainOptions,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const t0 = performance.now();
  const o = resolveTrainOptions(model.config, options);
  const resume = hooks.resumeFrom;
  if (resume) {
    const diff = optionDifferences(o, resume.options);
    if (diff.length) throw new TrainOptionsError(`cannot resume: the options differ from the checkpoint's (${diff.join('; ')}); resume with the same options or start a new run`);
  }
  // What this run is made of, recorded in every checkpoint and compared on resume (fingerprint.ts).
  const fingerprint = runFingerprint(model, data, o);
  const mismatch = resume?.fingerprint ? fingerprintMismatch(resume.fingerprint, fingerprint) : [];
  if (mismatch.length) throw new TrainOptionsError(`cannot resume: ${mismatch.join('; ')}; resume with the same data and model, or start a new run`);
  const emit = (e: TrainEvent) => hooks.onEvent?.(e);
  const validation = await setUpValidation(model, data, o, hooks, emit);
  const plan = planEpochs(data.train, o, resume, emit);
  return new TrainingRun(rt, model, data, o, hooks, emit, fingerprint, validation, plan, t0).run();
}

type Emit = (e: TrainEvent) => void;

const warning = (emit: Emit, kind: 'overfitting' | 'collapse' | 'other', message: string) => emit({ type: 'warning', kind, message });

/** The fixed validation material of a run (see the header): loss batches, ranking lists, the metric that selects. */
interface ValidationSetup {
  batches: ValBatch[];
  rerank?: RerankSet;
  hasRanking: boolean;
  selectBy: SelectBy;
  /** What the 'validation' event said (undefined without validation). */
  info?: ValidationInfo;
}

/**
 * Validation setup: loss groups (seeded once, topped up from validation documents only) tokenised into micro-batches,
 * the realistic ranking lists (built here unless the caller built them), and the metric that picks the best epoch —
 * validation loss where there is nothing to rank, or for a checkpoint written before selection by metric.
 */
async function setUpValidation(model: HfModel, data: TrainData, o: ResolvedTrainOptions, hooks: TrainHooks, emit: Emit): Promise<ValidationSetup> {
  const warn = (message: string) => warning(emit, 'other', message);
  const resume = hooks.resumeFrom;
  const valPlan = data.val.length
    ? buildGroups(data.val, o.groupSize, mulberry32(mixSeed(o.seed, STREAM.val)), documentPool(data.val), 0, { skipUnfillable: true })
    : undefined;
  const groups: Group[] = valPlan?.groups ?? [];
  const batches = tokeniseGroups(model.tokenizer, groups, o.maxLength, microGroupsOf(o), o.queryMaxLength);
  const unfillable = valPlan?.stats.unfillable ?? 0;
  if (unfillable) {
    warn(`${unfillable} of ${data.val.length} validation example(s) cannot fill a group of ${o.groupSize} from validation documents alone: they are left out of the validation loss (they still count in the ranking metrics); a smaller group size or more validation data would include them`);
  }
  const rerank = data.rerank ?? (data.val.length
    ? await buildRerankSet(data.val, { depth: o.valCandidates, signal: hooks.signal, onProgress: (p) => emit({ type: 'progress', stage: p.stage, done: p.done, total: p.total }) })
    : undefined);
  const hasRanking = !!rerank && rerank.lists.length > 0;
  // A checkpoint written before best-epoch selection by metric chose by validation loss: keep choosing the same way.
  let selectBy = resume && !('selectBy' in resume.options) ? 'loss' : o.selectBy;
  if (selectBy !== 'loss' && !hasRanking && groups.length) {
    warn(`no validation query has a candidate list: the best epoch is chosen by validation loss instead of ${selectBy}`);
    selectBy = 'loss';
  }
  if (!groups.length && !hasRanking) warn('no validation examples: validation is not measured and the last epoch counts as the best');
  const cut = batches.reduce<Truncation>((t, b) => addTruncation(t, b.tokens), { pairs: 0, documents: 0, queries: 0 });
  if (cut.documents) warn(truncationMessage('validation', cut, o.maxLength));
  const info: ValidationInfo | undefined = rerank && (groups.length || hasRanking)
    ? {
        queries: rerank.lists.length, documents: rerank.corpus, depth: rerank.depth, positivesRetrieved: rerank.positivesRetrieved,
        lossGroups: groups.length, lossGroupsSkipped: unfillable, bm25: rerank.bm25, selectBy,
      }
    : undefined;
  if (info) emit({ type: 'validation', ...info });
  return { batches, rerank, hasRanking, selectBy, info };
}

/** Groups per micro-batch: a step's groups split over gradAccum micro-batches (validation uses the same size). */
const microGroupsOf = (o: ResolvedTrainOptions) => Math.ceil(o.batchSize / o.gradAccum);

/** The run's plan: epoch 0's groups (every epoch has as many), the step count and the warmup. */
interface EpochPlan {
  pool: ReturnType<typeof documentPool>;
  firstPlan: ReturnType<typeof epochGroups>;
  totalSteps: number;
  warmupSteps: number;
}

/** Plans the epochs and says what the training data lacks; a resumed run must have the checkpoint's step count. */
function planEpochs(train: readonly TrainExample[], o: ResolvedTrainOptions, resume: Checkpoint | undefined, emit: Emit): EpochPlan {
  const pool = documentPool(train);
  const firstPlan = epochGroups(train, o.groupSize, o.seed, 0, pool, o.randomNegatives);
  const nGroups = firstPlan.groups.length;
  if (nGroups === 0) throw new TrainOptionsError(`none of the ${train.length} training examples has a positive document: nothing to train on`);
  const s: GroupStats = firstPlan.stats;
  if (!resume && s.noPositive) warning(emit, 'other', `${s.noPositive} training example(s) have no positive document and are skipped`);
  if (!resume && s.toppedUp) warning(emit, 'other', `${s.toppedUp} of ${nGroups} training example(s) have fewer than ${o.groupSize - 1} negatives: their groups are topped up with random documents of other examples`);
  const { total: totalSteps } = stepCounts(nGroups, o);
  const warmupSteps = warmupStepsFromRatio(o.warmupRatio, totalSteps);
  if (resume && resume.totalSteps !== totalSteps) {
    throw new TrainOptionsError(`cannot resume: the checkpoint's run has ${resume.totalSteps} steps but this data gives ${totalSteps}; resume with the same training data or start a new run`);
  }
  return { pool, firstPlan, totalSteps, warmupSteps };
}

type StepFigures = { loss: number; applied: boolean; gradNorm: number };

/**
 * One run from its plan to its result: the state a checkpoint holds (restored when resuming), the GPU model and
 * optimizer, and the parts of the loop — train an epoch, evaluate, checkpoint, report — as methods on that state.
 */
class TrainingRun {
  // the position and history a checkpoint holds
  private step: number;
  private epoch: number;
  private nextBatch: number;
  private readonly valHistory: ValRecord[];
  private best: Checkpoint['best'];
  private skippedSteps: number;
  private readonly priorSeconds: number;
  // this session
  private pausedMs = 0;
  private lastCheckpointStep = -1;
  private readonly trainCut: Truncation = { pairs: 0, documents: 0, queries: 0 };
  private readonly resume: Checkpoint | undefined;
  private readonly selectBy: SelectBy;
  private gm!: GpuModel;
  private opt: AdamW | undefined;
  // throughput, and the pipelined steps' reporting (see recordStep)
  private pairsDone = 0;
  private stepsDone = 0;
  private stepSeconds = 0;
  private lastReported = 0;
  private reported: Promise<void> = Promise.resolve();
  private epochSteps = 0;
  private epochSkipped = 0;

  constructor(
    private readonly rt: GpuRuntime,
    private readonly model: HfModel,
    private readonly data: TrainData,
    private readonly o: ResolvedTrainOptions,
    private readonly hooks: TrainHooks,
    private readonly emit: Emit,
    private readonly fingerprint: ReturnType<typeof runFingerprint>,
    private readonly val: ValidationSetup,
    private readonly plan: EpochPlan,
    private readonly t0: number,
  ) {
    const resume = (this.resume = hooks.resumeFrom);
    this.selectBy = val.selectBy;
    this.step = resume?.step ?? 0;
    this.epoch = resume?.epoch ?? 0;
    this.nextBatch = resume?.nextBatch ?? 0;
    this.valHistory = resume ? [...resume.valHistory] : [];
    let best: Checkpoint['best'] = resume ? { ...resume.best } : { epoch: 0, valLoss: NaN, metric: this.selectBy, value: NaN };
    if (best.value === undefined) best = { ...best, metric: 'loss', value: best.params ? best.valLoss : NaN };
    this.best = best;
    this.skippedSteps = resume?.skippedSteps ?? 0;
    this.priorSeconds = resume?.seconds ?? 0;
  }

  private warn(kind: 'overfitting' | 'collapse' | 'other', message: string): void {
    warning(this.emit, kind, message);
  }

  private activeSeconds(): number {
    return (performance.now() - this.t0 - this.pausedMs) / 1000;
  }

  /** Evaluates the base model (epoch 0), trains epoch after epoch, and returns the best parameters. */
  async run(): Promise<TrainResult> {
    const { o, resume } = this;
    this.gm = await GpuModel.create(this.rt, this.model.config, resume ? resume.params : this.model.params);
    // One workspace for the largest micro-batch (training and validation alike), whatever lengths batches pad to.
    await this.gm.reserve(microGroupsOf(o) * o.groupSize, o.maxLength);
    try {
      this.opt = await this.gm.optimizer({ weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm });
      if (resume) {
        writeOptimizerState(this.rt, this.gm.params, 'm', resume.m);
        writeOptimizerState(this.rt, this.gm.params, 'v', resume.v);
        this.opt.step = resume.adamStep;
      }
      if (!resume && (this.hooks.evalBeforeTraining ?? true) && !(await this.evaluate(0))) return await this.finish('stopped');
      // (epoch, nextBatch) is the position of the next step; nextBatch = steps in the epoch means its evaluation is due.
      while (this.epoch < o.epochs) {
        if (!(await this.trainEpoch()) || !(await this.endEpoch())) {
          await this.checkpoint();
          return await this.finish('stopped');
        }
      }
      return await this.finish('finished');
    } finally {
      this.opt?.release();
      this.gm.release();
    }
  }

  /** After an epoch's steps: its warnings, its evaluation and a checkpoint; false when cancelled meanwhile. */
  private async endEpoch(): Promise<boolean> {
    const { o } = this;
    if (this.epoch === (this.resume?.epoch ?? 0) && this.trainCut.documents) this.warn('other', truncationMessage('training', this.trainCut, o.maxLength));
    if (this.epochSteps > 0 && this.epochSkipped === this.epochSteps) {
      this.warn('other', `every update of epoch ${this.epoch + 1} was skipped (NaN/Inf gradients): lower the learning rate, or check the model's weights`);
    }
    if (!(await this.evaluate(this.epoch + 1))) return false;
    this.epoch++;
    this.nextBatch = 0;
    await this.checkpoint();
    return true;
  }

  /** The remaining steps of the current epoch; false when cancelled. Every step is reported when it returns. */
  private async trainEpoch(): Promise<boolean> {
    const { o, data, plan, hooks } = this;
    const groups = this.epoch === 0 ? plan.firstPlan : epochGroups(data.train, o.groupSize, o.seed, this.epoch, plan.pool, o.randomNegatives);
    const steps = stepsOf(groups.groups, o.batchSize);
    this.epochSteps = 0;
    this.epochSkipped = 0;
    let stopped = false;
    while (this.nextBatch < steps.length) {
      if (hooks.waitIfPaused && !hooks.signal?.aborted) {
        const p0 = performance.now();
        await hooks.waitIfPaused();
        this.pausedMs += performance.now() - p0;
      }
      if (hooks.signal?.aborted) {
        stopped = true;
        break;
      }
      const s0 = performance.now();
      const lr = lrAt(this.step, { baseLr: o.lr, warmupSteps: plan.warmupSteps, totalSteps: plan.totalSteps });
      const r = await this.recordStep(steps[this.nextBatch]);
      this.step++;
      this.nextBatch++;
      this.epochSteps++;
      const at = { step: this.step, lr, s0, pairs: r.pairs };
      // A step's figures are read while the next step is being recorded (the GPU never waits for the CPU);
      // `reported` settles once every recorded step has been reported, in order.
      const previous = this.reported;
      this.reported = previous.then(() => r.figures).then((f) => this.reportStep(at, f));
      this.reported.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
      await previous; // at most one step in flight while this one runs
      if (hooks.checkpointEverySteps && this.step % hooks.checkpointEverySteps === 0 && this.nextBatch < steps.length) {
        await this.reported;
        await this.checkpoint();
      }
    }
    await this.reported;
    return !stopped;
  }

  /**
   * Records one optimizer step over `groups` (micro-batches add their scaled gradients, then AdamW) without waiting
   * for the GPU: its loss and update report come as a promise, which the loop reads a step later.
   */
  private async recordStep(groups: Group[]): Promise<{ pairs: number; figures: Promise<StepFigures> }> {
    const { o, plan } = this;
    const losses: Promise<number>[] = [];
    let pairs = 0;
    for (const [k, mb] of microBatches(groups, o.gradAccum).entries()) {
      const p = pairsOf(mb);
      const tokens = this.model.tokenizer.encodePairs(p.queries, p.docs, { maxLength: o.maxLength, queryMaxLength: o.queryMaxLength });
      addTruncation(this.trainCut, tokens);
      const share = mb.length / groups.length; // the step's loss is the mean over all its groups
      const r = await this.gm.recordStep(tokens, {
        loss: o.loss, labels: p.labels, groupSize: o.groupSize, dropout: o.dropout, attentionDropout: o.attentionDropout,
        classifierDropout: o.classifierDropout, posWeight: o.posWeight,
        seed: mixSeed(o.seed, STREAM.dropout, this.step, k), gradScale: share, readLogits: false,
      });
      losses.push(r.loss.then((l) => l * share));
      pairs += tokens.batch;
    }
    const { report } = await this.opt!.record(lrAt(this.step, { baseLr: o.lr, warmupSteps: plan.warmupSteps, totalSteps: plan.totalSteps }));
    const figures = Promise.all([Promise.all(losses), report]).then(([ls, rep]) => ({ loss: ls.reduce((a, b) => a + b, 0), ...rep }));
    figures.catch(() => undefined); // read by the loop a step later; a failure meanwhile is not an unhandled one
    return { pairs, figures };
  }

  /** A step's figures, a step late: the 'step' event (throughput, ETA) and a 'skipped' one for a NaN/Inf update. */
  private reportStep(at: { step: number; lr: number; s0: number; pairs: number }, r: StepFigures): void {
    if (!r.applied) {
      this.skippedSteps++;
      this.epochSkipped++;
      this.emit({ type: 'skipped', step: at.step, reason: `the gradient norm is ${r.gradNorm} (NaN/Inf gradients): the update was skipped, weights and AdamW state are unchanged` });
    }
    const now = performance.now();
    this.stepSeconds += (now - Math.max(at.s0, this.lastReported)) / 1000; // steps overlap: count each moment once
    this.lastReported = now;
    this.stepsDone++;
    this.pairsDone += at.pairs;
    const totalSteps = this.plan.totalSteps;
    this.emit({
      type: 'step', step: at.step, totalSteps, epoch: this.epoch + 1, loss: r.loss, lr: at.lr,
      pairsPerSec: this.pairsDone / Math.max(this.stepSeconds, 1e-9),
      etaSeconds: (this.stepSeconds / this.stepsDone) * (totalSteps - at.step),
    });
  }

  /** Evaluates (epoch 0 = before training), keeps the best parameters, warns; false when cancelled meanwhile. */
  private async evaluate(label: number): Promise<boolean> {
    const { o, val, gm, selectBy } = this;
    if (!val.batches.length && !val.hasRanking) return true;
    let v;
    let ranking;
    try {
      v = await evaluateGroups(gm, val.batches, { loss: o.loss, groupSize: o.groupSize, posWeight: o.posWeight, signal: this.hooks.signal });
      if (val.hasRanking) {
        ranking = (await evaluateRanking(gm, this.model.tokenizer, val.rerank!, {
          maxLength: o.maxLength, queryMaxLength: o.queryMaxLength, batchPairs: microGroupsOf(o) * o.groupSize, signal: this.hooks.signal,
          onProgress: (p) => this.emit({ type: 'progress', stage: p.stage, done: p.done, total: p.total }),
        })).metrics;
      }
    } catch (e) {
      if (isAbort(e)) return false;
      throw e;
    }
    // Broken weights (NaN/Inf, or so large that f32 overflows) can still give finite scores — WGSL may assume finite
    // math — and a validation loss of 0 would then be a lie: check the weights themselves. Such an epoch never wins.
    const current = await gm.params.read('p');
    const broken = firstNonFinite(current);
    if (broken) (v = { ...v, loss: NaN, meanGap: NaN, mrr: NaN }), (ranking = undefined);
    const value = selectValue(selectBy, { loss: v.loss, ranking });
    const figures: EvalFigures = { epoch: label, step: this.step, valLoss: v.loss, meanGap: v.meanGap, mrr: v.mrr, ranking, bm25: val.rerank?.bm25, selectBy, value };
    this.valHistory.push({ epoch: label, loss: v.loss, scoreStd: v.scoreStd, figures });
    const improved = beats(selectBy, { value, loss: v.loss }, { value: this.best.value ?? NaN, loss: this.best.valLoss });
    if (improved) {
      // epoch 0 is the base model: its weights are the loaded ones
      this.best = { epoch: label, valLoss: v.loss, metric: selectBy, value, params: label === 0 && !this.resume ? this.model.params : current };
    }
    this.emit({ type: 'eval', ...figures, best: improved });
    this.warnAfterEvaluation(label, v, broken ? describeNonFinite(broken) : undefined);
    return true;
  }

  /** What an evaluation says about the run: over-fitting, collapse, broken weights. */
  private warnAfterEvaluation(label: number, v: { loss: number; scoreStd: number }, broken: string | undefined): void {
    const { o, val } = this;
    const h = this.valHistory.map((r) => r.loss);
    const n = h.length;
    // A rise counts when it is more than 0.1% (not f32 noise on a flat curve).
    const rose = (a: number, b: number) => b > a + 1e-3 * Math.abs(a);
    if (label > 0 && n >= 3 && rose(h[n - 2], h[n - 1]) && rose(h[n - 3], h[n - 2])) {
      this.warn('overfitting', `validation loss rose for 2 epochs in a row (${h.slice(-3).map((x) => x.toFixed(4)).join(' → ')}): the model may be over-fitting; the best epoch by ${this.selectBy} (${this.best.epoch}) is kept — fewer epochs, a lower learning rate or more data would help`);
    }
    // A fresh classifier head scores everything alike too: only a spread that training destroyed is a collapse.
    const baseline = this.valHistory[0]?.epoch === 0 ? this.valHistory[0].scoreStd : undefined;
    if (label > 0 && val.batches.length && v.scoreStd < 1e-4 && !(baseline !== undefined && baseline < 1e-4)) {
      this.warn('collapse', `every validation score is the same value (std ${v.scoreStd.toExponential(1)}): the model collapsed — the learning rate (${o.lr}) is probably too high`);
    }
    if (broken) this.warn('other', `validation loss is NaN: the weights are broken after epoch ${label} (${broken}); the learning rate (${o.lr}) is far too high`);
    else if (val.batches.length && !Number.isFinite(v.loss)) this.warn('other', `validation loss is ${v.loss}: the model's scores hold NaN/Inf`);
  }

  /** Everything needed to continue exactly (see checkpoint.ts). */
  private async snapshot(): Promise<Checkpoint> {
    const { o, gm } = this;
    return {
      version: 1,
      step: this.step,
      totalSteps: this.plan.totalSteps,
      epoch: this.epoch,
      nextBatch: this.nextBatch,
      adamStep: this.opt!.step,
      rng: { seed: o.seed, epoch: this.epoch, nextBatch: this.nextBatch },
      options: o,
      valHistory: [...this.valHistory],
      best: { ...this.best },
      skippedSteps: this.skippedSteps,
      seconds: this.priorSeconds + this.activeSeconds(),
      params: await gm.params.read('p'),
      m: await gm.params.read('m'),
      v: await gm.params.read('v'),
      fingerprint: this.fingerprint,
    };
  }

  /** Hands a checkpoint to the caller (once per step). */
  private async checkpoint(): Promise<void> {
    if (!this.hooks.onCheckpoint || this.lastCheckpointStep === this.step) return;
    const c = await this.snapshot();
    await this.hooks.onCheckpoint(c);
    this.lastCheckpointStep = this.step;
    this.emit({ type: 'checkpoint', step: this.step, bytes: checkpointBytes(c) });
  }

  /** The run's report: the summary, and the parameters to keep (the best evaluation's, else the last). */
  private async finish(stopped: TrainSummary['stopped']): Promise<TrainResult> {
    const { best, valHistory, selectBy } = this;
    // Stopped before the first fine-tuned epoch was evaluated: only the base model was, and the steps since are
    // unjudged; the user stopped to keep them, so the last weights are kept, as when nothing was evaluated.
    const evaluated = best.params !== undefined && (best.epoch > 0 || valHistory.some((r) => r.epoch > 0));
    const keptBase = evaluated && best.epoch === 0;
    if (keptBase) {
      const tuned = valHistory.filter((r) => r.epoch > 0 && r.figures).map((r) => r.figures!);
      const top = tuned.reduce<EvalFigures | undefined>((a, f) => (!a || beats(selectBy, { value: f.value, loss: f.valLoss }, { value: a.value, loss: a.valLoss }) ? f : a), undefined);
      this.warn('other', `no fine-tuned epoch beat the base model on ${formatSelect(selectBy, best.value ?? NaN)} (epoch 0)${top ? `; the best fine-tuned epoch, ${top.epoch}, reached ${formatSelect(selectBy, top.value)}` : ''}: the base model's weights are kept — try a lower learning rate, fewer epochs or more data`);
    }
    return {
      summary: {
        steps: this.step,
        epochs: this.epoch,
        bestEpoch: evaluated ? best.epoch : this.epoch,
        bestValLoss: evaluated ? best.valLoss : NaN,
        stopped,
        seconds: this.priorSeconds + this.activeSeconds(),
        totalSteps: this.plan.totalSteps,
        skippedSteps: this.skippedSteps,
        valLosses: valHistory.map((r) => ({ epoch: r.epoch, loss: r.loss })),
        selectBy,
        bestValue: evaluated ? best.value : undefined,
        keptBase,
        evals: valHistory.flatMap((r) => (r.figures ? [r.figures] : [])),
        validation: this.val.info,
        options: this.o,
        truncation: { ...this.trainCut },
      },
      best: evaluated ? best.params! : await this.gm.params.read('p'),
    };
  }
}
