import { describe, expect, it } from 'vitest';
import { baselineValue, defaultGrid, nextTrial, parseList, planTrials, ranked, sweepSubset, trialScore, withTrial, type SweepState } from '../../../src/app/lib/sweep.ts';

// The hyper-parameter sweep's bookkeeping: the grid, the order of the short runs, resuming after a reload, and the
// ranking by the validation metric that picks the winner handed to Training.

describe('grid', () => {
  it('parses user-edited lists and says what is wrong', () => {
    expect(parseList('1e-5, 2e-5 3e-5', 'learning rates')).toEqual({ values: [1e-5, 2e-5, 3e-5] });
    expect(parseList('1, 2, 2', 'epochs', { integer: true })).toEqual({ values: [1, 2] });
    expect(parseList('', 'epochs')).toEqual({ error: 'epochs: give at least one value' });
    expect(parseList('1.5', 'epochs', { integer: true })).toEqual({ error: "epochs: '1.5' is not a whole number" });
    expect(parseList('2e-5, -1', 'learning rates')).toEqual({ error: "learning rates: '-1' is not a positive number" });
  });
  it('plans lr × epochs, shortest runs first, keeping finished trials when the grid grows', () => {
    const t = planTrials(defaultGrid());
    expect(t.map((x) => x.id)).toEqual(['lr=0.00001,epochs=1', 'lr=0.00002,epochs=1', 'lr=0.00003,epochs=1', 'lr=0.00001,epochs=2', 'lr=0.00002,epochs=2', 'lr=0.00003,epochs=2']);
    const done = { ...t[0], status: 'done' as const, evals: [{ epoch: 1, valLoss: 1, ranking: rk(0.5, 0.5) }] };
    const again = planTrials({ ...defaultGrid(), epochs: [1, 2, 3] }, [done, ...t.slice(1)]);
    expect(again).toHaveLength(9);
    expect(again[0]).toBe(done);
    expect(again[1].status).toBe('pending');
  });
});

describe('running', () => {
  const s0: SweepState = { grid: defaultGrid(), trials: planTrials(defaultGrid()), running: true };
  it('after a reload, the interrupted trial comes first', () => {
    const s = { ...withTrial(withTrial(s0, s0.trials[0].id, { status: 'done' }), s0.trials[2].id, { status: 'running' }), current: s0.trials[2].id };
    expect(nextTrial(s)!.id).toBe(s0.trials[2].id);
    expect(nextTrial({ ...s, current: undefined })!.id).toBe(s0.trials[1].id);
  });
  it('short runs use one seeded subset of the training set', () => {
    const train = Array.from({ length: 100 }, (_, i) => ({ query: `q${i}`, pos: ['p'], neg: ['n'] }));
    const a = sweepSubset(train, 10);
    expect(a).toHaveLength(10);
    expect(sweepSubset(train, 10)).toEqual(a);
    expect(sweepSubset(train, 0)).toHaveLength(100);
    expect(a.map((x) => Number(x.query.slice(1)))).toEqual([...a.map((x) => Number(x.query.slice(1)))].sort((x, y) => x - y));
  });
});

/** Ranking figures with the NDCG@10 and MRR@10 given (Hit@1 and Recall@10 follow MRR). */
const rk = (ndcg10: number, mrr10: number) => ({ queries: 10, ndcg10, mrr10, hit1: mrr10, recall10: 1 });

describe('ranking', () => {
  const trials = [
    { id: 'a', lr: 1e-5, epochs: 1, status: 'done' as const, evals: [{ epoch: 0, valLoss: 0.1, ranking: rk(0.9, 0.9) }, { epoch: 1, valLoss: 0.8, ranking: rk(0.6, 0.8) }] },
    { id: 'b', lr: 2e-5, epochs: 2, status: 'done' as const, evals: [{ epoch: 0, valLoss: 0.1, ranking: rk(0.9, 0.9) }, { epoch: 1, valLoss: 0.6, ranking: rk(0.7, 0.5) }, { epoch: 2, valLoss: 0.5, ranking: rk(0.65, 0.6) }] },
    { id: 'c', lr: 3e-5, epochs: 1, status: 'done' as const, evals: [{ epoch: 1, valLoss: 0.55, ranking: rk(0.7, 0.4) }] },
    { id: 'd', lr: 3e-5, epochs: 2, status: 'stopped' as const, evals: [{ epoch: 1, valLoss: 0.1, ranking: rk(0.99, 0.99) }] },
    // saved by an older page (the seed's group MRR, no ranking figures): never scores
    { id: 'e', lr: 5e-5, epochs: 1, status: 'done' as const, evals: [{ epoch: 1, mrr: 1 } as never] },
  ];
  it('by the chosen metric (default NDCG@10) over trained epochs, ties to lower loss, then the shorter run; epoch 0 never counts', () => {
    expect(ranked(trials, 'ndcg@10').map((t) => t.id)).toEqual(['c', 'b', 'a']);
    expect(trialScore(trials[1], 'ndcg@10')).toMatchObject({ epoch: 1, value: 0.7, valLoss: 0.6, by: 'ndcg@10' });
    expect(baselineValue(trials, 'ndcg@10')).toBe(0.9);
  });
  it('ranks again when the user picks another metric in Training', () => {
    expect(ranked(trials, 'mrr@10').map((t) => t.id)).toEqual(['a', 'b', 'c']);
    expect(trialScore(trials[1], 'mrr@10')).toMatchObject({ epoch: 2, value: 0.6 });
    // validation loss: lower is better
    expect(ranked(trials, 'loss').map((t) => t.id)).toEqual(['b', 'c', 'a']);
    expect(trialScore(trials[1], 'loss')).toMatchObject({ epoch: 2, value: 0.5 });
  });
});
