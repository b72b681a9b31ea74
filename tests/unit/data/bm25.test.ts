import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Bm25Index } from '../../../src/data/bm25.ts';

interface Fixture {
  k1: number;
  b: number;
  epsilon: number;
  eps_idf: number;
  document_tokens: string[][];
  query_tokens: string[][];
  scores: number[][];
  top10: number[][];
}
const fx = JSON.parse(readFileSync(new URL('../../fixtures/bm25-jieba.json', import.meta.url), 'utf8')) as Fixture;

describe('BM25Okapi (rank_bm25 0.2.x) as an inverted index', () => {
  const index = Bm25Index.build(fx.document_tokens, { k1: fx.k1, b: fx.b, epsilon: fx.epsilon });

  it('floors negative idf at epsilon * mean idf like rank_bm25', () => {
    expect(Math.abs(index.epsIdf - fx.eps_idf)).toBeLessThan(1e-12);
    // verbatim jieba tokens: punctuation such as '，' is in most documents, so its idf was floored
    expect(index.df('，')).toBeGreaterThan(fx.document_tokens.length / 2);
    expect(index.idf[index.vocab.get('，')!]).toBe(index.epsIdf);
  });

  it('reproduces every fixture score within 1e-9 (dense and top-k paths)', () => {
    let worst = 0;
    fx.query_tokens.forEach((q, qi) => {
      const dense = index.scores(q);
      fx.scores[qi].forEach((want, d) => (worst = Math.max(worst, Math.abs(dense[d] - want))));
      for (const h of index.topK(q, fx.document_tokens.length)) {
        worst = Math.max(worst, Math.abs(h.score - fx.scores[qi][h.doc]));
      }
    });
    expect(worst).toBeLessThan(1e-9);
  });

  it('top-10 matches the fixture ranking (up to ties) and skips zero-overlap documents', () => {
    fx.query_tokens.forEach((q, qi) => {
      const hits = index.topK(q, 10);
      const want = fx.top10[qi].filter((d) => fx.scores[qi][d] > 0);
      // compare by score sequence so tied documents may swap
      expect(hits.map((h) => h.score.toFixed(9))).toEqual(want.map((d) => fx.scores[qi][d].toFixed(9)).slice(0, hits.length));
      for (const h of hits) expect(h.score).toBeGreaterThan(0);
      for (let i = 1; i < hits.length; i++) expect(hits[i - 1].score).toBeGreaterThanOrEqual(hits[i].score);
    });
  });

  it('accept() filters candidates and the scratch state resets between queries', () => {
    const q = fx.query_tokens[0];
    const all = index.topK(q, 20);
    const odd = index.topK(q, 20, (d) => d % 2 === 1);
    expect(odd.every((h) => h.doc % 2 === 1)).toBe(true);
    expect(odd.map((h) => h.doc)).toEqual(all.filter((h) => h.doc % 2 === 1).map((h) => h.doc).slice(0, odd.length));
    expect(index.topK(q, 20)).toEqual(all);
  });

  it('pruned top-k equals a full sort of the dense scores on a Zipf corpus where pruning kicks in', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const zipf = () => `w${Math.floor(Math.exp(rnd() * Math.log(20000)))}`; // heavy head, long tail
    const docs = Array.from({ length: 6000 }, () => Array.from({ length: 20 + Math.floor(rnd() * 80) }, zipf));
    const big = Bm25Index.build(docs);
    for (let q = 0; q < 60; q++) {
      const query = Array.from({ length: 2 + (q % 6) }, zipf);
      const dense = big.scores(query);
      const want = Array.from(dense.keys())
        .filter((d) => dense[d] > 0)
        .sort((a, b) => dense[b] - dense[a] || a - b)
        .slice(0, 25);
      const got = big.topK(query, 25);
      expect(got.length).toBe(want.length);
      got.forEach((h, r) => {
        expect(Math.abs(h.score - dense[want[r]])).toBeLessThan(1e-9);
        // ties within float noise may swap documents, never scores
        if (Math.abs(dense[want[r]] - (dense[want[r + 1]] ?? -1)) > 1e-9 && Math.abs(dense[want[r]] - (dense[want[r - 1]] ?? -1)) > 1e-9) {
          expect(h.doc).toBe(want[r]);
        }
      });
      const odd = big.topK(query, 25, (d) => d % 2 === 1);
      const wantOdd = want.length ? Array.from(dense.keys()).filter((d) => d % 2 === 1 && dense[d] > 0).sort((a, b) => dense[b] - dense[a] || a - b).slice(0, 25) : [];
      expect(odd.map((h) => h.score.toFixed(9))).toEqual(wantOdd.map((d) => dense[d].toFixed(9)));
    }
  });

  it('rejects an empty corpus with a clear message', () => {
    expect(() => Bm25Index.build([])).toThrow(/at least one document/);
  });
});
