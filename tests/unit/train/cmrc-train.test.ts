// Issue 3 acceptance: training a tiny char-level model on CMRC 2018 trial data (questions as queries, their own
// paragraph positive, random other paragraphs negative) lowers the validation loss over a few epochs.
// Sized for SwiftShader (about a minute): hidden 32, 2 layers, max_length 32, 24 training groups of 4, 3 epochs.
// At this size most of the drop is the classifier learning the 1:3 label balance (BCE of a constant score falls
// from ln 2 = 0.693 towards 0.562); the printed gap/MRR show how much ranking it has learnt (none, in 9 steps).
// Ranking is deliberately not asserted here (ranking-learning.test.ts shows ranking being learnt, on a synthetic task
// a tiny model can learn in a minute): a float64 CPU run of the same loop (reference model, AdamW, clipping,
// schedule, batches) with hidden 32, 2 layers, max_length 32, listwise loss, lr 3e-3 left validation MRR at chance
// (0.51 → 0.49 on 48 groups) after 300 steps of 8 groups over 800 questions, about 20 minutes of SwiftShader time.
// A randomly initialised char-level BERT sits on a plateau long before it learns query–document character matching.
// So this test chooses the best epoch by validation loss (--select-by loss), which is what it shows falling; the
// realistic-list ranking figures are printed beside BM25's, not asserted.
import { describe, expect, it } from 'vitest';
import { loadHfFolder } from '../../../src/model/hf-folder.ts';
import { buildTinyModel } from '../../../src/model/tiny.ts';
import { train } from '../../../src/train/trainer.ts';
import type { TrainEvent } from '../../../src/train/types.ts';
import { gpu } from '../helpers/gpu.ts';
import { cmrcCorpus, cmrcExamples } from './cmrc.ts';

describe('training on CMRC 2018 (tiny char-level model)', () => {
  it('lowers the validation loss over three epochs', async () => {
    const rt = await gpu();
    const model = await loadHfFolder(buildTinyModel({ corpus: cmrcCorpus(), hidden: 32, heads: 4, layers: 2, intermediate: 64, maxPositions: 64, seed: 1 }));
    const { train: tr, val } = cmrcExamples(3);
    const events: TrainEvent[] = [];
    const t0 = performance.now();
    const r = await train(
      rt,
      model,
      { train: tr.slice(0, 24), val: val.slice(0, 8) },
      // plain BCE (pos_weight 1): the label prior this test sees is the 1:3 balance that pos_weight = 3 would remove
      { loss: 'bce', batchSize: 8, groupSize: 4, epochs: 3, lr: 5e-3, warmupRatio: 0.1, maxLength: 32, seed: 1, posWeight: 1, selectBy: 'loss', valCandidates: 10 },
      { onEvent: (e) => events.push(e) },
    );
    const secs = (performance.now() - t0) / 1000;
    const evals = events.flatMap((e) => (e.type === 'eval' ? [e] : []));
    const steps = events.flatMap((e) => (e.type === 'step' ? [e] : []));
    for (const e of evals) {
      console.log(`[cmrc] epoch ${e.epoch}: val loss ${e.valLoss.toFixed(4)}, mean gap ${e.meanGap.toExponential(2)}, group MRR ${e.mrr.toFixed(3)}, NDCG@10 ${e.ranking?.ndcg10.toFixed(3)} (BM25 ${e.bm25?.ndcg10.toFixed(3)})${e.best ? ' (best)' : ''}`);
    }
    console.log(`[cmrc] train loss per step: ${steps.map((s) => s.loss.toFixed(4)).join(' ')}`);
    console.log(`[cmrc] ${r.summary.steps} steps, ${steps.at(-1)!.pairsPerSec.toFixed(1)} pairs/s, ${secs.toFixed(1)} s in all (model ${model.config.vocabSize} chars, ${[...model.params.values()].reduce((a, p) => a + p.length, 0)} parameters)`);
    expect(r.summary.stopped).toBe('finished');
    expect(evals.map((e) => e.epoch)).toEqual([0, 1, 2, 3]);
    const before = evals[0].valLoss;
    const after = evals[3].valLoss;
    expect(after).toBeLessThan(before - 0.02);
    expect(r.summary.bestValLoss).toBeLessThanOrEqual(after);
    expect(r.summary.bestEpoch).toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e.type === 'skipped')).toEqual([]);
  });
});
