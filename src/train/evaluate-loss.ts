// Validation for the trainer: the training loss (same kind, no dropout) over fixed validation groups, with the
// ranking figures the seed reports per group: the gap (positive score − best negative score, as src/eval's gapOf)
// and MRR (pessimistic ties, as src/eval's reciprocalRank), and the spread of all scores (a collapse detector).

import { gapOf, reciprocalRank } from '../eval/metrics.ts';
import type { PairBatch, PairTokenizer } from '../model/tokenize.ts';
import { throwIfAborted } from '../util/progress.ts';
import { type Group, pairsOf, stepsOf } from './batches.ts';
import type { GpuModel } from './gpu-model.ts';
import { bceWithLogitsRef, listwiseSoftmaxRef } from '../model/reference/losses.ts';

export interface ValBatch {
  tokens: PairBatch;
  labels: Float32Array;
}

export interface ValResult {
  loss: number;
  meanGap: number;
  mrr: number;
  /** Standard deviation of every validation score: near 0 means the model outputs one value for everything. */
  scoreStd: number;
  /** [groups × groupSize] raw logits, group by group. */
  scores: Float32Array;
}

/** Tokenises validation groups once, in batches of whole groups (queries capped as in training). */
export function tokeniseGroups(tokenizer: PairTokenizer, groups: readonly Group[], maxLength: number, groupsPerBatch: number, queryMaxLength = 0): ValBatch[] {
  return stepsOf(groups, Math.max(1, groupsPerBatch)).map((gs) => {
    const p = pairsOf(gs);
    return { tokens: tokenizer.encodePairs(p.queries, p.docs, { maxLength, queryMaxLength }), labels: p.labels };
  });
}

/** Scores the batches and computes the loss (mean over pairs for bce, over groups for listwise) in float64. */
export async function evaluateGroups(gm: GpuModel, batches: readonly ValBatch[], o: { loss: 'bce' | 'listwise'; groupSize: number; posWeight?: number; signal?: AbortSignal }): Promise<ValResult> {
  const parts: Float32Array[] = [];
  let lossSum = 0;
  let lossCount = 0;
  for (const b of batches) {
    throwIfAborted(o.signal);
    const s = await gm.score(b.tokens);
    parts.push(s);
    if (o.loss === 'bce') {
      lossSum += bceWithLogitsRef(s, b.labels, o.posWeight).loss * s.length;
      lossCount += s.length;
    } else {
      const g = s.length / o.groupSize;
      lossSum += listwiseSoftmaxRef(s, o.groupSize).loss * g;
      lossCount += g;
    }
  }
  const n = parts.reduce((a, p) => a + p.length, 0);
  const scores = new Float32Array(n);
  let at = 0;
  for (const p of parts) (scores.set(p, at), (at += p.length));
  const G = n / o.groupSize;
  const relevant = Array.from({ length: o.groupSize }, (_, j) => j === 0);
  let gap = 0;
  let mrr = 0;
  for (let g = 0; g < G; g++) {
    const c = { scores: Array.from(scores.subarray(g * o.groupSize, (g + 1) * o.groupSize)), relevant };
    gap += gapOf(c) ?? 0;
    mrr += reciprocalRank(c, o.groupSize);
  }
  let mean = 0;
  for (const v of scores) mean += v;
  mean /= Math.max(1, n);
  let varSum = 0;
  for (const v of scores) varSum += (v - mean) ** 2;
  return {
    loss: lossCount ? lossSum / lossCount : NaN,
    meanGap: G ? gap / G : NaN,
    mrr: G ? mrr / G : NaN,
    scoreStd: Math.sqrt(varSum / Math.max(1, n)),
    scores,
  };
}
