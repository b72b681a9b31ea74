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

import type { GpuRuntime } from '../gpu/runtime.ts';
import type { ModelConfig } from '../model/config.ts';
import type { HfModel } from '../model/hf-folder.ts';
import { type Group, type GroupStats, STREAM, documentPool, buildGroups, epochGroups, microBatches, mixSeed, pairsOf, stepsOf } from './batches.ts';
import { type Checkpoint, type ResolvedTrainOptions, type ValRecord, checkpointBytes, writeOptimizerState } from './checkpoint.ts';
import { type ValBatch, evaluateGroups, tokeniseGroups } from './evaluate-loss.ts';
import { evaluateRanking } from './evaluate-ranking.ts';
import { DEFAULT_RERANK_DEPTH, type RerankSet, buildRerankSet } from '../eval/candidates.ts';
import { DEFAULT_SELECT_BY, SELECT_METRICS, beats, formatSelect, isSelectBy, selectValue } from '../eval/ranking.ts';
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
  const emit = (e: TrainEvent) => hooks.onEvent?.(e);
  const warn = (kind: 'overfitting' | 'collapse' | 'other', message: string) => emit({ type: 'warning', kind, message });
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
  const tokenizer = model.tokenizer;
  const pool = documentPool(data.train);

  // Validation loss groups: fixed for the whole run (seeded once), topped up from validation documents only.
  const valPlan = data.val.length
    ? buildGroups(data.val, o.groupSize, mulberry32(mixSeed(o.seed, STREAM.val)), documentPool(data.val), 0, { skipUnfillable: true })
    : undefined;
  const valGroups: Group[] = valPlan?.groups ?? [];
  const microGroups = Math.ceil(o.batchSize / o.gradAccum);
  const valBatches: ValBatch[] = tokeniseGroups(tokenizer, valGroups, o.maxLength, microGroups, o.queryMaxLength);
  const unfillable = valPlan?.stats.unfillable ?? 0;
  if (unfillable) {
    warn('other', `${unfillable} of ${data.val.length} validation example(s) cannot fill a group of ${o.groupSize} from validation documents alone: they are left out of the validation loss (they still count in the ranking metrics); a smaller group size or more validation data would include them`);
  }
  // Realistic ranking lists: built once (here, unless the caller built them), scored after every evaluation.
  const rerank = data.rerank ?? (data.val.length
    ? await buildRerankSet(data.val, { depth: o.valCandidates, signal: hooks.signal, onProgress: (p) => emit({ type: 'progress', stage: p.stage, done: p.done, total: p.total }) })
    : undefined);
  const hasRanking = !!rerank && rerank.lists.length > 0;
  // A checkpoint written before best-epoch selection by metric chose by validation loss: keep choosing the same way.
  let selectBy = resume && !('selectBy' in resume.options) ? 'loss' : o.selectBy;
  if (selectBy !== 'loss' && !hasRanking && valGroups.length) {
    warn('other', `no validation query has a candidate list: the best epoch is chosen by validation loss instead of ${selectBy}`);
    selectBy = 'loss';
  }
  if (!valGroups.length && !hasRanking) warn('other', 'no validation examples: validation is not measured and the last epoch counts as the best');
  const valCut = valBatches.reduce<Truncation>((t, b) => addTruncation(t, b.tokens), { pairs: 0, documents: 0, queries: 0 });
  if (valCut.documents) warn('other', truncationMessage('validation', valCut, o.maxLength));
  const trainCut: Truncation = { pairs: 0, documents: 0, queries: 0 };
  const validation: ValidationInfo | undefined = rerank && (valGroups.length || hasRanking)
    ? {
        queries: rerank.lists.length, documents: rerank.corpus, depth: rerank.depth, positivesRetrieved: rerank.positivesRetrieved,
        lossGroups: valGroups.length, lossGroupsSkipped: unfillable, bm25: rerank.bm25, selectBy,
      }
    : undefined;
  if (validation) emit({ type: 'validation', ...validation });

  // Groups per epoch are the same count every epoch (one per example with a positive).
  const firstPlan = epochGroups(data.train, o.groupSize, o.seed, 0, pool, o.randomNegatives);
  const nGroups = firstPlan.groups.length;
  if (nGroups === 0) throw new TrainOptionsError(`none of the ${data.train.length} training examples has a positive document: nothing to train on`);
  const reportStats = (s: GroupStats) => {
    if (s.noPositive) warn('other', `${s.noPositive} training example(s) have no positive document and are skipped`);
    if (s.toppedUp) warn('other', `${s.toppedUp} of ${nGroups} training example(s) have fewer than ${o.groupSize - 1} negatives: their groups are topped up with random documents of other examples`);
  };
  if (!resume) reportStats(firstPlan.stats);
  const { total: totalSteps } = stepCounts(nGroups, o);
  const warmupSteps = warmupStepsFromRatio(o.warmupRatio, totalSteps);
  if (resume && resume.totalSteps !== totalSteps) {
    throw new TrainOptionsError(`cannot resume: the checkpoint's run has ${resume.totalSteps} steps but this data gives ${totalSteps}; resume with the same training data or start a new run`);
  }

  // Run state (restored from the checkpoint when resuming).
  let step = resume?.step ?? 0;
  let epoch = resume?.epoch ?? 0;
  let nextBatch = resume?.nextBatch ?? 0;
  const valHistory: ValRecord[] = resume ? [...resume.valHistory] : [];
  let best: Checkpoint['best'] = resume ? { ...resume.best } : { epoch: 0, valLoss: NaN, metric: selectBy, value: NaN };
  if (best.value === undefined) best = { ...best, metric: 'loss', value: best.params ? best.valLoss : NaN };
  let skippedSteps = resume?.skippedSteps ?? 0;
  const priorSeconds = resume?.seconds ?? 0;
  let pausedMs = 0;
  const activeSeconds = () => (performance.now() - t0 - pausedMs) / 1000;

  const gm = await GpuModel.create(rt, model.config, resume ? resume.params : model.params);
  // One workspace for the largest micro-batch (training and validation alike), whatever lengths batches pad to.
  await gm.reserve(microGroups * o.groupSize, o.maxLength);
  let opt: AdamW | undefined;

  const snapshot = async (): Promise<Checkpoint> => ({
    version: 1,
    step,
    totalSteps,
    epoch,
    nextBatch,
    adamStep: opt!.step,
    rng: { seed: o.seed, epoch, nextBatch },
    options: o,
    valHistory: [...valHistory],
    best: { ...best },
    skippedSteps,
    seconds: priorSeconds + activeSeconds(),
    params: await gm.params.read('p'),
    m: await gm.params.read('m'),
    v: await gm.params.read('v'),
    fingerprint,
  });
  let lastCheckpointStep = -1;
  const checkpoint = async () => {
    if (!hooks.onCheckpoint || lastCheckpointStep === step) return;
    const c = await snapshot();
    await hooks.onCheckpoint(c);
    lastCheckpointStep = step;
    emit({ type: 'checkpoint', step, bytes: checkpointBytes(c) });
  };

  /** Evaluates (epoch 0 = before training), keeps the best parameters, warns; false when cancelled meanwhile. */
  const evaluate = async (label: number): Promise<boolean> => {
    if (!valBatches.length && !hasRanking) return true;
    let v;
    let ranking;
    try {
      v = await evaluateGroups(gm, valBatches, { loss: o.loss, groupSize: o.groupSize, posWeight: o.posWeight, signal: hooks.signal });
      if (hasRanking) {
        ranking = (await evaluateRanking(gm, tokenizer, rerank!, {
          maxLength: o.maxLength, queryMaxLength: o.queryMaxLength, batchPairs: microGroups * o.groupSize, signal: hooks.signal,
          onProgress: (p) => emit({ type: 'progress', stage: p.stage, done: p.done, total: p.total }),
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
    const figures: EvalFigures = { epoch: label, step, valLoss: v.loss, meanGap: v.meanGap, mrr: v.mrr, ranking, bm25: rerank?.bm25, selectBy, value };
    valHistory.push({ epoch: label, loss: v.loss, scoreStd: v.scoreStd, figures });
    const improved = beats(selectBy, { value, loss: v.loss }, { value: best.value ?? NaN, loss: best.valLoss });
    if (improved) {
      // epoch 0 is the base model: its weights are the loaded ones
      best = { epoch: label, valLoss: v.loss, metric: selectBy, value, params: label === 0 && !resume ? model.params : current };
    }
    emit({ type: 'eval', ...figures, best: improved });
    const h = valHistory.map((r) => r.loss);
    const n = h.length;
    // A rise counts when it is more than 0.1% (not f32 noise on a flat curve).
    const rose = (a: number, b: number) => b > a + 1e-3 * Math.abs(a);
    if (label > 0 && n >= 3 && rose(h[n - 2], h[n - 1]) && rose(h[n - 3], h[n - 2])) {
      warn('overfitting', `validation loss rose for 2 epochs in a row (${h.slice(-3).map((x) => x.toFixed(4)).join(' → ')}): the model may be over-fitting; the best epoch by ${selectBy} (${best.epoch}) is kept — fewer epochs, a lower learning rate or more data would help`);
    }
    // A fresh classifier head scores everything alike too: only a spread that training destroyed is a collapse.
    const baseline = valHistory[0]?.epoch === 0 ? valHistory[0].scoreStd : undefined;
    if (label > 0 && valBatches.length && v.scoreStd < 1e-4 && !(baseline !== undefined && baseline < 1e-4)) {
      warn('collapse', `every validation score is the same value (std ${v.scoreStd.toExponential(1)}): the model collapsed — the learning rate (${o.lr}) is probably too high`);
    }
    if (broken) warn('other', `validation loss is NaN: the weights are broken after epoch ${label} (${describeNonFinite(broken)}); the learning rate (${o.lr}) is far too high`);
    else if (valBatches.length && !Number.isFinite(v.loss)) warn('other', `validation loss is ${v.loss}: the model's scores hold NaN/Inf`);
    return true;
  };

  const finish = async (stopped: TrainSummary['stopped']): Promise<TrainResult> => {
    // Stopped before the first fine-tuned epoch was evaluated: only the base model was, and the steps since are
    // unjudged; the user stopped to keep them, so the last weights are kept, as when nothing was evaluated.
    const evaluated = best.params !== undefined && (best.epoch > 0 || valHistory.some((r) => r.epoch > 0));
    const keptBase = evaluated && best.epoch === 0;
    if (keptBase) {
      const tuned = valHistory.filter((r) => r.epoch > 0 && r.figures).map((r) => r.figures!);
      const top = tuned.reduce<EvalFigures | undefined>((a, f) => (!a || beats(selectBy, { value: f.value, loss: f.valLoss }, { value: a.value, loss: a.valLoss }) ? f : a), undefined);
      warn('other', `no fine-tuned epoch beat the base model on ${formatSelect(selectBy, best.value ?? NaN)} (epoch 0)${top ? `; the best fine-tuned epoch, ${top.epoch}, reached ${formatSelect(selectBy, top.value)}` : ''}: the base model's weights are kept — try a lower learning rate, fewer epochs or more data`);
    }
    return {
      summary: {
        steps: step,
        epochs: epoch,
        bestEpoch: evaluated ? best.epoch : epoch,
        bestValLoss: evaluated ? best.valLoss : NaN,
        stopped,
        seconds: priorSeconds + activeSeconds(),
        totalSteps,
        skippedSteps,
        valLosses: valHistory.map((r) => ({ epoch: r.epoch, loss: r.loss })),
        selectBy,
        bestValue: evaluated ? best.value : undefined,
        keptBase,
        evals: valHistory.flatMap((r) => (r.figures ? [r.figures] : [])),
        validation,
        options: o,
        truncation: { ...trainCut },
      },
      best: evaluated ? best.params! : await gm.params.read('p'),
    };
  };

  /**
   * Records one optimizer step over `groups` (micro-batches add their scaled gradients, then AdamW) without waiting
   * for the GPU: its loss and update report come as a promise, which the loop reads a step late.
   */
  const recordStep = async (groups: Group[]): Promise<{ pairs: number; figures: Promise<{ loss: number; applied: boolean; gradNorm: number }> }> => {
    const losses: Promise<number>[] = [];
    let pairs = 0;
    for (const [k, mb] of microBatches(groups, o.gradAccum).entries()) {
      const p = pairsOf(mb);
      const tokens = tokenizer.encodePairs(p.queries, p.docs, { maxLength: o.maxLength, queryMaxLength: o.queryMaxLength });
      addTruncation(trainCut, tokens);
      const share = mb.length / groups.length; // the step's loss is the mean over all its groups
      const r = await gm.recordStep(tokens, {
        loss: o.loss, labels: p.labels, groupSize: o.groupSize, dropout: o.dropout, attentionDropout: o.attentionDropout,
        classifierDropout: o.classifierDropout, posWeight: o.posWeight,
        seed: mixSeed(o.seed, STREAM.dropout, step, k), gradScale: share, readLogits: false,
      });
      losses.push(r.loss.then((l) => l * share));
      pairs += tokens.batch;
    }
    const { report } = await opt!.record(lrAt(step, { baseLr: o.lr, warmupSteps, totalSteps }));
    const figures = Promise.all([Promise.all(losses), report]).then(([ls, rep]) => ({ loss: ls.reduce((a, b) => a + b, 0), ...rep }));
    figures.catch(() => undefined); // read by the loop a step later; a failure meanwhile is not an unhandled one
    return { pairs, figures };
  };

  try {
    opt = await gm.optimizer({ weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm });
    if (resume) {
      writeOptimizerState(rt, gm.params, 'm', resume.m);
      writeOptimizerState(rt, gm.params, 'v', resume.v);
      opt.step = resume.adamStep;
    }
    if (!resume && (hooks.evalBeforeTraining ?? true) && !(await evaluate(0))) return await finish('stopped');

    let pairsDone = 0;
    let stepsDone = 0;
    let stepSeconds = 0;
    let lastReported = 0;
    let stopped = false;
    // A step's figures are read while the next step is being recorded (the GPU never waits for the CPU); `reported`
    // settles once every recorded step has been reported, in order. Checkpoints and epoch ends wait for it.
    let reported: Promise<void> = Promise.resolve();
    // (epoch, nextBatch) is the position of the next step; nextBatch = steps in the epoch means its evaluation is due.
    while (epoch < o.epochs) {
      const plan = epoch === 0 ? firstPlan : epochGroups(data.train, o.groupSize, o.seed, epoch, pool, o.randomNegatives);
      const steps = stepsOf(plan.groups, o.batchSize);
      let stepsThisEpoch = 0;
      let skippedThisEpoch = 0;
      const report = (at: { step: number; lr: number; s0: number; pairs: number }, r: { loss: number; applied: boolean; gradNorm: number }) => {
        if (!r.applied) {
          skippedSteps++;
          skippedThisEpoch++;
          emit({ type: 'skipped', step: at.step, reason: `the gradient norm is ${r.gradNorm} (NaN/Inf gradients): the update was skipped, weights and AdamW state are unchanged` });
        }
        const now = performance.now();
        stepSeconds += (now - Math.max(at.s0, lastReported)) / 1000; // steps overlap: count each moment once
        lastReported = now;
        stepsDone++;
        pairsDone += at.pairs;
        emit({
          type: 'step', step: at.step, totalSteps, epoch: epoch + 1, loss: r.loss, lr: at.lr,
          pairsPerSec: pairsDone / Math.max(stepSeconds, 1e-9),
          etaSeconds: (stepSeconds / stepsDone) * (totalSteps - at.step),
        });
      };
      while (nextBatch < steps.length && !stopped) {
        if (hooks.waitIfPaused && !hooks.signal?.aborted) {
          const p0 = performance.now();
          await hooks.waitIfPaused();
          pausedMs += performance.now() - p0;
        }
        if (hooks.signal?.aborted) {
          stopped = true;
          break;
        }
        const s0 = performance.now();
        const lr = lrAt(step, { baseLr: o.lr, warmupSteps, totalSteps });
        const r = await recordStep(steps[nextBatch]);
        step++;
        nextBatch++;
        stepsThisEpoch++;
        const at = { step, lr, s0, pairs: r.pairs };
        const previous = reported;
        reported = previous.then(() => r.figures).then((f) => report(at, f));
        reported.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
        await previous; // at most one step in flight while this one runs
        if (hooks.checkpointEverySteps && step % hooks.checkpointEverySteps === 0 && nextBatch < steps.length) {
          await reported;
          await checkpoint();
        }
      }
      await reported;
      if (stopped) break;
      if (epoch === (resume?.epoch ?? 0) && trainCut.documents) warn('other', truncationMessage('training', trainCut, o.maxLength));
      if (stepsThisEpoch > 0 && skippedThisEpoch === stepsThisEpoch) {
        warn('other', `every update of epoch ${epoch + 1} was skipped (NaN/Inf gradients): lower the learning rate, or check the model's weights`);
      }
      if (!(await evaluate(epoch + 1))) {
        stopped = true;
        break;
      }
      epoch++;
      nextBatch = 0;
      await checkpoint();
    }
    if (stopped) {
      await checkpoint();
      return await finish('stopped');
    }
    return await finish('finished');
  } finally {
    opt?.release();
    gm.release();
  }
}
