// Reranking metrics over realistic lists (NDCG@10, MRR@10, Hit@1, Recall@10), the rule that picks the best epoch,
// and the BM25 candidate lists built from the validation corpus only (as CrossEncoderRerankingEvaluator's
// `documents` samples: BM25's top N plus the positives it missed).
import { describe, expect, it } from 'vitest';
import { buildRerankSet } from '../../../src/eval/candidates.ts';
import { beats, recallAt, rerankMetrics, selectValue } from '../../../src/eval/ranking.ts';
import { Bm25Index } from '../../../src/data/bm25.ts';
import { createTokenizer } from '../../../src/data/tokenize.ts';

const c = (scores: number[], relevant: boolean[]) => ({ scores, relevant });
const log2 = Math.log2;

describe('rerankMetrics', () => {
  it('equals hand-computed NDCG@10, MRR@10, Hit@1 and Recall@10', () => {
    // A: positive first. B: two positives at ranks 2 and 12 of 12. C: positive at rank 11 (outside the top 10).
    const A = c([5, 1, 0], [true, false, false]);
    const bScores = Array.from({ length: 12 }, (_, i) => 12 - i);
    const B = c(bScores, bScores.map((_, i) => i === 1 || i === 11));
    const C = c(Array.from({ length: 11 }, (_, i) => 11 - i), Array.from({ length: 11 }, (_, i) => i === 10));
    const m = rerankMetrics([A, B, C, c([1, 2], [false, false])]);
    expect(m.queries).toBe(3); // the list without a positive is not counted
    const ndcgB = 1 / log2(3) / (1 + 1 / log2(3));
    expect(m.ndcg10).toBeCloseTo((1 + ndcgB + 0) / 3, 12);
    expect(m.mrr10).toBeCloseTo((1 + 1 / 2 + 0) / 3, 12);
    expect(m.hit1).toBeCloseTo(1 / 3, 12);
    expect(m.recall10).toBeCloseTo((1 + 1 / 2 + 0) / 3, 12);
    expect(recallAt(B, 12)).toBe(1);
  });

  it('gives collapsed scores no credit (ties rank the positive last)', () => {
    const m = rerankMetrics([c([0.5, 0.5, 0.5], [true, false, false])]);
    expect(m.hit1).toBe(0);
    expect(m.mrr10).toBeCloseTo(1 / 3, 12);
  });

  it('has no value without lists', () => {
    expect(rerankMetrics([]).queries).toBe(0);
    expect(rerankMetrics([]).ndcg10).toBeNaN();
  });
});

describe('choosing the best epoch', () => {
  const r = { queries: 3, ndcg10: 0.6, mrr10: 0.5, hit1: 1 / 3, recall10: 0.9 };
  it('reads the chosen metric', () => {
    expect(selectValue('ndcg@10', { loss: 1, ranking: r })).toBe(0.6);
    expect(selectValue('mrr@10', { loss: 1, ranking: r })).toBe(0.5);
    expect(selectValue('hit@1', { loss: 1, ranking: r })).toBe(1 / 3);
    expect(selectValue('recall@10', { loss: 1, ranking: r })).toBe(0.9);
    expect(selectValue('loss', { loss: 1, ranking: r })).toBe(1);
    expect(selectValue('ndcg@10', { loss: 1 })).toBeNaN();
  });
  it('prefers higher ranking metrics, lower loss, breaks ties by loss, never picks NaN', () => {
    expect(beats('ndcg@10', { value: 0.7, loss: 9 }, { value: 0.6, loss: 1 })).toBe(true);
    expect(beats('ndcg@10', { value: 0.5, loss: 0 }, { value: 0.6, loss: 1 })).toBe(false);
    expect(beats('loss', { value: 0.5, loss: 0.5 }, { value: 0.6, loss: 0.6 })).toBe(true);
    expect(beats('loss', { value: 0.7, loss: 0.7 }, { value: 0.6, loss: 0.6 })).toBe(false);
    expect(beats('hit@1', { value: 0.5, loss: 0.4 }, { value: 0.5, loss: 0.6 })).toBe(true);
    expect(beats('hit@1', { value: 0.5, loss: 0.6 }, { value: 0.5, loss: 0.6 })).toBe(false);
    expect(beats('ndcg@10', { value: NaN, loss: 0 }, { value: 0.1, loss: 1 })).toBe(false);
    expect(beats('ndcg@10', { value: 0.1, loss: 1 }, { value: NaN, loss: NaN })).toBe(true);
  });
});

describe('buildRerankSet', () => {
  const val = [
    { query: '北京的天气怎么样', pos: ['北京今天天气晴朗，气温二十度。'], neg: ['上海今天下雨。', '广州的美食很有名。'] },
    { query: '上海下雨了吗', pos: ['上海今天下雨。'], neg: ['北京今天天气晴朗，气温二十度。', '深圳的科技公司很多。'] },
    { query: '哪里的美食有名', pos: ['广州的美食很有名。', '成都的火锅和美食很有名。'], neg: ['深圳的科技公司很多。'] },
    // BM25 prefers the Beijing document (今天 + 天气) to this query's positive
    { query: '今天天气', pos: ['上海今天下雨。'], neg: ['深圳的科技公司很多。'] },
  ];

  it('takes BM25 top N of the validation corpus plus missed positives, in BM25 order', async () => {
    const tok = await createTokenizer('default');
    const set = await buildRerankSet(val, { depth: 1, tokenizer: tok });
    // the corpus is every distinct validation document, and only those
    expect(set.corpus).toBe(5);
    const corpus = ['北京今天天气晴朗，气温二十度。', '上海今天下雨。', '广州的美食很有名。', '深圳的科技公司很多。', '成都的火锅和美食很有名。'];
    const index = Bm25Index.build(corpus.map((d) => tok.tokenize(d)));
    for (const [i, l] of set.lists.entries()) {
      const top = index.topK(tok.tokenize(val[i].query), 1).map((h) => corpus[h.doc]);
      expect(l.docs.slice(0, top.length)).toEqual(top);
      for (const p of val[i].pos) expect(l.docs).toContain(p);
      expect(l.relevant).toEqual(l.docs.map((d) => val[i].pos.includes(d)));
      expect(l.docs.length).toBe(1 + val[i].pos.filter((p) => !top.includes(p)).length);
      expect(new Set(l.docs).size).toBe(l.docs.length);
    }
    expect(set.lists[2].docs).toEqual(['广州的美食很有名。', '成都的火锅和美食很有名。']); // the second positive, missed, comes after
    expect(set.lists[3].docs).toEqual(['北京今天天气晴朗，气温二十度。', '上海今天下雨。']);
    expect(set.lists[3].relevant).toEqual([false, true]);
    expect(set.positivesRetrieved).toBeCloseTo(3 / 5, 12);
    // BM25's floor is its own order of each list
    const floor = rerankMetrics(set.lists.map((l) => ({ scores: l.docs.map((_, j) => -j), relevant: l.relevant })));
    expect(set.bm25).toEqual(floor);
    expect(set.bm25.hit1).toBeCloseTo(3 / 4, 12); // the last query's positive is second
    expect(set.pairs).toBe(set.lists.reduce((a, l) => a + l.docs.length, 0));
  });

  it('pads short BM25 rankings with other validation documents, and refuses a bad depth', async () => {
    const set = await buildRerankSet(val, { depth: 30 });
    for (const l of set.lists) expect(l.docs.length).toBe(5); // the whole corpus when it is smaller than N
    expect(set.positivesRetrieved).toBe(1);
    expect(set.bm25.recall10).toBe(1);
    await expect(buildRerankSet(val, { depth: 0 })).rejects.toThrow(/integer ≥ 1/);
  });
});
