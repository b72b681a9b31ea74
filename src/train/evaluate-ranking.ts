// The reranking half of validation: score every (query, candidate) pair of the realistic lists (src/eval/candidates.ts)
// with the model on the GPU, in batches no larger than a training micro-batch (so no new, larger work buffers), and
// turn the scores into NDCG@10 / MRR@10 / Hit@1 / Recall@10 (src/eval/ranking.ts). Cancellable between batches,
// progress in pairs.

import type { RerankSet } from '../eval/candidates.ts';
import { type RerankMetrics, rerankMetrics } from '../eval/ranking.ts';
import type { PairTokenizer } from '../model/tokenize.ts';
import { throwIfAborted, type LongRunning } from '../util/progress.ts';
import type { GpuModel } from './gpu-model.ts';

export interface RankingOptions extends LongRunning {
  maxLength: number;
  /** Pairs per forward pass. */
  batchPairs: number;
  /** The training run's query token cap (0 = none), so validation reads pairs as training did. */
  queryMaxLength?: number;
}

/** Scores each list's candidates and returns the metrics and the raw scores (one array per list). */
export async function evaluateRanking(gm: GpuModel, tokenizer: PairTokenizer, set: RerankSet, o: RankingOptions): Promise<{ metrics: RerankMetrics; scores: Float32Array[] }> {
  const queries: string[] = [];
  const docs: string[] = [];
  for (const l of set.lists) for (const d of l.docs) (queries.push(l.query), docs.push(d));
  const flat = new Float32Array(queries.length);
  const stage = 'validation ranking';
  const step = Math.max(1, o.batchPairs);
  for (let at = 0; at < queries.length; at += step) {
    throwIfAborted(o.signal);
    o.onProgress?.({ stage, done: at, total: queries.length });
    const end = Math.min(queries.length, at + step);
    const tokens = tokenizer.encodePairs(queries.slice(at, end), docs.slice(at, end), { maxLength: o.maxLength, queryMaxLength: o.queryMaxLength ?? 0 });
    flat.set(await gm.score(tokens), at);
  }
  o.onProgress?.({ stage, done: queries.length, total: queries.length });
  const scores: Float32Array[] = [];
  let at = 0;
  for (const l of set.lists) (scores.push(flat.subarray(at, at + l.docs.length)), (at += l.docs.length));
  const metrics = rerankMetrics(set.lists.map((l, i) => ({ scores: Array.from(scores[i]), relevant: l.relevant })));
  return { metrics, scores };
}
