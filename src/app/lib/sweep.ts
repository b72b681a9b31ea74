// The hyper-parameter sweep (the seed: "或者可以直接上超参调优"): short training runs over a small grid of learning
// rates × epochs, each an ordinary run of the same engine (its own checkpoint slot, so it can be stopped and resumed
// after a reload), ranked by the validation metric; the winner's settings go to the Training step.
// This module is the sweep's bookkeeping (grid, trials, ranking); the page drives the runs.

import type { TrainExample } from '../../data/jsonl.ts';
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

export interface TrialEval {
  epoch: number;
  mrr: number;
  valLoss: number;
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

/** A trial's score: its best validation MRR over trained epochs (epoch 0 is the base model), ties to lower loss. */
export function trialScore(t: Pick<SweepTrial, 'evals'>): TrialEval | undefined {
  let best: TrialEval | undefined;
  for (const e of t.evals) {
    if (e.epoch === 0 || !Number.isFinite(e.mrr)) continue;
    if (!best || e.mrr > best.mrr || (e.mrr === best.mrr && e.valLoss < best.valLoss)) best = e;
  }
  return best;
}

/** Finished trials, best first: validation MRR, then validation loss, then the shorter run. */
export function ranked(trials: readonly SweepTrial[]): (SweepTrial & { score: TrialEval })[] {
  return trials
    .filter((t) => t.status === 'done')
    .map((t) => ({ ...t, score: trialScore(t) }))
    .filter((t): t is SweepTrial & { score: TrialEval } => !!t.score)
    .sort((a, b) => b.score.mrr - a.score.mrr || a.score.valLoss - b.score.valLoss || a.epochs - b.epochs || a.lr - b.lr);
}

/** The base model's validation MRR (epoch 0 of any trial), to show whether training helped at all. */
export function baselineMrr(trials: readonly SweepTrial[]): number | undefined {
  for (const t of trials) {
    const e0 = t.evals.find((e) => e.epoch === 0);
    if (e0) return e0.mrr;
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
