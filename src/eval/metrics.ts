// Per-list ranking measures from the scores a reranker gave a query's candidates: the rank order, reciprocal rank,
// NDCG@k and the gap (best positive score − best negative score). ranking.ts averages them over realistic lists;
// training's validation loss (src/train/evaluate-loss.ts) reads the gap.
// Ties are broken pessimistically (a negative that ties a positive ranks above it), so a model whose scores collapse
// to one value earns poor metrics instead of a perfect ranking by luck of input order.

export interface ScoredCandidates {
  /** One score per candidate (raw logits). */
  scores: readonly number[];
  /** Same length as scores: true for a positive. */
  relevant: readonly boolean[];
}

/**
 * The older metrics over 1 positive + the mined negatives of each query (no longer computed): reports and base
 * scores saved by the page before the realistic lists hold them, and the page and export still show those.
 */
export interface RankingMetrics {
  /** Queries counted (those with at least one positive). */
  queries: number;
  mrr: number;
  ndcg: number;
  hit1: number;
  /** Mean over queries with a negative of (best positive score − best negative score). */
  meanGap: number;
  k: number;
}

/** Candidate indices in ranked order: score descending, negatives before positives on equal scores, then by index. */
export function rankOrder(c: ScoredCandidates): number[] {
  if (c.scores.length !== c.relevant.length) {
    throw new Error(`scores (${c.scores.length}) and relevant (${c.relevant.length}) must have the same length`);
  }
  return c.scores
    .map((_, i) => i)
    .sort((a, b) => c.scores[b] - c.scores[a] || Number(c.relevant[a]) - Number(c.relevant[b]) || a - b);
}

/** Reciprocal rank of the first positive within the top k (0 when none is there). */
export function reciprocalRank(c: ScoredCandidates, k = 10): number {
  const order = rankOrder(c);
  for (let r = 0; r < Math.min(k, order.length); r++) if (c.relevant[order[r]]) return 1 / (r + 1);
  return 0;
}

/** Binary-relevance NDCG@k: DCG = Σ rel_r / log2(r + 1) over ranks r ≤ k, divided by the ideal DCG. */
export function ndcgAt(c: ScoredCandidates, k = 10): number {
  const order = rankOrder(c);
  let dcg = 0;
  for (let r = 0; r < Math.min(k, order.length); r++) if (c.relevant[order[r]]) dcg += 1 / Math.log2(r + 2);
  const nRel = c.relevant.filter(Boolean).length;
  let ideal = 0;
  for (let r = 0; r < Math.min(k, nRel); r++) ideal += 1 / Math.log2(r + 2);
  return ideal === 0 ? 0 : dcg / ideal;
}

/** Best positive score − best negative score; undefined without a positive or a negative. */
export function gapOf(c: ScoredCandidates): number | undefined {
  let pos = -Infinity;
  let neg = -Infinity;
  c.scores.forEach((s, i) => {
    if (c.relevant[i]) pos = Math.max(pos, s);
    else neg = Math.max(neg, s);
  });
  return pos === -Infinity || neg === -Infinity ? undefined : pos - neg;
}
