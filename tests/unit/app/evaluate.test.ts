// The page's Evaluate step (and step 4's base scores) on realistic lists: the data worker's API builds the lists (the
// real one, called directly), a fake training worker scores the pairs, and evaluateOnLists must give the report
// `rerank-lab eval` gives (src/eval/compare.ts), with refusals, cancels and failures as data.
import { describe, expect, it } from 'vitest';
import { evaluateOnLists, type EvaluateWorkers } from '../../../src/app/lib/evaluate.ts';
import { buildRerankSet } from '../../../src/eval/candidates.ts';
import { compareModels } from '../../../src/eval/compare.ts';
import type { Progress } from '../../../src/util/progress.ts';
import { createDataApi } from '../../../src/workers/data/api.ts';
import type { ScoredPair } from '../../../src/workers/train/protocol.ts';

const val = [
  { query: '燃气设施改动要报批吗', pos: ['改动燃气设施应当报主管部门批准。'], neg: ['城市道路占用需要许可。', '燃气费按月缴纳。'] },
  { query: '图书馆哪天闭馆', pos: ['图书馆每周一闭馆。'], neg: ['图书馆办证需要身份证。'] },
  { query: '公积金怎么提取', pos: ['提取公积金需要身份证和银行卡。'], neg: ['公积金缴存比例为百分之十二。', '城市道路占用需要许可。'] },
];
const isPos = (p: ScoredPair) => val.some((v) => v.query === p.query && v.pos.includes(p.doc));
// the base model prefers every negative; the fine-tuned one puts the positives first
const logit = (p: ScoredPair, which: 'base' | 'tuned') => (which === 'tuned' ? (isPos(p) ? 2 : -2) : isPos(p) ? -1 : p.doc.length / 100);

function fakeWorkers(fail?: { which: 'base' | 'tuned'; name: string; message: string }) {
  const data = createDataApi();
  const calls: { which: string; pairs: number; maxLength: number; job: string }[] = [];
  const lists: { depth: number; job: string }[] = [];
  const workers: EvaluateWorkers = {
    rerankSet: (v, depth, onProgress, job) => (lists.push({ depth, job }), data.rerankSet(job, v, depth, onProgress)),
    score: async (pairs, which, maxLength, onProgress, job) => {
      calls.push({ which, pairs: pairs.length, maxLength, job });
      onProgress?.({ stage: `score-${which}`, done: pairs.length, total: pairs.length });
      if (fail?.which === which) return { ok: false, error: { name: fail.name, message: fail.message } };
      return { ok: true, value: pairs.map((p) => logit(p, which)) };
    },
  };
  return { workers, calls, lists };
}

describe('evaluateOnLists (the page\'s Evaluate step)', () => {
  it('reranks BM25\'s top N of the validation documents with both models: the ranking table beside BM25, as `rerank-lab eval`', async () => {
    const { workers, calls, lists } = fakeWorkers();
    const seen: Progress[] = [];
    const r = await evaluateOnLists(val, { depth: 2, maxLength: 64, activation: 'sigmoid', onProgress: (p) => seen.push(p), job: 'evaluate' }, workers);
    if (!r.ok) throw new Error(r.error);
    expect(lists).toEqual([{ depth: 2, job: 'evaluate' }]);
    // the same report the command line builds from the same lists and scores
    const set = await buildRerankSet(val, { depth: 2 });
    const cli = await compareModels(val, set, async (pairs, which) => pairs.map((p) => logit(p, which)), { activation: 'sigmoid' });
    expect(r.report).toEqual(cli.report);
    expect(r.ranking).toMatchObject({ depth: 2, corpus: 7, positivesRetrieved: set.positivesRetrieved, bm25: set.bm25 });
    expect(r.ranking.base.queries).toBe(3);
    expect(r.ranking.tuned!.ndcg10).toBe(1);
    expect(r.ranking.base.hit1).toBe(0);
    // each model scored once, every unique pair once, at the page's max length, under the job the page cancels
    expect(calls.map((c) => [c.which, c.maxLength, c.job])).toEqual([['base', 64, 'evaluate'], ['tuned', 64, 'evaluate']]);
    expect(calls[0].pairs).toBe(calls[1].pairs);
    expect(calls[0].pairs).toBeGreaterThanOrEqual(set.pairs - 1);
    expect(seen.map((p) => p.stage)).toEqual(expect.arrayContaining(['validation candidates (BM25)', 'base model score-base', 'fine-tuned score-tuned']));
    expect(r.report.rows[0].tuned!.label).toBe('优秀');
  });

  it('the depth field reaches the lists: a deeper list holds more candidates per query', async () => {
    const { workers, calls } = fakeWorkers();
    const r = await evaluateOnLists(val, { depth: 30, maxLength: 64, activation: 'identity' }, workers);
    if (!r.ok) throw new Error(r.error);
    expect(r.ranking.depth).toBe(30);
    expect(calls[0].pairs).toBe(3 * 7); // every query reranks the whole corpus of 7 documents
  });

  it('scores the base model alone for step 4 (no fine-tuned column)', async () => {
    const { workers, calls } = fakeWorkers();
    const r = await evaluateOnLists(val, { depth: 2, maxLength: 32, activation: 'sigmoid', tuned: false, job: 'score-base' }, workers);
    if (!r.ok) throw new Error(r.error);
    expect(calls.map((c) => [c.which, c.job])).toEqual([['base', 'score-base']]);
    expect(r.ranking.tuned).toBeUndefined();
    expect(r.ranking.base.ndcg10).toBeLessThan(r.ranking.bm25.ndcg10);
  });

  it('refusals, cancels and failures come back as data', async () => {
    const opts = { depth: 2, maxLength: 64, activation: 'sigmoid' as const };
    const mismatch = await evaluateOnLists(val, opts, fakeWorkers({ which: 'tuned', name: 'TunedModelMismatch', message: 'trained from another model' }).workers);
    expect(mismatch).toEqual({ ok: false, error: 'trained from another model', mismatch: true });
    const cancelled = await evaluateOnLists(val, opts, fakeWorkers({ which: 'base', name: 'AbortError', message: 'Cancelled' }).workers);
    expect(cancelled).toEqual({ ok: false, error: 'Cancelled.', cancelled: true });
    const oom = await evaluateOnLists(val, opts, fakeWorkers({ which: 'base', name: 'GpuOutOfMemoryError', message: 'out of memory' }).workers);
    expect(oom).toEqual({ ok: false, error: 'GpuOutOfMemoryError: out of memory' });
    // the lists' own failure (a bad depth reaching the worker) and a cancel while they are built
    const { workers, calls } = fakeWorkers();
    const badLists: EvaluateWorkers = { ...workers, rerankSet: async () => ({ ok: false, error: { name: 'AbortError', message: 'Cancelled' } }) };
    expect(await evaluateOnLists(val, opts, badLists)).toEqual({ ok: false, error: 'Cancelled.', cancelled: true });
    expect(calls).toHaveLength(0); // no GPU work once the lists failed
    expect(await evaluateOnLists(val, { ...opts, depth: 0 }, workers)).toEqual({ ok: false, error: expect.stringMatching(/whole number ≥ 1 \(got 0\)/) });
    expect(await evaluateOnLists([], opts, workers)).toEqual({ ok: false, error: expect.stringMatching(/validation set is empty/) });
    expect(await evaluateOnLists([{ query: 'q', pos: [], neg: ['n'] }], opts, workers)).toEqual({ ok: false, error: expect.stringMatching(/validation set is empty/) });
  });
});
