import { describe, expect, it } from 'vitest';
import { gapOf, ndcgAt, rankOrder, reciprocalRank } from '../../../src/eval/metrics.ts';

const c = (scores: number[], relevant: boolean[]) => ({ scores, relevant });

describe('ranking metrics', () => {
  it('ranks by score, ties pessimistic for positives', () => {
    expect(rankOrder(c([0.1, 0.9, 0.5], [true, false, false]))).toEqual([1, 2, 0]);
    // a tie between the positive and a negative puts the negative first
    expect(rankOrder(c([1, 1], [true, false]))).toEqual([1, 0]);
    expect(() => rankOrder(c([1], [true, false]))).toThrow(/same length/);
  });

  it('reciprocal rank, NDCG and gap equal hand-computed values', () => {
    // query A: positive ranked 1st  -> RR 1,   NDCG 1,                 gap 3 - 1 = 2
    // query B: positive ranked 3rd  -> RR 1/3, NDCG 1/log2(4) = 0.5,   gap 0 - 2 = -2
    // query C: positive ranked 2nd  -> RR 1/2, NDCG 1/log2(3) = 0.6309, gap 1 - 1.5 = -0.5
    const A = c([3, 1, 0], [true, false, false]);
    expect(reciprocalRank(A)).toBe(1);
    expect(ndcgAt(A)).toBe(1);
    expect(gapOf(A)).toBe(2);
    const B = c([0, 2, 1], [true, false, false]);
    const C = c([1, 1.5, -1], [true, false, false]);
    expect(reciprocalRank(B)).toBeCloseTo(1 / 3, 12);
    expect(ndcgAt(B)).toBeCloseTo(0.5, 12);
    expect(ndcgAt(C)).toBeCloseTo(1 / Math.log2(3), 12);
    expect(gapOf(C)).toBeCloseTo(-0.5, 12);
    expect(reciprocalRank(C)).toBeCloseTo(1 / 2, 12);
    expect(gapOf(B)).toBeCloseTo(-2, 12);
    expect(gapOf(c([1], [true]))).toBeUndefined();
  });

  it('cuts at k: a positive below rank k counts 0', () => {
    const scores = Array.from({ length: 12 }, (_, i) => 12 - i); // positive last, rank 12
    const rel = scores.map((_, i) => i === 11);
    expect(reciprocalRank(c(scores, rel), 10)).toBe(0);
    expect(ndcgAt(c(scores, rel), 10)).toBe(0);
    expect(reciprocalRank(c(scores, rel), 12)).toBeCloseTo(1 / 12, 12);
  });

  it('NDCG with two positives uses the ideal DCG of two', () => {
    // ranking: neg, pos, pos -> DCG = 1/log2(3) + 1/log2(4); IDCG = 1 + 1/log2(3)
    const v = ndcgAt(c([1, 2, 0.5], [true, false, true]));
    expect(v).toBeCloseTo((1 / Math.log2(3) + 0.5) / (1 + 1 / Math.log2(3)), 12);
  });

  it('collapsed scores (all equal) earn no credit', () => {
    const flat = c([0.3, 0.3, 0.3], [true, false, false]);
    expect(rankOrder(flat)[0]).not.toBe(0);
    expect(reciprocalRank(flat)).toBeCloseTo(1 / 3, 12);
    expect(gapOf(flat)).toBe(0);
  });
});
