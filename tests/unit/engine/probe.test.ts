// The batch-size probe on the tiny fixture model: doubling until the (budget-capped) memory runs out, a binary
// search between, recovery from a device lost on purpose, and a recommendation below the largest size that passed.
import { describe, expect, it } from 'vitest';
import { estimateTrainingMemory } from '../../../src/train/memory.ts';
import { probeBatchSize } from '../../../src/train/probe.ts';
import type { TrainExample } from '../../../src/train/types.ts';
import { gpu } from '../helpers/gpu.ts';
import { loadFixture } from '../model/fixture.ts';

describe('batch-size probe', () => {
  it('doubles until out of memory, searches between, recovers a lost device, recommends with a margin', async () => {
    const rt = await gpu();
    const fx = await loadFixture('bert-tiny');
    const { queries, documents, group_size: G } = fx.batch;
    const sample: TrainExample[] = [];
    for (let i = 0; i < queries.length; i += G) sample.push({ query: queries[i], pos: [documents[i]], neg: documents.slice(i + 1, i + G) });
    const maxLength = 48;
    // A budget that holds the model, its optimizer state and about 5 groups of activations.
    const budget = estimateTrainingMemory(fx.model.config, 5 * G, maxLength).totalBytes * 1.02;
    let lostOnce = false;
    const result = await probeBatchSize(rt, fx.model, sample, { groupSize: G, maxLength, loss: 'bce', maxBatch: 64, marginPercent: 20, budgetBytes: budget }, {
      beforeTrial(b, r) {
        // lose the device at the first trial after the out-of-memory one (in the binary search)
        if (b < 8 && b > 4 && !lostOnce) {
          lostOnce = true;
          r.loseDevice();
        }
      },
    });
    console.log(`[probe] ${JSON.stringify(result.steps)} → largest ${result.largestOk}, recommended ${result.recommended}`);
    const sizes = result.steps.map((s) => s.batchSize);
    expect(sizes.slice(0, 4)).toEqual([1, 2, 4, 8]);
    expect(result.steps.find((s) => s.batchSize === 8)?.failure).toBe('out-of-memory');
    expect(result.largestOk).toBeGreaterThanOrEqual(4);
    expect(result.largestOk).toBeLessThan(8);
    expect(result.recommended).toBe(Math.floor(result.largestOk * 0.8));
    expect([result.maxLength, result.groupSize]).toEqual([maxLength, G]); // the shape it answered for
    for (const s of result.steps.filter((x) => x.ok)) {
      expect(s.peakBytes).toBeGreaterThan(0);
      expect(s.peakBytes).toBeLessThanOrEqual(budget);
      expect(s.pairsPerSec).toBeGreaterThan(0);
    }
    // the device was lost during the first search trial: that size counts as failed, the runtime recreated the
    // device and the next trial ran on the new one
    expect(lostOnce).toBe(true);
    expect(result.steps[4].failure).toBe('device-lost');
    expect(result.steps.length).toBeGreaterThan(5);
    expect(result.steps.at(-1)!.batchSize).toBeLessThan(result.steps[4].batchSize);
    expect(rt.lostError).toBeUndefined();
    expect(rt.pool.limitBytes).toBeUndefined();
  });
});
