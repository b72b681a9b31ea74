// Realistic validation candidate lists, as sentence-transformers' CrossEncoderRerankingEvaluator builds them from
// retrieved documents (its `documents` samples with always_rerank_positives=True): for each validation query, the top
// N documents that BM25 retrieves from the whole validation corpus, plus the query's positives where BM25 missed
// them. The reranker is then judged on the list a RAG pipeline would hand it, and BM25's own order of the same list
// is the floor it has to beat.
//
// BM25 is the miner's: rank_bm25-exact BM25Okapi (src/data/bm25.ts) over jieba tokens in the miner's default mode
// (src/data/tokenize.ts). The corpus is every distinct document of the validation examples (positives and
// negatives): only validation documents, so nothing of the training split leaks in.
// Differences from sentence-transformers: BM25's order puts a positive it did not retrieve after the retrieved ones
// (by its BM25 score) instead of scoring the query 0; with N ≥ 10 the @10 figures are the same either way.

import { Bm25Index } from '../data/bm25.ts';
import { tokenizeAll } from '../data/mine.ts';
import { createTokenizer, type Tokenizer } from '../data/tokenize.ts';
import { throwIfAborted, type LongRunning } from '../util/progress.ts';
import { type RerankMetrics, rerankMetrics } from './ranking.ts';

export const DEFAULT_RERANK_DEPTH = 30;

export interface RerankList {
  query: string;
  /** BM25's top N (best first), then the positives BM25 did not retrieve. */
  docs: string[];
  relevant: boolean[];
  /** BM25 score of each document for this query. */
  bm25: number[];
}

export interface RerankSet {
  lists: RerankList[];
  /** N: BM25 candidates per query. */
  depth: number;
  /** Distinct validation documents BM25 searched. */
  corpus: number;
  /** BM25's own order of each list: the floor a reranker must beat. */
  bm25: RerankMetrics;
  /** Share of all positives BM25 put in its top N (the most a reranker of BM25's list could reach). */
  positivesRetrieved: number;
  /** Query–document pairs to score per evaluation. */
  pairs: number;
}

export interface RerankSetOptions extends LongRunning {
  /** Candidates per query from BM25 (default 30). */
  depth?: number;
  /** A loaded jieba tokenizer (default: the miner's default mode). */
  tokenizer?: Tokenizer;
}

/** Builds every validation query's candidate list (one BM25 index over the validation documents). */
export async function buildRerankSet(
  examples: readonly { query: string; pos: readonly string[]; neg: readonly string[] }[],
  opts: RerankSetOptions = {},
): Promise<RerankSet> {
  const depth = opts.depth ?? DEFAULT_RERANK_DEPTH;
  if (!Number.isInteger(depth) || depth < 1) throw new Error(`the number of BM25 candidates per validation query must be an integer ≥ 1 (got ${depth})`);
  const withPos = examples.filter((e) => e.pos.length > 0 && e.query.trim());
  const index = new Map<string, number>();
  const corpus: string[] = [];
  for (const ex of withPos) {
    for (const d of [...ex.pos, ...ex.neg]) {
      if (!index.has(d)) (index.set(d, corpus.length), corpus.push(d));
    }
  }
  if (!withPos.length) return { lists: [], depth, corpus: 0, bm25: rerankMetrics([]), positivesRetrieved: NaN, pairs: 0 };
  const tok = opts.tokenizer ?? (await createTokenizer('default'));
  const stage = 'validation candidates (BM25)';
  const docTokens = await tokenizeAll(corpus, tok, { signal: opts.signal, onProgress: opts.onProgress, stage });
  const queryTokens = await tokenizeAll(withPos.map((e) => e.query), tok, { signal: opts.signal, stage, threads: 1 });
  const bm25 = Bm25Index.build(docTokens);
  const lists: RerankList[] = [];
  let posTotal = 0;
  let posFound = 0;
  let pairs = 0;
  for (const [qi, ex] of withPos.entries()) {
    if (qi % 200 === 0) {
      throwIfAborted(opts.signal);
      opts.onProgress?.({ stage, done: qi, total: withPos.length });
    }
    const positives = new Set(ex.pos);
    // topK returns only documents sharing a term with the query; the rest (score 0) fill up in corpus order
    const hits = bm25.topK(queryTokens[qi], depth);
    const top = hits.map((h) => h.doc);
    if (top.length < depth) {
      const inTop = new Set(top);
      for (let d = 0; d < corpus.length && top.length < depth; d++) if (!inTop.has(d)) top.push(d);
    }
    const docs = top.map((d) => corpus[d]);
    const found = docs.filter((d) => positives.has(d)).length;
    let missed = [...positives].filter((p) => !docs.includes(p));
    // dense scores only when a positive was missed (they order the missed ones and are shown beside them)
    const scores = missed.length ? bm25.scores(queryTokens[qi]) : undefined;
    const scoreOf = (d: string) => scores?.[index.get(d)!] ?? 0;
    if (scores) missed = missed.sort((a, b) => scoreOf(b) - scoreOf(a));
    posTotal += positives.size;
    posFound += found;
    const all = [...docs, ...missed];
    const topScore = new Map(hits.map((h) => [corpus[h.doc], h.score]));
    lists.push({ query: ex.query, docs: all, relevant: all.map((d) => positives.has(d)), bm25: all.map((d) => topScore.get(d) ?? scoreOf(d)) });
    pairs += all.length;
  }
  opts.onProgress?.({ stage, done: withPos.length, total: withPos.length });
  return {
    lists,
    depth,
    corpus: corpus.length,
    // BM25's order is the list's order (its ranking, ties as it broke them), as sentence-transformers scores a
    // retrieved list: position scores N+k … 1
    bm25: rerankMetrics(lists.map((l) => ({ scores: listOrderScores(l), relevant: l.relevant }))),
    positivesRetrieved: posTotal ? posFound / posTotal : NaN,
    pairs,
  };
}

/** BM25's order of a list as scores (N, N−1, …, 1: the list is BM25's ranking), how its floor figures are scored. */
export function listOrderScores(l: { docs: readonly string[] }): number[] {
  return l.docs.map((_, i) => l.docs.length - i);
}
