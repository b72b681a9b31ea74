// Ranking learnt, not the label prior: a tiny char-level model on a synthetic task where the only thing that tells the
// positive from the negatives is a rare character it shares with the query. Every document is one rare "key"
// character and one common filler character; a query is one key and one filler (either order); its positive is the
// document with the same key. Each document is the positive of some queries and a negative of others, so any score
// that ignores the query (the label prior, a per-document bias) ranks at chance. After training, held-out queries
// (filler/order combinations never trained on) rerank lists of 10 documents (their positive + 9 others) through the
// trainer's ranking validation: NDCG@10 must beat chance, (1/10)·Σ_{r=1..10} 1/log2(r+1) = 0.4544, by MARGIN.
//
// Sized for SwiftShader: 12 full-batch steps (each epoch is one step over all 112 training groups of 4, 7 tokens per
// pair), hidden 32, 2 layers. A float64 CPU run of the same recipe (src/model/reference, listwise loss, AdamW with
// clipping, the same schedule and batches) reached held-out NDCG@10 0.818, 0.824 and 0.845 with model seeds 1, 2
// and 3; the margin leaves room for f32 and seed luck. (The same CPU run and this GPU trainer agreed to 2e-4 on
// another schedule of this task: 0.6398 vs 0.6400.)
import { describe, expect, it } from 'vitest';
import type { RerankSet } from '../../../src/eval/candidates.ts';
import { rerankMetrics } from '../../../src/eval/ranking.ts';
import { loadHfFolder } from '../../../src/model/hf-folder.ts';
import { buildTinyModel } from '../../../src/model/tiny.ts';
import { train } from '../../../src/train/trainer.ts';
import type { TrainEvent, TrainExample, TrainOptions } from '../../../src/train/types.ts';
import { mulberry32 } from '../../../src/util/rng.ts';
import { gpu } from '../helpers/gpu.ts';

const KEYS = [...'甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳'];
const FILLER = [...'的是了在'];
const LIST = 10;
const CHANCE = Array.from({ length: LIST }, (_, r) => 1 / Math.log2(r + 2)).reduce((a, b) => a + b) / LIST;
/** NDCG@10 on held-out queries must exceed chance by this much. */
const MARGIN = 0.25;

function task(seed: number) {
  const r = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const shuffle = <T>(xs: T[]) => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  };
  const docs = KEYS.map((k) => shuffle([k, pick(FILLER)]).join(''));
  // every (filler, side) variant of a query: "k f" and "f k" for each filler; one per key is held out
  const variants = KEYS.map((k) => shuffle(FILLER.flatMap((f) => [k + f, f + k])));
  const negs = (i: number) => shuffle(docs.filter((_, j) => j !== i));
  const trainSet: TrainExample[] = [];
  const heldOut: TrainExample[] = [];
  KEYS.forEach((_, i) => {
    const [held, ...rest] = variants[i];
    heldOut.push({ query: held, pos: [docs[i]], neg: negs(i).slice(0, LIST - 1) });
    for (const q of rest) trainSet.push({ query: q, pos: [docs[i]], neg: negs(i) });
  });
  return { docs, train: shuffle(trainSet), heldOut };
}

/** Held-out lists: each query's positive and 9 other documents, in a fixed order (the scorer must rank them). */
function listsOf(heldOut: readonly TrainExample[]): RerankSet {
  const lists = heldOut.map((e) => {
    const docs = [...e.neg, ...e.pos];
    return { query: e.query, docs, relevant: docs.map((d) => e.pos.includes(d)), bm25: docs.map(() => 0) };
  });
  const bm25 = rerankMetrics(lists.map((l) => ({ scores: l.docs.map(() => 0), relevant: l.relevant })));
  return { lists, depth: LIST, corpus: KEYS.length, bm25, positivesRetrieved: 1, pairs: lists.length * LIST };
}

describe('ranking learning (synthetic rare-token task, tiny model)', () => {
  it(`lifts held-out NDCG@10 above chance (${CHANCE.toFixed(4)}) by ${MARGIN}`, async () => {
    const rt = await gpu();
    const t = task(3);
    const model = await loadHfFolder(buildTinyModel({ corpus: [...t.docs, ...KEYS, ...FILLER], hidden: 32, heads: 2, layers: 2, intermediate: 64, maxPositions: 16, hiddenDropout: 0, initializerRange: 0.2, seed: 1 }));
    // one step per epoch, each over every training group (negatives sampled anew each epoch)
    const opts: TrainOptions = { loss: 'listwise', batchSize: t.train.length, groupSize: 4, epochs: 12, lr: 1e-2, warmupRatio: 0.1, maxLength: 8, seed: 1, selectBy: 'ndcg@10' };
    const data = { train: t.train, val: t.heldOut, rerank: listsOf(t.heldOut) };
    const events: TrainEvent[] = [];
    const t0 = performance.now();
    const r = await train(rt, model, data, opts, {
      onEvent: (e) => {
        events.push(e);
        if (process.env.RL_VERBOSE && e.type === 'step') console.log(`[rank-learn] step ${e.step} loss ${e.loss.toFixed(4)} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      },
    });
    const secs = (performance.now() - t0) / 1000;
    const evals = events.flatMap((e) => (e.type === 'eval' ? [e] : []));
    const steps = events.flatMap((e) => (e.type === 'step' ? [e] : []));
    for (const e of evals) console.log(`[rank-learn] epoch ${e.epoch}: held-out NDCG@10 ${e.ranking!.ndcg10.toFixed(4)} MRR@10 ${e.ranking!.mrr10.toFixed(4)} Hit@1 ${e.ranking!.hit1.toFixed(3)}  val loss ${e.valLoss.toFixed(4)}${e.best ? ' (best)' : ''}`);
    console.log(`[rank-learn] ${r.summary.steps} steps, train loss ${steps[0].loss.toFixed(3)} → ${steps.at(-1)!.loss.toFixed(3)}, ${steps.at(-1)!.pairsPerSec.toFixed(1)} pairs/s, ${secs.toFixed(1)} s; chance ${CHANCE.toFixed(4)}`);
    expect(r.summary.stopped).toBe('finished');
    expect(r.summary.steps).toBe(12);
    expect(evals[0].ranking!.queries).toBe(KEYS.length);
    const last = evals.at(-1)!.ranking!;
    expect(last.ndcg10).toBeGreaterThan(CHANCE + MARGIN);
    expect(r.summary.bestEpoch).toBeGreaterThan(0);
    expect(r.summary.bestValue).toBeGreaterThan(CHANCE + MARGIN);
  });
});
