// Ranking metrics over each query's candidate list (its positives and its hard negatives), computed from scores the
// reranker gave them: MRR@k, NDCG@k, Hit@1 and the mean gap (best positive score − best negative score).
// Ties are broken pessimistically (a negative that ties a positive ranks above it), so a model whose scores collapse
// to one value earns poor metrics instead of a perfect ranking by luck of input order.

export interface ScoredCandidates {
  /** One score per candidate (raw logits). */
  scores: readonly number[];
  /** Same length as scores: true for a positive. */
  relevant: readonly boolean[];
}

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

export function rankingMetrics(cases: readonly ScoredCandidates[], k = 10): RankingMetrics {
  let n = 0;
  let mrr = 0;
  let ndcg = 0;
  let hit1 = 0;
  let gapSum = 0;
  let gapN = 0;
  for (const c of cases) {
    if (!c.relevant.some(Boolean)) continue;
    n++;
    const rr = reciprocalRank(c, k);
    mrr += rr;
    ndcg += ndcgAt(c, k);
    if (rr === 1) hit1++;
    const g = gapOf(c);
    if (g !== undefined) {
      gapSum += g;
      gapN++;
    }
  }
  const mean = (x: number, d: number) => (d === 0 ? 0 : x / d);
  return { queries: n, mrr: mean(mrr, n), ndcg: mean(ndcg, n), hit1: mean(hit1, n), meanGap: mean(gapSum, gapN), k };
}

/** Builds the candidate lists of FlagEmbedding examples: positives first, then negatives. */
export function candidatesOf(examples: readonly { query: string; pos: readonly string[]; neg: readonly string[] }[]): {
  pairs: { query: string; doc: string }[];
  /** Per example: where its candidates start in `pairs`, how many there are, and which are positive. */
  spans: { start: number; relevant: boolean[] }[];
} {
  const pairs: { query: string; doc: string }[] = [];
  const spans: { start: number; relevant: boolean[] }[] = [];
  for (const ex of examples) {
    spans.push({ start: pairs.length, relevant: [...ex.pos.map(() => true), ...ex.neg.map(() => false)] });
    for (const d of ex.pos) pairs.push({ query: ex.query, doc: d });
    for (const d of ex.neg) pairs.push({ query: ex.query, doc: d });
  }
  return { pairs, spans };
}

/** Cuts a flat score list (one per pair from candidatesOf) back into per-example candidate lists. */
export function splitScores(scores: readonly number[], spans: readonly { start: number; relevant: boolean[] }[]): ScoredCandidates[] {
  const need = spans.length ? spans[spans.length - 1].start + spans[spans.length - 1].relevant.length : 0;
  if (scores.length !== need) throw new Error(`expected ${need} scores (one per candidate pair), got ${scores.length}`);
  return spans.map((s) => ({ scores: scores.slice(s.start, s.start + s.relevant.length), relevant: s.relevant }));
}
