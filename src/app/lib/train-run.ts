// The training step's logic, out of the component so it can be tested: the run's history as training events
// arrive, the epochs advice that never overrides what the user typed, the summary sentence (true for a run stopped
// before its first evaluation), and what "resume" does after a reload (from the checkpoint, or over from step 0
// when none was saved, never listing an evaluation twice).

import type { TrainEvent, TrainOptions, TrainSummary, ValidationInfo } from '../../train/types.ts';
import { formatSelect } from '../../eval/ranking.ts';
import { suggestEpochs } from './suggest.ts';
import { duration, num } from './format.ts';

export type EvalRecord = Omit<Extract<TrainEvent, { type: 'eval' }>, 'type'>;
export type StepRecord = Omit<Extract<TrainEvent, { type: 'step' }>, 'type' | 'totalSteps' | 'etaSeconds'>;

export interface TrainHistory {
  steps: StepRecord[];
  evals: EvalRecord[];
  warnings: { kind: string; message: string }[];
  skipped: number;
  checkpoints: number;
  totalSteps?: number;
  /** true from start until the run ends: a reload while true offers to resume from the last checkpoint. */
  running: boolean;
  summary?: TrainSummary;
  /** The options the run really uses (the fields may be edited afterwards). */
  opts?: TrainOptions;
  /** The step of the last checkpoint the worker reported. */
  lastCheckpoint?: number;
  /** Identity of the finished run (the evaluation report records it). */
  runId?: string;
  /** A note about how the run started (over from step 0, resumed at step n). */
  note?: string;
  /** What validation is made of (sent once before training): queries, BM25 lists, loss groups, the chosen metric. */
  validation?: ValidationInfo;
}

export const emptyHistory = (): TrainHistory => ({ steps: [], evals: [], warnings: [], skipped: 0, checkpoints: 0, running: false });

/** The history after one training event (a new object; the page persists it). */
export function applyEvent(h: TrainHistory, e: TrainEvent): TrainHistory {
  switch (e.type) {
    case 'step': {
      const { type: _t, totalSteps, etaSeconds: _e, ...rest } = e;
      return { ...h, steps: [...h.steps, rest], totalSteps };
    }
    case 'eval': {
      const { type: _t, ...rest } = e;
      return { ...h, evals: [...h.evals, rest] };
    }
    case 'warning':
      return { ...h, warnings: [...h.warnings, { kind: e.kind, message: e.message }] };
    case 'skipped':
      return { ...h, skipped: h.skipped + 1, warnings: [...h.warnings, { kind: 'skipped', message: `step ${e.step} skipped: ${e.reason}` }] };
    case 'checkpoint':
      return { ...h, checkpoints: h.checkpoints + 1, lastCheckpoint: e.step };
    case 'validation': {
      const { type: _t, ...info } = e;
      return { ...h, validation: info };
    }
    case 'progress':
      return h;
  }
}

/**
 * The epochs field: the seed's suggestion for the dataset size until the user types a value, then the user's value,
 * whatever happens next (Train again, a new dataset, a reload).
 */
export function epochsFor(field: { epochs: number; chosen: boolean }, pairs: number): number {
  if (field.chosen || pairs <= 0) return field.epochs;
  return suggestEpochs(pairs).epochs;
}

/** The advice line under the epochs field; sensible without data (no "5–10 for 0 pairs"). */
export function epochsAdvice(pairs: number): string {
  if (pairs <= 0) return '先挖掘训练集 Mine a training set first (step 3): the advice depends on its size';
  const a = suggestEpochs(pairs);
  return `建议 suggested ${a.epochs} (${a.min}–${a.max} for ${pairs.toLocaleString('en-US')} training queries)`;
}

/** The options that shape a run's result, as the step would run it now (length and group size from step 4). */
export function runOptions(o: TrainOptions, model: { maxLength: number; groupSize: number }): TrainOptions {
  return { ...o, maxLength: model.maxLength, groupSize: model.groupSize };
}

const OPTION_NAMES: Partial<Record<keyof TrainOptions, string>> = {
  epochs: 'epochs',
  lr: 'learning rate',
  batchSize: 'batch',
  groupSize: 'group size',
  maxLength: 'max length',
  loss: 'loss',
  warmupRatio: 'warmup',
  seed: 'seed',
};

/** "epochs 3, learning rate 0.00002, …" for the options that differ between `a` and `b` (all of `a` when b is absent). */
export function describeOptions(a: TrainOptions, b?: TrainOptions): string {
  const keys = Object.keys(OPTION_NAMES) as (keyof TrainOptions)[];
  return keys
    .filter((k) => !b || a[k] !== b[k])
    .map((k) => `${OPTION_NAMES[k]} ${String(a[k])}`)
    .join(', ');
}

/** The interrupted run, as a reload shows it: where it stopped and the options it really used. */
export function interruptedNote(h: TrainHistory, fields: TrainOptions): string {
  const at = h.steps.at(-1)?.step ?? 0;
  const total = h.totalSteps ? ` of ${h.totalSteps}` : '';
  const parts = [`上次训练被中断 A previous run was interrupted at step ${at}${total}.`];
  if (h.opts) {
    parts.push(`It used ${describeOptions(h.opts)}.`);
    const diff = describeOptions(fields, h.opts);
    if (diff) parts.push(`The fields now say ${diff}: resuming continues with the run's own settings; start again to use yours.`);
  }
  parts.push(h.lastCheckpoint !== undefined ? `Its last checkpoint is at step ${h.lastCheckpoint}.` : 'No checkpoint was reported before the interruption.');
  return parts.join(' ');
}

/** What the worker says about its saved checkpoint (checkpointInfo). */
export interface CheckpointFound {
  step: number;
  epoch?: number;
  sameModel: boolean;
  modelName: string;
  /** False when the training set changed since the run started (the checkpoint's plan no longer fits). */
  sameData?: boolean;
}

export type ResumePlan =
  | { action: 'resume'; history: TrainHistory; opts: TrainOptions; note: string }
  | { action: 'restart'; history: TrainHistory; opts: TrainOptions; note: string }
  | { action: 'refuse'; message: string };

/**
 * Resuming an interrupted run. With a checkpoint of the same model: continue from it, keeping the history up to its
 * step (the steps after it are trained again). Without one: start over from step 0 with the run's own options and
 * an empty history (so epoch 0 is not listed twice). A checkpoint of another model is refused.
 */
export function resumePlan(h: TrainHistory, ck: CheckpointFound | undefined, fields: TrainOptions): ResumePlan {
  const opts = h.opts ?? fields;
  if (ck && !ck.sameModel) {
    return { action: 'refuse', message: `The saved checkpoint belongs to ${ck.modelName}, not to the loaded model: start a new run (Train), or load ${ck.modelName} again (step 4).` };
  }
  if (ck && ck.sameData === false) {
    return { action: 'refuse', message: 'The training set changed since this run started (step 3), so its checkpoint cannot continue: start a new run.' };
  }
  if (!ck) {
    const at = h.steps.at(-1)?.step ?? 0;
    return {
      action: 'restart',
      opts,
      history: { ...emptyHistory(), opts, running: true, note: `没有检查点 No checkpoint was saved before the interruption (at step ${at}): the run starts over from step 0 with its settings (${describeOptions(opts)}).` },
      note: 'restart',
    };
  }
  const keep = <T extends { step: number }>(xs: T[]) => xs.filter((x) => x.step <= ck.step);
  const trimmedSteps = h.steps.length - keep(h.steps).length;
  return {
    action: 'resume',
    opts,
    history: {
      ...h,
      steps: keep(h.steps),
      evals: keep(h.evals),
      running: true,
      summary: undefined,
      note: `从检查点继续 Resumed from the checkpoint at step ${ck.step}${trimmedSteps ? ` (the ${trimmedSteps} step(s) after it are trained again)` : ''}.`,
    },
    note: 'resume',
  };
}

/** The summary sentence of a finished or stopped run, true to what was kept. */
export function summaryText(s: TrainSummary, h: Pick<TrainHistory, 'checkpoints' | 'skipped'>): string {
  const head = s.stopped === 'finished' ? '训练完成 Finished' : s.stopped === 'stopped' ? '已停止 Stopped' : '出错 Error';
  const total = s.totalSteps ? ` of ${s.totalSteps}` : '';
  const parts = [`${head}: ${s.steps}${total} steps, ${s.epochs} epoch(s) completed in ${duration(s.seconds)}.`];
  const validated = Number.isFinite(s.bestValLoss) || (s.bestValue !== undefined && Number.isFinite(s.bestValue));
  if (!validated) {
    parts.push(
      s.epochs === 0
        ? `Stopped before the first epoch ended, so no epoch was validated: the weights after step ${s.steps} are kept (they differ from the base model). Evaluate compares them with it; train longer for a validated model.`
        : `No validation set: the weights after step ${s.steps} are kept.`,
    );
  } else if (s.bestEpoch === 0) {
    const by = s.selectBy && s.bestValue !== undefined ? formatSelect(s.selectBy, s.bestValue) : `val loss ${num(s.bestValLoss, 4)}`;
    parts.push(`No fine-tuned epoch beat the base model on ${s.selectBy ?? 'loss'} (epoch 0, ${by}): the kept weights are the base model's.`);
  } else {
    const later = s.epochs > s.bestEpoch || s.steps < (s.totalSteps ?? s.steps) ? '; later steps are not kept' : '';
    const by = s.selectBy && s.bestValue !== undefined ? ` by ${s.selectBy} (${formatSelect(s.selectBy, s.bestValue)})` : '';
    parts.push(`Best epoch ${s.bestEpoch}${by}, val loss ${num(s.bestValLoss, 4)}, is kept${later}.`);
  }
  parts.push(`${h.checkpoints} checkpoint(s)${h.skipped ? ` · ${h.skipped} step(s) skipped` : ''}.`);
  return parts.join(' ');
}
