import { describe, expect, it } from 'vitest';
import { scoreChartData, scoreChartSvg, lineChartSvg } from '../../../src/eval/chart.ts';
import { csvCell, metricsRows, reportCsv, reportHtml } from '../../../src/eval/export.ts';
import type { RankingMetrics } from '../../../src/eval/metrics.ts';
import { modelCard } from '../../../src/eval/model-card.ts';
import { axisLabels } from '../../../src/eval/chart.ts';
import { activationOf, baseLabel, buildReport, casesOf, conclusionsOf, formatScore, onScale, tunedLabel } from '../../../src/eval/report.ts';

// Metrics in the older format (1 positive + mined negatives), as reports saved by the page before the realistic lists
// hold them: a positive ranked 2nd (0.2 vs 0.9), then 1st (2.5 vs −1).
const OLD_BASE: RankingMetrics = { queries: 1, mrr: 0.5, ndcg: 1 / Math.log2(3), hit1: 0, meanGap: -0.7, k: 10 };
const OLD_TUNED: RankingMetrics = { queries: 1, mrr: 1, ndcg: 1, hit1: 1, meanGap: 3.5, k: 10 };

describe('labels (the seed rules)', () => {
  it('base: 排序错误 when the negative outscores the positive, 危险 under a 1.0 gap, 尚可 otherwise', () => {
    expect(baseLabel({ pos: 0.5, neg: 0.6 })).toBe('排序错误');
    expect(baseLabel({ pos: 1.2, neg: 0.3 })).toBe('危险'); // gap 0.9
    expect(baseLabel({ pos: 1.3, neg: 0.3 })).toBe('尚可'); // gap exactly 1.0 is not < 1.0
    expect(baseLabel({ pos: 0.3, neg: 0.3 })).toBe('危险'); // a tie: gap 0
  });
  it('tuned: by the change of the logit gap beyond the noise threshold (0.1 logit)', () => {
    const base = { pos: 2, neg: 1 }; // gap 1
    expect(tunedLabel({ pos: 0, neg: 1 }, base)).toBe('翻车'); // was right, now wrong
    expect(tunedLabel({ pos: 3, neg: 1 }, base)).toBe('优秀'); // gap 2 > 1
    expect(tunedLabel({ pos: 2, neg: 1 }, base)).toBe('持平'); // equal gap
    expect(tunedLabel({ pos: 2.05, neg: 1 }, base)).toBe('持平'); // within noise
    expect(tunedLabel({ pos: 1.5, neg: 1 }, base)).toBe('变差'); // narrower, still right order: worse, not 'no better'
    const wrong = { pos: 0, neg: 1 }; // gap −1
    expect(tunedLabel({ pos: 0.5, neg: 1 }, wrong)).toBe('改善'); // better, still wrong
    expect(tunedLabel({ pos: 2, neg: 1 }, wrong)).toBe('优秀'); // fixed
    expect(tunedLabel({ pos: -1, neg: 1 }, wrong)).toBe('变差'); // more wrong, but it was never right
  });

  it('a case already wrong and unchanged is 持平, never 翻车 Regressed (gap −0.00 → −0.00)', () => {
    const base = { pos: 0.001, neg: 0.003 };
    const tuned = { pos: 0.0012, neg: 0.0031 };
    expect(baseLabel(base)).toBe('排序错误');
    expect(tunedLabel(tuned, base)).toBe('持平');
    const r = buildReport([{ query: 'q', positive: 'p', negative: 'n' }], [base], [tuned]);
    expect(r.summary.tunedLabels!.翻车).toBe(0);
    expect(r.conclusions.join('\n')).not.toMatch(/翻车 Regressed: [1-9]/);
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
    expect(report.summary.gapNarrowed).toBe(1);
    expect(report.summary.meanGap.base).toBeCloseTo((-0.7 + 0.5) / 2, 12);
    expect(report.summary.meanGap.tuned).toBeCloseTo((3.5 - 0.3) / 2, 12);
    const logit = conclusionsOf(report, 'logit');
    expect(logit[0]).toMatch(/Noise threshold: a change within ±0\.1 logit/);
    expect(logit[1]).toContain('2/2');
    expect(logit[2]).toContain('Gap widened: 1/2 cases, narrowed 1/2, unchanged 0/2');
    expect(logit[2]).toContain('mean gap -0.10 → 1.60, logit');
    expect(logit.join('\n')).toContain('翻车 Regressed: 1/2');
  });

  it("the default scale is the activation (sigmoid, 4 decimals): the seed's 0.5939 → 0.0001", () => {
    const logitOf = (p: number) => Math.log(p / (1 - p));
    const b = { pos: logitOf(0.97), neg: logitOf(0.5939) };
    const t = { pos: logitOf(0.98), neg: logitOf(0.0001) };
    const r = buildReport([{ query: 'q', positive: 'p', negative: 'n' }], [b], [t]);
    expect(r.conclusions[1]).toContain('mean hard-negative score 0.5939 → 0.0001, probability');
    expect(formatScore(onScale(t.neg, 'activation', 'sigmoid'), 'activation', 'sigmoid')).toBe('0.0001');
    expect(formatScore(onScale(t.neg, 'logit', 'sigmoid'), 'logit', 'sigmoid')).toBe('-9.21');
    // the verdicts are the same on both scales, only the figures change
    expect(conclusionsOf(r, 'logit')[1]).toContain('1/1 cases (mean hard-negative score 0.38 → -9.21, logit)');
  });

  it('reads the activation from config.json as sentence-transformers does', () => {
    expect(activationOf({ num_labels: 1 })).toBe('sigmoid');
    expect(activationOf({})).toBe('sigmoid');
    expect(activationOf({ id2label: { 0: 'a', 1: 'b' } })).toBe('identity');
    expect(activationOf({ sentence_transformers: { activation_fn: 'torch.nn.modules.linear.Identity' } })).toBe('identity');
    expect(activationOf({ num_labels: 2, sentence_transformers: { activation_fn: 'torch.nn.modules.activation.Sigmoid' } })).toBe('sigmoid');
  });

  it('changes within the noise threshold are unchanged: no "Gap widened 9/18 (0.00 → 0.00)"', () => {
    const cases = Array.from({ length: 18 }, (_, i) => ({ query: `q${i}`, positive: 'p', negative: 'n' }));
    const base = cases.map((_, i) => ({ pos: 0.001 * i, neg: 0.002 }));
    const tuned = base.map((s, i) => ({ pos: s.pos + (i % 2 ? 0.004 : -0.004), neg: s.neg }));
    const r = buildReport(cases, base, tuned);
    expect(r.summary.gapWidened).toBe(0);
    expect(r.summary.tunedLabels!.持平).toBe(18);
    expect(r.conclusions.join('\n')).toContain('Gap widened: 0/18 cases, narrowed 0/18, unchanged 18/18');
    expect(r.conclusions.join('\n')).toContain('no case changed beyond the noise threshold');
  });

  it('one mean gap: the metrics table leaves its own gap out where the report states one', () => {
    const m = { base: OLD_BASE };
    expect(metricsRows(m).map((x) => x.name).join()).toMatch(/Mean gap/);
    expect(metricsRows(m, { gap: false }).map((x) => x.name).join()).not.toMatch(/gap/i);
    const html = reportHtml({ ...report, metrics: { base: m.base, tuned: m.base } });
    expect(html.match(/mean gap/gi)).toHaveLength(1);
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
    expect(lines[0]).toContain(',tuned_label,base_pos_prob,base_neg_prob,tuned_pos_prob,tuned_neg_prob');
    expect(lines[1]).toBe('1,燃气设施怎么改？,改动市政燃气设施须报批。,供水设施由水务局管理。,0.2,0.9,-0.7,排序错误,2.5,-1,3.5,优秀,0.549834,0.71095,0.924142,0.268941');
    expect(lines[2]).toBe('2,"Q2, ""quoted""","P2\nline",N2,1.5,1,0.5,危险,0.1,0.4,-0.3,翻车,0.817574,0.731059,0.524979,0.598688');
    expect(csvCell(undefined)).toBe('');
  });

  it('HTML: escaped text, both labels, chart and metrics', () => {
    const m = { base: OLD_BASE, tuned: OLD_TUNED };
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

  it('axis ends read differently on a nearly flat curve (not 2.08 at top and bottom)', () => {
    expect(axisLabels(2.0794, 2.0801)).toEqual(['2.0794', '2.0801']);
    expect(axisLabels(0, 1)).toEqual(['0', '1']); // steps and epochs: whole numbers
    expect(axisLabels(0, 0.5)).toEqual(['0.00', '0.50']);
    expect(axisLabels(120, 180)).toEqual(['120', '180']);
    const svg = lineChartSvg([{ name: 'loss', color: '#000', points: [{ x: 1, y: 2.0794 }, { x: 2, y: 2.0801 }] }]);
    const ys = [...svg.matchAll(/text-anchor="end" fill="#555">([\d.]+)</g)].map((m) => m[1]);
    expect(ys.slice(0, 2)).toEqual(['2.0801', '2.0794']);
  });

  it('model card lists data, settings and before/after metrics', () => {
    const m = { base: OLD_BASE, tuned: OLD_TUNED };
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
