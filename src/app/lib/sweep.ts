// The hyper-parameter sweep (the seed: "或者可以直接上超参调优"): short training runs over a small grid of learning
// rates × epochs, each an ordinary run of the same engine (its own checkpoint slot, so it can be stopped and resumed
// after a reload), ranked by the metric that picks the best epoch in Training (NDCG@10 on the realistic validation
// lists by default; src/eval/ranking.ts); the winner's settings go to the Training step.
// This module is the sweep's bookkeeping (grid, trials, ranking); the page drives the runs.

import type { TrainExample } from '../../data/jsonl.ts';
import { beats, selectValue, type RerankMetrics, type SelectBy } from '../../eval/ranking.ts';
import { mulberry32, shuffleInPlace } from '../../util/rng.ts';

export interface SweepGrid {
  /** Learning rates to try (the seed's advised range is 1e-5 – 3e-5). */
  lrs: number[];
  /** Epoch counts to try. */
  epochs: number[];
  /** Short runs: at most this many training queries per trial (a fixed, seeded subset); 0 = all. */
  maxTrain: number;
}

export type TrialStatus = 'pending' | 'running' | 'done' | 'stopped' | 'error';

/** One evaluation of a trial: every figure is kept, so the trials can be ranked again by another metric. */
export interface TrialEval {
  epoch: number;
  valLoss: number;
  /** NDCG@10, MRR@10, Hit@1, Recall@10 on the realistic validation lists (absent without validation queries). */
  ranking?: RerankMetrics;
}

/** A trial's score under a metric: the evaluation it came from and the metric's value there. */
export interface TrialScore extends TrialEval {
  by: SelectBy;
  value: number;
}

export interface SweepTrial {
  /** 'lr=2e-5,epochs=2' */
  id: string;
  lr: number;
  epochs: number;
  status: TrialStatus;
  evals: TrialEval[];
  seconds?: number;
  error?: string;
}

export interface SweepState {
  grid: SweepGrid;
  trials: SweepTrial[];
  /** True from start until the sweep ends or is stopped: a reload while true offers to continue. */
  running: boolean;
  /** The trial whose run is (or was, when interrupted) in progress. */
  current?: string;
  /** The trial whose settings were handed to Training. */
  applied?: string;
}

export const defaultGrid = (): SweepGrid => ({ lrs: [1e-5, 2e-5, 3e-5], epochs: [1, 2], maxTrain: 500 });
export const defaultSweep = (): SweepState => ({ grid: defaultGrid(), trials: [], running: false });

export const trialId = (lr: number, epochs: number): string => `lr=${lr},epochs=${epochs}`;

/** A comma- or space-separated list of positive numbers ("1e-5, 2e-5, 3e-5"); an error says what is wrong. */
export function parseList(text: string, what: string, opts: { integer?: boolean; max?: number } = {}): { values: number[] } | { error: string } {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (!parts.length) return { error: `${what}: give at least one value` };
  const values: number[] = [];
  for (const p of parts) {
    const v = Number(p);
    if (!Number.isFinite(v) || v <= 0) return { error: `${what}: '${p}' is not a positive number` };
    if (opts.integer && !Number.isInteger(v)) return { error: `${what}: '${p}' is not a whole number` };
    if (opts.max !== undefined && v > opts.max) return { error: `${what}: '${p}' is above ${opts.max}` };
    if (!values.includes(v)) values.push(v);
  }
  if (values.length > 6) return { error: `${what}: at most 6 values (a sweep of short runs, not a search)` };
  return { values };
}

/** Every (lr, epochs) pair, shortest runs first, keeping what earlier trials of the same pair already found. */
export function planTrials(grid: SweepGrid, previous: readonly SweepTrial[] = []): SweepTrial[] {
  const old = new Map(previous.map((t) => [t.id, t]));
  const out: SweepTrial[] = [];
  for (const epochs of [...grid.epochs].sort((a, b) => a - b)) {
    for (const lr of grid.lrs) {
      const id = trialId(lr, epochs);
      const t = old.get(id);
      out.push(t && t.status === 'done' ? t : { id, lr, epochs, status: 'pending', evals: [] });
    }
  }
  return out;
}

/** The trial to run next: the one interrupted by a reload first, then the first pending one. */
export function nextTrial(s: SweepState): SweepTrial | undefined {
  return s.trials.find((t) => t.id === s.current && t.status === 'running') ?? s.trials.find((t) => t.status === 'pending' || t.status === 'stopped' || t.status === 'running');
}

/** The value of `by` in one evaluation (higher is better except for loss). */
export function evalValue(by: SelectBy, e: TrialEval): number {
  return selectValue(by, { loss: e.valLoss, ranking: e.ranking });
}

/**
 * A trial's score under `by`: its best evaluation over trained epochs (epoch 0 is the base model, the same for every
 * trial, shown apart), ties to lower validation loss, as Training chooses its best epoch. Evaluations saved by an older
 * page (no figures) never score.
 */
export function trialScore(t: Pick<SweepTrial, 'evals'>, by: SelectBy): TrialScore | undefined {
  let best: TrialScore | undefined;
  for (const e of t.evals) {
    if (e.epoch === 0 || typeof e.valLoss !== 'number') continue;
    const cand = { ...e, by, value: evalValue(by, e) };
    if (Number.isNaN(cand.value)) continue;
    if (!best || beats(by, { value: cand.value, loss: cand.valLoss }, { value: best.value, loss: best.valLoss })) best = cand;
  }
  return best;
}

/** Finished trials, best first under `by`, then the shorter run, then the lower learning rate. */
export function ranked(trials: readonly SweepTrial[], by: SelectBy): (SweepTrial & { score: TrialScore })[] {
  return trials
    .filter((t) => t.status === 'done')
    .map((t) => ({ ...t, score: trialScore(t, by) }))
    .filter((t): t is SweepTrial & { score: TrialScore } => !!t.score)
    .sort((a, b) => (beats(by, scoreOf(a), scoreOf(b)) ? -1 : beats(by, scoreOf(b), scoreOf(a)) ? 1 : 0) || a.epochs - b.epochs || a.lr - b.lr);
}

const scoreOf = (t: { score: TrialScore }) => ({ value: t.score.value, loss: t.score.valLoss });

/** The base model's value of `by` (epoch 0 of any trial), to show whether training helped at all. */
export function baselineValue(trials: readonly SweepTrial[], by: SelectBy): number | undefined {
  for (const t of trials) {
    const e0 = t.evals.find((e) => e.epoch === 0 && typeof e.valLoss === 'number');
    if (e0) return evalValue(by, e0);
  }
  return undefined;
}

/** The same seeded subset of the training set for every trial (short runs that compare like with like). */
export function sweepSubset(train: readonly TrainExample[], max: number, seed = 7): TrainExample[] {
  if (max <= 0 || train.length <= max) return [...train];
  return shuffleInPlace(train.map((_, i) => i), mulberry32(seed))
    .slice(0, max)
    .sort((a, b) => a - b)
    .map((i) => train[i]);
}

/** The trial with an outcome recorded (a new object). */
export function withTrial(s: SweepState, id: string, change: Partial<SweepTrial>): SweepState {
  return { ...s, trials: s.trials.map((t) => (t.id === id ? { ...t, ...change } : t)) };
}
