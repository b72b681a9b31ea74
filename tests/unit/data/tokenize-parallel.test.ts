import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { mine, openTokenizePool, PARALLEL_MIN_TEXTS, tokenizeAll, tokenizeHere } from '../../../src/data/mine.ts';
import { createTokenizer } from '../../../src/data/tokenize.ts';
import { decodeTokens, encodeTokens } from '../../../src/data/tokenize-batch.ts';
import { openNodeTokenizePool } from '../../../src/data/tokenize-pool-node.ts';
import type { TokenizePool } from '../../../src/data/tokenize-pool.ts';
import type { Chunk } from '../../../src/data/chunk.ts';
import type { QueryRecord } from '../../../src/data/jsonl.ts';

const fx = JSON.parse(readFileSync(new URL('../../fixtures/bm25-jieba.json', import.meta.url), 'utf8')) as { documents: string[]; queries: string[] };
const squad = JSON.parse(readFileSync(new URL('../../fixtures/data/cmrc2018-trial.json', import.meta.url), 'utf8')) as {
  data: { paragraphs: { context: string; qas: { question: string }[] }[] }[];
};
const paragraphs = squad.data.flatMap((a) => a.paragraphs.map((p) => p.context));
const questions = squad.data.flatMap((a) => a.paragraphs.flatMap((p) => p.qas.map((q) => q.question)));
// real text plus the awkward cases: empty, whitespace only, Latin, digits and ranges, emoji, line breaks
const texts = [...fx.documents, ...fx.queries, ...paragraphs, ...questions, '', '   ', '\n', 'Outdoor ADVERTISING 2023-7-6', '改动市\n政燃气设\n施。', '😀 表情 ‘引号’'];

const pools: TokenizePool[] = [];
afterAll(() => pools.forEach((p) => p.close()));

describe('tokenising on worker threads', () => {
  it('batch encoding round-trips token lists exactly', () => {
    const lists = [['a', 'b', 'a'], [], ['', 'b'], ['中文', '\n']];
    expect(decodeTokens(encodeTokens(lists))).toEqual(lists);
  });

  it('gives the same tokens as this thread, in order, for every mode and custom stopwords', async () => {
    const pool = await openNodeTokenizePool(2);
    pools.push(pool);
    expect(pool.threads).toBe(2);
    for (const tok of [await createTokenizer('default'), await createTokenizer('seed'), await createTokenizer('default', new Set(['中国', '年']))]) {
      const here = await tokenizeHere(texts, tok);
      const progress: number[] = [];
      const there = await tokenizeAll(texts, tok, { pool, onProgress: (p) => progress.push(p.done) });
      expect(there).toEqual(here);
      expect(progress.at(-1)).toBe(texts.length);
      expect(progress.length).toBeGreaterThan(2); // reported per batch, not only at the end
    }
    const custom = await createTokenizer('default', new Set(['中国']));
    expect((await tokenizeAll(['中国人民银行 中国'], custom, { pool }))[0]).not.toContain('中国');
  }, 60_000);

  it('a cancel stops the job, and the pool still gives right answers afterwards', async () => {
    const pool = await openNodeTokenizePool(2);
    pools.push(pool);
    const tok = await createTokenizer('default');
    const many = Array.from({ length: 20 }, () => paragraphs).flat();
    const ctl = new AbortController();
    const job = tokenizeAll(many, tok, { pool, batch: 50, signal: ctl.signal, onProgress: (p) => p.done > 200 && ctl.abort() });
    await expect(job).rejects.toThrow(/abort/i);
    expect(await tokenizeAll(paragraphs, tok, { pool })).toEqual(await tokenizeHere(paragraphs, tok));
  }, 60_000);

  it('Node opens a pool by default only for large inputs, and threads: 1 keeps everything on this thread', async () => {
    expect(await openTokenizePool(PARALLEL_MIN_TEXTS - 1)).toBeUndefined();
    expect(await openTokenizePool(PARALLEL_MIN_TEXTS, 1)).toBeUndefined();
    const pool = await openTokenizePool(PARALLEL_MIN_TEXTS, 2);
    expect(pool?.threads).toBe(2);
    pool?.close();
    // a tokenizer without a spec (a caller's own) is never sent to threads
    const own = { mode: 'default' as const, tokenize: (t: string) => [t.slice(0, 1)] };
    expect(await tokenizeAll(['甲乙', '丙'], own, { threads: 2 })).toEqual([['甲'], ['丙']]);
  }, 60_000);

  it('mine() gives the same training set with a pool of threads as on one thread', async () => {
    const chunks: Chunk[] = paragraphs.map((text, i) => ({ id: `p${i}`, text, source: `d${i >> 2}.txt`, start: 0, end: text.length }));
    const queries: QueryRecord[] = squad.data.flatMap((a) => a.paragraphs).flatMap((p, i) => p.qas.map((q) => ({ query: q.question, chunk_id: `p${i}` })));
    const pool = await openNodeTokenizePool(2);
    pools.push(pool);
    const one = await mine(chunks, queries, { negatives: 5, topK: 20, threads: 1 });
    const two = await mine(chunks, queries, { negatives: 5, topK: 20, tokenPool: pool });
    expect(two.train).toEqual(one.train);
    expect(two.stats.removed).toEqual(one.stats.removed);
  }, 60_000);
});
