// The recipe of tests/unit/train/ranking-learning.test.ts on the float64 CPU reference (src/model/reference), with no
// GPU: how far held-out NDCG@10 should rise, per model seed, in the time SwiftShader takes for one run. The GPU
// trainer and this loop share the task, the batches (epochGroups), the schedule (lrAt), the loss and AdamW with
// clipping; only the arithmetic differs (f32 on the GPU).
//
//   npx tsx scripts/ranking-learning-cpu.ts [model seeds…]      default: 1 2 3
import { FILLER, KEYS, RECIPE, TINY, heldOutLists, rankTask } from '../tests/unit/train/rank-task.ts';
import { rerankMetrics } from '../src/eval/ranking.ts';
import { loadHfFolder } from '../src/model/hf-folder.ts';
import { buildTinyModel } from '../src/model/tiny.ts';
import { type ReferenceBatch, referenceBackward, referenceForward, toFloat64Params } from '../src/model/reference/index.ts';
import { DEFAULT_ADAMW } from '../src/train/optimizer.ts';
import { adamwStepRef, clipGradNormRef, createAdamWRefState } from '../src/model/reference/adamw.ts';
import { documentPool, epochGroups, pairsOf, stepsOf } from '../src/train/batches.ts';
import { listwiseSoftmaxRef } from '../src/model/reference/losses.ts';
import { lrAt, warmupStepsFromRatio } from '../src/train/schedule.ts';

async function run(modelSeed: number): Promise<number[]> {
  const t = rankTask(3);
  const model = await loadHfFolder(buildTinyModel({ corpus: [...t.docs, ...KEYS, ...FILLER], ...TINY, seed: modelSeed }));
  const o = RECIPE(t.train.length);
  const cfg = model.config;
  const params = toFloat64Params(model.params);
  const state = createAdamWRefState(params);
  const encode = (q: string[], d: string[]): ReferenceBatch => {
    const b = model.tokenizer.encodePairs(q, d, { maxLength: o.maxLength });
    return { input_ids: b.input_ids, attention_mask: b.attention_mask, token_type_ids: b.token_type_ids, batch: b.batch, length: b.length };
  };
  const lists = heldOutLists(t.heldOut).lists;
  const heldOutNdcg = () => {
    const { logits } = referenceForward(cfg, params, encode(lists.flatMap((l) => l.docs.map(() => l.query)), lists.flatMap((l) => l.docs)));
    let at = 0;
    return rerankMetrics(lists.map((l) => ({ scores: Array.from(logits.subarray(at, (at += l.docs.length))), relevant: l.relevant }))).ndcg10;
  };
  const pool = documentPool(t.train);
  const perEpoch = Math.ceil(t.train.length / o.batchSize);
  const totalSteps = perEpoch * o.epochs;
  const warmupSteps = warmupStepsFromRatio(o.warmupRatio, totalSteps);
  const curve = [heldOutNdcg()];
  let step = 0;
  for (let e = 0; e < o.epochs; e++) {
    for (const groups of stepsOf(epochGroups(t.train, o.groupSize, o.seed, e, pool).groups, o.batchSize)) {
      const p = pairsOf(groups);
      const f = referenceForward(cfg, params, encode(p.queries, p.docs));
      const l = listwiseSoftmaxRef(f.logits, o.groupSize);
      const grads = referenceBackward(cfg, params, f.cache, l.dLogits);
      clipGradNormRef(grads, DEFAULT_ADAMW.maxGradNorm!);
      const lr = lrAt(step++, { baseLr: o.lr, warmupSteps, totalSteps });
      adamwStepRef(params, grads, state, { lr, beta1: DEFAULT_ADAMW.beta1, beta2: DEFAULT_ADAMW.beta2, eps: DEFAULT_ADAMW.eps, weightDecay: DEFAULT_ADAMW.weightDecay });
    }
    curve.push(heldOutNdcg());
  }
  return curve;
}

const seeds = process.argv.slice(2).map(Number);
for (const s of seeds.length ? seeds : [1, 2, 3]) {
  const curve = await run(s);
  console.log(`model seed ${s}: held-out NDCG@10 per epoch ${curve.map((x) => x.toFixed(4)).join(' ')}`);
}
