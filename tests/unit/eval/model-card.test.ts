// The model card the command line writes (training's own before/after validation figures, examples only) and the
// comparison library that `rerank-lab eval` and the page share.
import { describe, expect, it } from 'vitest';
import { compareModels, casePairs } from '../../../src/eval/compare.ts';
import { candidatesOf, rankingMetrics, splitScores } from '../../../src/eval/metrics.ts';
import { modelCard } from '../../../src/eval/model-card.ts';
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

describe('compareModels (the page and `rerank-lab eval`)', () => {
  it('scores each model once on the candidate lists and builds metrics and the per-case report from them', async () => {
    const calls: string[] = [];
    const score = async (pairs: { query: string; doc: string }[], which: 'base' | 'tuned') => {
      calls.push(which);
      // base prefers the first negative; tuned prefers the positive
      return pairs.map((p) => (which === 'tuned' ? (val.some((v) => v.pos.includes(p.doc)) ? 3 : -1) : p.doc === '高新技术企业认定' ? 2 : 0.5));
    };
    const { report, base, tuned } = await compareModels(val, score);
    expect(calls).toEqual(['base', 'tuned']);
    const { spans } = candidatesOf(val);
    expect(base.metrics).toEqual(rankingMetrics(splitScores(base.scores, spans)));
    expect(tuned!.metrics.mrr).toBe(1);
    expect(report.rows).toHaveLength(2); // the example without a negative has no case
    expect(report.rows[0].base.label).toBe('排序错误');
    expect(report.rows[0].tuned!.label).toBe('优秀');
    expect(casePairs(val, base.scores)[0]).toEqual({ pos: 0.5, neg: 2 });
    await expect(compareModels([], score)).rejects.toThrow(/validation set is empty/);
  });

  it('prints a table that counts Chinese characters as two columns', async () => {
    expect(columns('企业ab')).toBe(6);
    expect(fit('企业研发费用加计扣除', 9)).toBe('企业研发…');
    expect(columns(fit('企业研发费用加计扣除', 9))).toBe(9);
    const { report } = await compareModels(val, async (pairs) => pairs.map((_, i) => i));
    const text = reportText(report);
    expect(text).toMatch(/Ranking metrics 排序指标 \(3 queries\)/);
    expect(text).toMatch(/MRR@10/);
    expect(text.split('\n').filter((l) => /^\s+\d+ /.test(l))).toHaveLength(2);
  });
});
