// The model card the command line writes (training's own before/after validation figures, examples only) and the
// comparison library that `rerank-lab eval` and the page share.
import { describe, expect, it } from 'vitest';
import { buildRerankSet } from '../../../src/eval/candidates.ts';
import { compareModels } from '../../../src/eval/compare.ts';
import { rerankMetrics } from '../../../src/eval/ranking.ts';
import { modelCard } from '../../../src/eval/model-card.ts';
import { rerankCsv } from '../../../src/eval/export.ts';
import { columns, fit, reportText } from '../../../src/eval/report-text.ts';

const val = [
  { query: '企业研发费用加计扣除', pos: ['研发费用加计扣除政策'], neg: ['高新技术企业认定', '增值税免征'] },
  { query: 'unemployment benefit', pos: ['claim after one year'], neg: ['VAT exemption'] },
  { query: 'no negatives', pos: ['only a positive'], neg: [] },
];

describe('model card from the command line', () => {
  it('has the examples, settings, before/after validation figures and how scores are made; no page-only rows', () => {
    const card = modelCard({
      baseModel: 'BAAI/bge-reranker-base',
      arch: 'XLMRobertaForSequenceClassification',
      paramCount: 278_000_000,
      data: { trainExamples: 120, valExamples: 14 },
      settings: { loss: 'listwise', 'max length': 256, dropout: undefined },
      validation: { before: { epoch: 0, valLoss: 1.2345, meanGap: 0.5, mrr: 0.61 }, after: { epoch: 2, valLoss: 0.8765, meanGap: 2.25, mrr: 0.83 } },
      scoring: { activation: 'sigmoid', maxLength: 256 },
      createdAt: '2025-01-01',
    });
    expect(card).toContain('| training examples | 120 |');
    expect(card).not.toContain('| documents |');
    expect(card).not.toContain('dropout');
    expect(card).toContain('| validation loss | 1.2345 | 0.8765 |');
    expect(card).toContain('| MRR | 0.610 | 0.830 |');
    expect(card).toContain('after (epoch 2, saved)');
    expect(card).toMatch(/applies sigmoid .*truncates pairs to 256 tokens/);
  });
});

describe('compareModels (`rerank-lab eval`): realistic lists, BM25 beside, and the per-case report', () => {
  it('scores each pair once per model, ranks each BM25 list by the scores and builds the per-case report', async () => {
    const set = await buildRerankSet(val, { depth: 2 });
    const calls: { which: string; pairs: number }[] = [];
    // base prefers the first negative; tuned prefers the positives
    const scoreOf = (query: string, doc: string, which: 'base' | 'tuned') => (which === 'tuned' ? (val.some((v) => v.query === query && v.pos.includes(doc)) ? 3 : -1) : doc === '高新技术企业认定' ? 2 : 0.5);
    const score = async (pairs: { query: string; doc: string }[], which: 'base' | 'tuned') => {
      calls.push({ which, pairs: pairs.length });
      return pairs.map((p) => scoreOf(p.query, p.doc, which));
    };
    const { report, base, tuned } = await compareModels(val, set, score);
    // each model once, every pair once: the lists' candidates and the case pairs, shared where they coincide
    const unique = new Set([...set.lists.flatMap((l) => l.docs.map((d) => `${l.query}|${d}`)), ...val.filter((v) => v.neg.length).flatMap((v) => [`${v.query}|${v.pos[0]}`, `${v.query}|${v.neg[0]}`])]);
    expect(calls).toEqual([{ which: 'base', pairs: unique.size }, { which: 'tuned', pairs: unique.size }]);
    // the metrics are those of each BM25 list (depth 2 plus missed positives) ordered by the model's scores
    for (const [which, m] of [['base', base], ['tuned', tuned!]] as const) {
      expect(m.metrics).toEqual(rerankMetrics(set.lists.map((l) => ({ scores: l.docs.map((d) => scoreOf(l.query, d, which)), relevant: l.relevant }))));
    }
    expect(set.lists.every((l) => l.docs.length >= 2)).toBe(true);
    expect(tuned!.metrics.ndcg10).toBe(1);
    expect(report.ranking).toMatchObject({ depth: 2, corpus: set.corpus, bm25: set.bm25, base: base.metrics, tuned: tuned!.metrics });
    expect(report.rows).toHaveLength(2); // the example without a negative has no case
    expect(report.rows[0].base.label).toBe('排序错误');
    expect(report.rows[0].tuned!.label).toBe('优秀');
    expect(base.cases[0]).toEqual({ pos: 0.5, neg: 2 });
    expect(report.conclusions.join('\n')).toMatch(/Reranking BM25's top 2: NDCG@10 \d\.\d{3} → 1\.000 \(BM25 \d\.\d{3}\)/);
    const none = await buildRerankSet([], { depth: 2 });
    await expect(compareModels([], none, score)).rejects.toThrow(/validation set is empty/);
  });

  it('prints a table with BM25 beside each model, counting Chinese characters as two columns', async () => {
    expect(columns('企业ab')).toBe(6);
    expect(fit('企业研发费用加计扣除', 9)).toBe('企业研发…');
    expect(columns(fit('企业研发费用加计扣除', 9))).toBe(9);
    const set = await buildRerankSet(val, { depth: 30 });
    const { report } = await compareModels(val, set, async (pairs) => pairs.map((_, i) => i));
    const text = reportText(report);
    expect(text).toMatch(/Reranking metrics 重排指标 \(3 queries, each reranking BM25's top 30 of 6 documents plus its positives/);
    expect(text).toMatch(/NDCG@10 +\d\.\d{3} +\d\.\d{3} +\d\.\d{3}/);
    expect(text).toMatch(/Recall@10/);
    expect(text.split('\n').filter((l) => /^\s+\d+ /.test(l))).toHaveLength(2);
    // the model card and the ranking CSV carry the same table: BM25 (the floor), base, fine-tuned
    const card = modelCard({ baseModel: 'tiny', arch: 'bert', paramCount: 1, data: { trainExamples: 1, valExamples: 3 }, settings: {}, report, createdAt: '2025-01-01' });
    const r = report.ranking!;
    expect(card).toContain(`| NDCG@10 | ${r.bm25.ndcg10.toFixed(3)} | ${r.base.ndcg10.toFixed(3)} | ${r.tuned!.ndcg10.toFixed(3)} |`);
    expect(card).toContain("each reranking BM25's top 30 of 6 documents");
    const csv = rerankCsv(r).replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(csv[0]).toBe('metric,bm25,base,tuned,queries,depth,corpus,positives_retrieved');
    expect(csv.map((l) => l.split(',')[0]).slice(1)).toEqual(['ndcg@10', 'mrr@10', 'hit@1', 'recall@10']);
    expect(csv[1].split(',').slice(1).map(Number)).toEqual([r.bm25.ndcg10, r.base.ndcg10, r.tuned!.ndcg10, 3, 30, 6, r.positivesRetrieved].map((x) => Number(x.toFixed(6))));
  });
});
