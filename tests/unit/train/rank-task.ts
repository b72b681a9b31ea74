// The synthetic rare-shared-character task of ranking-learning.test.ts (not a test file itself), shared with
// scripts/ranking-learning-cpu.ts, which runs the same recipe on the float64 CPU reference.
//
// Every document is one rare "key" character and one common filler character; a query is one key and one filler
// (either order); its positive is the document with the same key. Each document is the positive of some queries
// and a negative of others, so a score that ignores the query ranks at chance.
import type { RerankSet } from '../../../src/eval/candidates.ts';
import { rerankMetrics } from '../../../src/eval/ranking.ts';
import type { TrainExample, TrainOptions } from '../../../src/train/types.ts';
import { mulberry32 } from '../../../src/util/rng.ts';

export const KEYS = [...'甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳'];
export const FILLER = [...'的是了在'];
/** Candidates per held-out query (its positive and 9 others). */
export const LIST = 10;
/** Expected NDCG@10 of a random order of LIST candidates with one positive: (1/10)·Σ_{r=1..10} 1/log2(r+1). */
export const CHANCE = Array.from({ length: LIST }, (_, r) => 1 / Math.log2(r + 2)).reduce((a, b) => a + b) / LIST;

/** The model: hidden 32, 2 layers, no dropout, a wide initialisation (0.2) so attention starts far from uniform. */
export const TINY = { hidden: 32, heads: 2, layers: 2, intermediate: 64, maxPositions: 16, hiddenDropout: 0, initializerRange: 0.2 } as const;

/** The recipe: 12 epochs of one full-batch step each (all 112 training groups of 4), listwise, lr 1e-2. */
export const RECIPE = (batch: number): TrainOptions => ({ loss: 'listwise', batchSize: batch, groupSize: 4, epochs: 12, lr: 1e-2, warmupRatio: 0.1, maxLength: 8, seed: 1, selectBy: 'ndcg@10' });

export function rankTask(seed: number): { docs: string[]; train: TrainExample[]; heldOut: TrainExample[] } {
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
export function heldOutLists(heldOut: readonly TrainExample[]): RerankSet {
  const lists = heldOut.map((e) => {
    const docs = [...e.neg, ...e.pos];
    return { query: e.query, docs, relevant: docs.map((d) => e.pos.includes(d)), bm25: docs.map(() => 0) };
  });
  const bm25 = rerankMetrics(lists.map((l) => ({ scores: l.docs.map(() => 0), relevant: l.relevant })));
  return { lists, depth: LIST, corpus: KEYS.length, bm25, positivesRetrieved: 1, pairs: lists.length * LIST };
}
