// Reranking metrics over realistic candidate lists (a query's BM25 top N plus its positives, see candidates.ts), the
// figures sentence-transformers' CrossEncoderRerankingEvaluator and the BEIR/MTEB tables report: NDCG@10, MRR@10,
// plus Hit@1 and Recall@10. A pure function of (per-query scores, relevance), so the trainer, the page and the
// `score`/`eval` commands compute them the same way; and the rule that picks the best checkpoint by one of them.
//
// Ties are broken pessimistically (metrics.ts rankOrder: a negative that ties a positive ranks above it), so a model
// whose scores collapse to one value, or BM25 scoring several candidates 0, earns no credit from input order.
// sentence-transformers' NDCG (sklearn's ndcg_score) averages over ties instead; on real-valued model scores ties
// do not occur and the two agree.

import { ndcgAt, rankOrder, reciprocalRank, type ScoredCandidates } from './metrics.ts';

export type { ScoredCandidates };

export interface RerankMetrics {
  /** Queries counted (those with at least one positive in their list). */
  queries: number;
  ndcg10: number;
  mrr10: number;
  hit1: number;
  /** Share of each query's positives found in its top 10, averaged over queries. */
  recall10: number;
}

/** The metrics that can choose the best checkpoint, as the command line spells them. 'loss' is validation loss. */
export const SELECT_METRICS = ['ndcg@10', 'mrr@10', 'hit@1', 'recall@10', 'loss'] as const;
export type SelectBy = (typeof SELECT_METRICS)[number];
export const DEFAULT_SELECT_BY: SelectBy = 'ndcg@10';

/** Share of the positives ranked within the top k (0 without positives). */
export function recallAt(c: ScoredCandidates, k = 10): number {
  const order = rankOrder(c);
  let found = 0;
  for (let r = 0; r < Math.min(k, order.length); r++) if (c.relevant[order[r]]) found++;
  const nRel = c.relevant.filter(Boolean).length;
  return nRel === 0 ? 0 : found / nRel;
}

/** NDCG@10, MRR@10, Hit@1 and Recall@10 averaged over the lists that hold a positive. */
export function rerankMetrics(lists: readonly ScoredCandidates[]): RerankMetrics {
  let n = 0;
  const sum = { ndcg10: 0, mrr10: 0, hit1: 0, recall10: 0 };
  for (const c of lists) {
    if (!c.relevant.some(Boolean)) continue;
    n++;
    sum.ndcg10 += ndcgAt(c, 10);
    const rr = reciprocalRank(c, 10);
    sum.mrr10 += rr;
    if (rr === 1) sum.hit1++;
    sum.recall10 += recallAt(c, 10);
  }
  const mean = (x: number) => (n === 0 ? NaN : x / n);
  return { queries: n, ndcg10: mean(sum.ndcg10), mrr10: mean(sum.mrr10), hit1: mean(sum.hit1), recall10: mean(sum.recall10) };
}

/** The value of `by` in a validation result (higher is better except for loss). */
export function selectValue(by: SelectBy, r: { loss: number; ranking?: RerankMetrics }): number {
  if (by === 'loss') return r.loss;
  if (!r.ranking) return NaN;
  const key = ({ 'ndcg@10': 'ndcg10', 'mrr@10': 'mrr10', 'hit@1': 'hit1', 'recall@10': 'recall10' } as const)[by];
  return r.ranking[key];
}

/**
 * Whether a candidate beats the best so far under `by`: a strictly better value, or the same value and a lower
 * validation loss (Hit@1 on a few dozen queries ties often). NaN never wins, and anything finite beats a NaN best.
 */
export function beats(by: SelectBy, cand: { value: number; loss: number }, best: { value: number; loss: number }): boolean {
  if (Number.isNaN(cand.value)) return false;
  if (Number.isNaN(best.value)) return true;
  const better = by === 'loss' ? cand.value < best.value : cand.value > best.value;
  return better || (cand.value === best.value && cand.loss < best.loss);
}

export function isSelectBy(s: string): s is SelectBy {
  return (SELECT_METRICS as readonly string[]).includes(s);
}

/** "NDCG@10", "validation loss": how a metric is named on screen. */
export function metricLabel(by: SelectBy): string {
  return by === 'loss' ? 'validation loss' : by.replace('ndcg', 'NDCG').replace('mrr', 'MRR').replace('hit', 'Hit').replace('recall', 'Recall');
}

/** "NDCG@10 0.612" style label of a metric value. */
export function formatSelect(by: SelectBy, value: number): string {
  const label = metricLabel(by);
  return `${label} ${Number.isFinite(value) ? value.toFixed(4) : String(value)}`;
}

const fixed4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));

/** "NDCG@10 0.6123 (BM25 0.5234)  MRR@10 …": a model's figures, with BM25's on the same lists beside them when given. */
export function rerankMetricsText(m: RerankMetrics, bm25?: RerankMetrics): string {
  const rows: [string, keyof RerankMetrics][] = [['NDCG@10', 'ndcg10'], ['MRR@10', 'mrr10'], ['Hit@1', 'hit1'], ['Recall@10', 'recall10']];
  return rows.map(([label, k]) => `${label} ${fixed4(m[k])}${bm25 ? ` (BM25 ${fixed4(bm25[k])})` : ''}`).join('  ');
}
