import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Bm25Index } from '../../../src/data/bm25.ts';
import type { Chunk } from '../../../src/data/chunk.ts';
import type { QueryRecord } from '../../../src/data/jsonl.ts';
import { mine, tokenizeAll, type MineResult } from '../../../src/data/mine.ts';
import { mineNaive } from '../../../src/data/mine-naive.ts';
import { createTokenizer } from '../../../src/data/tokenize.ts';
import { splitBySource } from '../../../src/data/split.ts';

interface Squad {
  data: { paragraphs: { id: string; context: string; qas: { question: string; answers: { text: string }[] }[] }[] }[];
}
const squad = JSON.parse(readFileSync(new URL('../../fixtures/data/cmrc2018-trial.json', import.meta.url), 'utf8')) as Squad;
const chunks: Chunk[] = [];
const queries: QueryRecord[] = [];
for (const art of squad.data) {
  for (const p of art.paragraphs) {
    chunks.push({ id: p.id, text: p.context, source: p.id, start: 0, end: p.context.length });
    for (const qa of p.qas) queries.push({ query: qa.question, chunk_id: p.id, answers: qa.answers.map((a) => a.text) });
  }
}

describe('hard-negative mining on CMRC 2018 trial', () => {
  let res: MineResult;
  let index: Bm25Index;
  let qTokens: string[][];
  const asked = queries.filter((q) => q.query.trim());
  beforeAll(async () => {
    res = await mine(chunks, queries, { negatives: 7, topK: 30 });
    const tok = await createTokenizer('default');
    index = Bm25Index.build(await tokenizeAll(chunks.map((c) => c.text), tok));
    qTokens = await tokenizeAll(asked.map((q) => q.query), tok);
  }, 60_000);

  it('makes one example per question with the asked number of negatives, none equal to its positive', () => {
    expect(chunks.length).toBe(256);
    // two CMRC trial questions are empty strings: dropped and counted
    expect(res.stats.droppedQueries).toEqual({ unknownChunk: 0, empty: 2 });
    expect(res.train.length).toBe(queries.length - 2);
    for (const ex of res.train) {
      expect(ex.pos).toHaveLength(1);
      expect(ex.neg).toHaveLength(7);
      expect(ex.neg).not.toContain(ex.pos[0]);
      expect(new Set(ex.neg).size).toBe(ex.neg.length);
    }
  });

  it('takes negatives from the top of the BM25 ranking, in rank order', () => {
    const textToDoc = new Map(chunks.map((c, i) => [c.text, i]));
    let fromTop = 0;
    res.train.forEach((ex, qi) => {
      const hits = index.topK(qTokens[qi], 30);
      const rank = new Map(hits.map((h, r) => [h.doc, r]));
      const ranks = ex.neg.map((t) => rank.get(textToDoc.get(t)!)).filter((r): r is number => r !== undefined);
      for (let i = 1; i < ranks.length; i++) expect(ranks[i]).toBeGreaterThan(ranks[i - 1]);
      // every BM25 hit that was passed over sits above the last ranked negative only if a guard removed it
      fromTop += ranks.length;
    });
    expect(fromTop).toBe(res.stats.negatives.fromRanking);
    expect(res.stats.negatives.fromRanking / (7 * asked.length)).toBeGreaterThan(0.8);
    // the first negative is usually the best-scoring non-positive document
    const firstIsBest = res.train.filter((ex, qi) => {
      const best = index.topK(qTokens[qi], 2).find((h) => chunks[h.doc].id !== asked[qi].chunk_id);
      return best && ex.neg[0] === chunks[best.doc].text;
    }).length;
    expect(firstIsBest / asked.length).toBeGreaterThan(0.9);
  });

  it('counts what each guard removed (the answer-span guard fires on CMRC answers)', () => {
    const r = res.stats.removed;
    expect(r.positive).toBeGreaterThan(0);
    expect(r.answerSpan).toBeGreaterThan(0);
    expect(Object.keys(r).sort()).toEqual(['answerSpan', 'nearDuplicate', 'overlap', 'positive', 'repeated']);
    for (const ex of res.train.slice(0, 200)) {
      const q = queries.find((x) => x.query === ex.query)!;
      for (const a of q.answers!.filter((a) => a.trim().length >= 2)) for (const n of ex.neg) expect(n.includes(a.trim())).toBe(false);
    }
  });

  it('seed-compatible mode agrees with the direct port of the seed loop', async () => {
    const sub = queries.slice(0, 60);
    const seedRes = await mine(chunks, sub, { negatives: 5, topK: 10, seedCompatible: true, topUpRandom: false });
    const tok = await createTokenizer('seed');
    const corpus = await tokenizeAll(chunks.map((c) => c.text), tok);
    const ids = new Map(chunks.map((c, i) => [c.id, i]));
    const naive = mineNaive(
      chunks.map((c) => c.text),
      corpus,
      sub.map((q) => ({ query: q.query, tokens: tok.tokenize(q.query), pos: ids.get(q.chunk_id)! })),
      5,
      10,
    );
    // verbatim tokens include '，' and '的', so every document scores above 0 and both rank all of them
    expect(seedRes.train.map((e) => e.neg)).toEqual(naive.map((e) => e.neg));
  });

  it('splits by source document: no document feeds both sides', async () => {
    const r = await mine(chunks, queries, { negatives: 3, topK: 10, valRatio: 0.2 });
    const split = splitBySource(chunks, 0.2, 42);
    expect(r.stats.sources.val).toBe(split.valSources.length);
    expect(r.val.length).toBeGreaterThan(100);
    const valTexts = new Set(chunks.filter((_, i) => split.side[i] === 1).map((c) => c.text));
    for (const ex of r.train) for (const t of [...ex.pos, ...ex.neg]) expect(valTexts.has(t)).toBe(false);
    for (const ex of r.val) for (const t of [...ex.pos, ...ex.neg]) expect(valTexts.has(t)).toBe(true);
  });
});

describe('mining guards on hand-made chunks', () => {
  const base = '燃气经营企业应当建立健全燃气安全评估和风险管理体系，发现燃气安全事故隐患的，应当及时采取措施消除隐患。';
  const mk = (id: string, text: string, source: string, start: number): Chunk => ({ id, text, source, start, end: start + text.length });
  const cs: Chunk[] = [
    mk('pos', base, 'a.txt', 0),
    mk('ovl', '消除隐患。燃气经营企业应当对燃气设施定期检查，燃气安全第一。', 'a.txt', base.length - 5),
    mk('dup', base.replace('及时', '立即'), 'b.txt', 0),
    mk('ans', '风险管理体系由燃气管理部门负责监督，燃气企业配合。', 'c.txt', 0),
    mk('ok1', '燃气企业的安全评估报告每年提交一次。', 'd.txt', 0),
    mk('ok2', '城市道路占用挖掘许可由市政工程行政主管部门负责审批。', 'e.txt', 0),
  ];
  it('removes overlapping, near-duplicate and answer-bearing candidates and counts each', async () => {
    const q: QueryRecord[] = [{ query: '燃气经营企业如何管理燃气安全风险', chunk_id: 'pos', answers: ['燃气管理部门负责监督'] }];
    const r = await mine(cs, q, { negatives: 3, topK: 10, guards: { nearDuplicate: 0.6 } });
    const neg = r.train[0].neg;
    expect(neg).not.toContain(cs[1].text);
    expect(neg).not.toContain(cs[2].text);
    expect(neg).not.toContain(cs[3].text);
    expect(neg).toContain(cs[4].text);
    expect(r.stats.removed).toMatchObject({ overlap: 1, nearDuplicate: 1, answerSpan: 1 });
    const off = await mine(cs, q, { negatives: 3, topK: 10, seedCompatible: true });
    expect(off.stats.removed).toMatchObject({ overlap: 0, nearDuplicate: 0, answerSpan: 0 });
    expect(off.train[0].neg).toContain(cs[1].text);
  });

  it('drops queries whose chunk is unknown and reports them', async () => {
    const r = await mine(cs, [{ query: 'x', chunk_id: 'nope' }, { query: ' ', chunk_id: 'pos' }], { negatives: 1 });
    expect(r.stats.droppedQueries).toEqual({ unknownChunk: 1, empty: 1 });
    await expect(mine([], [], {})).rejects.toThrow(/No chunks/);
  });
});
