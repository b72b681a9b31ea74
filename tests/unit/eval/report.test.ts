import { describe, expect, it } from 'vitest';
import { scoreChartData, scoreChartSvg, lineChartSvg } from '../../../src/eval/chart.ts';
import { csvCell, reportCsv, reportHtml } from '../../../src/eval/export.ts';
import { rankingMetrics } from '../../../src/eval/metrics.ts';
import { modelCard } from '../../../src/eval/model-card.ts';
import { baseLabel, buildReport, casesOf, tunedLabel } from '../../../src/eval/report.ts';

describe('labels (the seed rules)', () => {
  it('base: 排序错误 when the negative outscores the positive, 危险 under a 1.0 gap, 尚可 otherwise', () => {
    expect(baseLabel({ pos: 0.5, neg: 0.6 })).toBe('排序错误');
    expect(baseLabel({ pos: 1.2, neg: 0.3 })).toBe('危险'); // gap 0.9
    expect(baseLabel({ pos: 1.3, neg: 0.3 })).toBe('尚可'); // gap exactly 1.0 is not < 1.0
    expect(baseLabel({ pos: 0.3, neg: 0.3 })).toBe('危险'); // a tie: gap 0
  });
  it('tuned: 翻车 when the negative outscores the positive, 优秀 when the gap beats the base, 持平 otherwise', () => {
    const base = { pos: 2, neg: 1 }; // gap 1
    expect(tunedLabel({ pos: 0, neg: 1 }, base)).toBe('翻车');
    expect(tunedLabel({ pos: 3, neg: 1 }, base)).toBe('优秀'); // gap 2 > 1
    expect(tunedLabel({ pos: 2, neg: 1 }, base)).toBe('持平'); // equal gap
    expect(tunedLabel({ pos: 1.5, neg: 1 }, base)).toBe('持平'); // narrower but still right order
  });
});

const examples = [
  { query: '燃气设施怎么改？', pos: ['改动市政燃气设施须报批。'], neg: ['供水设施由水务局管理。', '其他'] },
  { query: 'Q2, "quoted"', pos: ['P2\nline'], neg: ['N2'] },
  { query: 'no negatives', pos: ['P3'], neg: [] },
];

describe('report', () => {
  const cases = casesOf(examples);
  const base = [
    { pos: 0.2, neg: 0.9 },
    { pos: 1.5, neg: 1.0 },
  ];
  const tuned = [
    { pos: 2.5, neg: -1.0 },
    { pos: 0.1, neg: 0.4 },
  ];
  const report = buildReport(cases, base, tuned);

  it('takes the first positive and first negative of each example, skipping examples without a negative', () => {
    expect(cases).toHaveLength(2);
    expect(cases[0]).toEqual({ query: '燃气设施怎么改？', positive: '改动市政燃气设施须报批。', negative: '供水设施由水务局管理。' });
  });

  it('labels, counts and conclusions', () => {
    expect(report.rows.map((r) => r.base.label)).toEqual(['排序错误', '危险']);
    expect(report.rows.map((r) => r.tuned!.label)).toEqual(['优秀', '翻车']);
    expect(report.rows[0].tuned!.gap).toBeCloseTo(3.5, 12);
    expect(report.summary.negativeSuppressed).toBe(2); // 0.9 → -1.0 and 1.0 → 0.4
    expect(report.summary.gapWidened).toBe(1);
    expect(report.summary.meanGap.base).toBeCloseTo((-0.7 + 0.5) / 2, 12);
    expect(report.summary.meanGap.tuned).toBeCloseTo((3.5 - 0.3) / 2, 12);
    expect(report.conclusions[0]).toContain('2/2');
    expect(report.conclusions[1]).toContain('1/2');
    expect(report.conclusions[1]).toContain('-0.10 → 1.60');
    expect(report.conclusions.join('\n')).toContain('翻车 Regressed: 1/2');
  });

  it('rejects score lists of the wrong length', () => {
    expect(() => buildReport(cases, base.slice(1))).toThrow(/expected 2 cases/);
  });

  it('base-only report has a base conclusion and no tuned labels', () => {
    const r = buildReport(cases, base);
    expect(r.rows[0].tuned).toBeUndefined();
    expect(r.conclusions[0]).toContain('1/2 wrong order');
  });

  it('CSV: header, quoting of commas, quotes and line breaks, BOM', () => {
    const csv = reportCsv(report);
    expect(csv.startsWith('\uFEFFcase,query,positive,hard_negative,base_pos')).toBe(true);
    const lines = csv.slice(1).split('\r\n');
    expect(lines[1]).toBe('1,燃气设施怎么改？,改动市政燃气设施须报批。,供水设施由水务局管理。,0.2,0.9,-0.7,排序错误,2.5,-1,3.5,优秀');
    expect(lines[2]).toBe('2,"Q2, ""quoted""","P2\nline",N2,1.5,1,0.5,危险,0.1,0.4,-0.3,翻车');
    expect(csvCell(undefined)).toBe('');
  });

  it('HTML: escaped text, both labels, chart and metrics', () => {
    const m = { base: rankingMetrics([{ scores: [0.2, 0.9], relevant: [true, false] }]), tuned: rankingMetrics([{ scores: [2.5, -1], relevant: [true, false] }]) };
    const html = reportHtml(buildReport([{ query: '<script>x</script>', positive: 'a&b', negative: 'n' }], [base[0]], [tuned[0]], m));
    expect(html).not.toContain('<script>x');
    expect(html).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(html).toContain('a&amp;b');
    expect(html).toContain('排序错误');
    expect(html).toContain('优秀');
    expect(html).toContain('<svg');
    expect(html).toContain('MRR@10');
    expect(html).toMatch(/<td>MRR@10<\/td><td>0\.500<\/td><td>1\.000<\/td>/);
  });

  it('chart: blue positives, orange negatives, base beside tuned', () => {
    const d = scoreChartData(report.rows);
    expect(d.bars).toHaveLength(8);
    expect(d.min).toBe(-1);
    expect(d.max).toBe(2.5);
    const svg = scoreChartSvg(d);
    expect(svg.match(/fill="#2f6fde"/g)!.length).toBeGreaterThanOrEqual(4);
    expect(svg.match(/fill="#f08a24"/g)!.length).toBeGreaterThanOrEqual(4);
    expect(lineChartSvg([{ name: 'loss', color: '#000', points: [] }])).toContain('no data yet');
    expect(lineChartSvg([{ name: 'loss <1>', color: '#000', points: [{ x: 0, y: 1 }, { x: 1, y: 0.5 }] }])).toContain('loss &lt;1&gt;');
  });

  it('model card lists data, settings and before/after metrics', () => {
    const m = { base: rankingMetrics([{ scores: [0.2, 0.9], relevant: [true, false] }]), tuned: rankingMetrics([{ scores: [2.5, -1], relevant: [true, false] }]) };
    const card = modelCard({
      baseModel: 'bert-tiny',
      arch: 'bert',
      paramCount: 12345,
      data: { documents: 3, chunks: 10, queries: 9, trainExamples: 7, valExamples: 2 },
      settings: { lr: 2e-5, loss: 'listwise' },
      report: buildReport(casesOf(examples), base, tuned, m),
      createdAt: '2025-01-01',
    });
    expect(card).toContain('| training examples | 7 |');
    expect(card).toContain('| lr | 0.00002 |');
    expect(card).toContain('| MRR@10 | 0.500 | 1.000 |');
    expect(card).toContain('12,345 parameters');
  });
});
