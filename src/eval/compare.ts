// Base vs fine-tuned on a validation set, for `rerank-lab eval` and the page's Evaluate step.
//
// compareModels takes the realistic lists (candidates.ts buildRerankSet: each query's BM25 top N of the validation
// corpus plus its positives): both models score every list's candidates and every case pair once, then NDCG@10 /
// MRR@10 / Hit@1 / Recall@10 (ranking.ts) beside BM25's own order of the same lists, and the seed's per-case report
// (report.ts: positive vs its hardest mined negative).

import type { RerankSet } from './candidates.ts';
import { type RerankMetrics, rerankMetrics } from './ranking.ts';
import { buildReport, casesOf, type Activation, type EvalReport, type PairScores, type RerankComparison } from './report.ts';

export interface Example {
  query: string;
  pos: readonly string[];
  neg: readonly string[];
}

/** A query–document pair to score. */
export interface Pair {
  query: string;
  doc: string;
}

/** Scores a list of pairs with one model (raw logits, input order). */
export type ScorePairs = (pairs: Pair[], which: 'base' | 'tuned') => Promise<number[]>;

/**
 * The pairs to score for a comparison on realistic lists, each once: every list's candidates and every case's
 * (positive, hardest negative), with where each list's and each case's scores are among them.
 */
export function rerankPairs(val: readonly Example[], set: RerankSet): { pairs: Pair[]; lists: number[][]; cases: { pos: number; neg: number }[] } {
  const index = new Map<string, number>();
  const pairs: Pair[] = [];
  const at = (query: string, doc: string) => {
    const key = `${query}\u0000${doc}`;
    let i = index.get(key);
    if (i === undefined) (i = pairs.length), index.set(key, i), pairs.push({ query, doc });
    return i;
  };
  const lists = set.lists.map((l) => l.docs.map((d) => at(l.query, d)));
  const cases = casesOf(val).map((c) => ({ pos: at(c.query, c.positive), neg: at(c.query, c.negative) }));
  return { pairs, lists, cases };
}

export interface ListScores {
  metrics: RerankMetrics;
  /** Per case (report.ts casesOf order): the positive's and the hardest negative's score. */
  cases: PairScores[];
}

/** The pairs of a comparison and where each list's and case's scores are among them (rerankPairs). */
export type RerankPlan = ReturnType<typeof rerankPairs>;

/** One model's scores on the realistic lists: its ranking metrics and its per-case pair scores. */
export async function scoreOnLists(set: RerankSet, plan: RerankPlan, which: 'base' | 'tuned', score: ScorePairs): Promise<ListScores> {
  const { pairs, lists, cases } = plan;
  const scores = await score(pairs, which);
  if (scores.length !== pairs.length) throw new Error(`expected ${pairs.length} scores (one per pair), got ${scores.length}`);
  const metrics = rerankMetrics(set.lists.map((l, i) => ({ scores: lists[i].map((j) => scores[j]), relevant: l.relevant })));
  return { metrics, cases: cases.map((c) => ({ pos: scores[c.pos], neg: scores[c.neg] })) };
}

/**
 * The whole comparison on realistic lists: each model scored once, the ranking metrics beside BM25's (the floor),
 * and the per-case report.
 */
export async function compareModels(
  val: readonly Example[],
  set: RerankSet,
  score: ScorePairs,
  opts: { tuned?: boolean; activation?: Activation; plan?: RerankPlan } = {},
): Promise<{ report: EvalReport; base: ListScores; tuned?: ListScores }> {
  if (!val.length || !set.lists.length) throw new Error('the validation set is empty: no example has a positive');
  // The same pairs for both models: planned once (the caller may have planned them already, to report their count).
  const plan = opts.plan ?? rerankPairs(val, set);
  const base = await scoreOnLists(set, plan, 'base', score);
  const tuned = opts.tuned === false ? undefined : await scoreOnLists(set, plan, 'tuned', score);
  const ranking: RerankComparison = {
    depth: set.depth, corpus: set.corpus, positivesRetrieved: set.positivesRetrieved, bm25: set.bm25, base: base.metrics, tuned: tuned?.metrics,
  };
  const report = buildReport(casesOf(val), base.cases, tuned?.cases, undefined, { activation: opts.activation ?? 'sigmoid', ranking });
  return { report, base, tuned };
}
