import { describe, expect, it } from 'vitest';
import { applyEvent, emptyHistory, epochsAdvice, epochsFor, interruptedNote, resumePlan, summaryText, type TrainHistory } from '../../../src/app/lib/train-run.ts';
import type { TrainOptions, TrainSummary } from '../../../src/train/types.ts';

// Issue 8 items 3 and 4: "Train again" keeps the user's epochs, a reload shows what the interrupted run used, the
// stop and resume messages say what really happens.

const opts: TrainOptions = { loss: 'listwise', batchSize: 2, groupSize: 4, epochs: 10, lr: 2e-5, warmupRatio: 0.1, maxLength: 32, seed: 42 };

function interruptedRun(): TrainHistory {
  let h: TrainHistory = { ...emptyHistory(), running: true, opts };
  h = applyEvent(h, { type: 'eval', epoch: 0, step: 0, valLoss: 1.1, meanGap: 0, mrr: 0.5, selectBy: 'loss', value: 1.1, best: false });
  for (let s = 1; s <= 5; s++) {
    h = applyEvent(h, { type: 'step', step: s, totalSteps: 20, epoch: 1, loss: 1 / s, lr: 1e-5, pairsPerSec: 3 });
    if (s === 3) h = applyEvent(h, { type: 'checkpoint', step: 3, bytes: 100 });
  }
  return h;
}

describe('epochs', () => {
  it('the suggestion until the user types, then the user value through Train again and new datasets', () => {
    expect(epochsFor({ epochs: 5, chosen: false }, 100)).toBe(10); // the seed: under 1,000 pairs 5–10
    expect(epochsFor({ epochs: 2, chosen: true }, 100)).toBe(2);
    expect(epochsFor({ epochs: 2, chosen: true }, 20_000)).toBe(2);
    expect(epochsFor({ epochs: 3, chosen: false }, 0)).toBe(3); // no data: leave the field alone
  });
  it('advice with no data is not "10 (5–10 for 0 pairs)"', () => {
    expect(epochsAdvice(0)).toMatch(/Mine a training set first/);
    expect(epochsAdvice(0)).not.toMatch(/0 pairs/);
    expect(epochsAdvice(400)).toBe('建议 suggested 8 (5–10 for 400 training queries)');
  });
});

describe('a reload during a run', () => {
  it('shows the options the interrupted run really used, and where the fields differ', () => {
    const note = interruptedNote(interruptedRun(), { ...opts, epochs: 2 });
    expect(note).toContain('interrupted at step 5 of 20');
    expect(note).toContain('It used epochs 10, learning rate 0.00002, batch 2, group size 4, max length 32');
    expect(note).toContain('The fields now say epochs 2: resuming continues with the run');
    expect(note).toContain('last checkpoint is at step 3');
  });

  it('resume with a checkpoint keeps the history up to it and the run its own options', () => {
    const plan = resumePlan(interruptedRun(), { step: 3, sameModel: true, modelName: 'A' }, { ...opts, epochs: 2 });
    expect(plan.action).toBe('resume');
    if (plan.action !== 'resume') return;
    expect(plan.opts.epochs).toBe(10);
    expect(plan.history.steps.map((s) => s.step)).toEqual([1, 2, 3]);
    expect(plan.history.evals.map((e) => e.epoch)).toEqual([0]);
    expect(plan.history.note).toContain('checkpoint at step 3 (the 2 step(s) after it are trained again)');
  });

  it('resume with no checkpoint says it starts over and does not list epoch 0 twice', () => {
    const h = interruptedRun();
    const plan = resumePlan({ ...h, lastCheckpoint: undefined }, undefined, opts);
    expect(plan.action).toBe('restart');
    if (plan.action !== 'restart') return;
    expect(plan.history.note).toMatch(/No checkpoint was saved before the interruption \(at step 5\): the run starts over from step 0/);
    // the worker evaluates epoch 0 again: the restarted history must not hold the first one
    const after = applyEvent(plan.history, { type: 'eval', epoch: 0, step: 0, valLoss: 1.1, meanGap: 0, mrr: 0.5, selectBy: 'loss', value: 1.1, best: false });
    expect(after.evals.filter((e) => e.epoch === 0)).toHaveLength(1);
    expect(plan.opts.epochs).toBe(10);
  });

  it("refuses another model's checkpoint", () => {
    const plan = resumePlan(interruptedRun(), { step: 3, sameModel: false, modelName: 'bert-A' }, opts);
    expect(plan).toMatchObject({ action: 'refuse' });
    if (plan.action === 'refuse') expect(plan.message).toContain('belongs to bert-A');
    expect(resumePlan(interruptedRun(), { step: 3, sameModel: true, sameData: false, modelName: 'A' }, opts)).toMatchObject({ action: 'refuse', message: expect.stringContaining('training set changed') });
  });
});

describe('summary', () => {
  const base: TrainSummary = { steps: 3, epochs: 0, bestEpoch: 0, bestValLoss: NaN, stopped: 'stopped', seconds: 4, totalSteps: 20 };
  it('stopped before the first epoch ends: says the last weights are kept, not "best epoch 0"', () => {
    const t = summaryText(base, { checkpoints: 1, skipped: 0 });
    expect(t).toContain('Stopped: 3 of 20 steps');
    expect(t).toContain('the weights after step 3 are kept (they differ from the base model)');
    expect(t).not.toMatch(/best epoch 0/i);
  });
  it('stopped later: the best evaluated epoch is kept, later steps are not', () => {
    const t = summaryText({ ...base, steps: 12, epochs: 2, bestEpoch: 1, bestValLoss: 0.5 }, { checkpoints: 3, skipped: 1 });
    expect(t).toContain('Best epoch 1, val loss 0.5000, is kept; later steps are not kept.');
    const byMetric = summaryText({ ...base, steps: 12, epochs: 2, bestEpoch: 1, bestValLoss: 0.5, selectBy: 'ndcg@10', bestValue: 0.61 }, { checkpoints: 3, skipped: 0 });
    expect(byMetric).toContain('Best epoch 1 by ndcg@10 (NDCG@10 0.6100), val loss 0.5000, is kept');
    expect(t).toContain('1 step(s) skipped');
  });
  it('finished with the base model best says so', () => {
    expect(summaryText({ ...base, stopped: 'finished', steps: 20, epochs: 2, bestEpoch: 0, bestValLoss: 0.4 }, { checkpoints: 2, skipped: 0 })).toContain('the kept weights are the base model');
    const t = summaryText({ ...base, stopped: 'finished', steps: 20, epochs: 2, bestEpoch: 0, bestValLoss: 0.4, selectBy: 'mrr@10', bestValue: 0.3 }, { checkpoints: 2, skipped: 0 });
    expect(t).toContain('No fine-tuned epoch beat the base model on mrr@10 (epoch 0, MRR@10 0.3000)');
  });
});
