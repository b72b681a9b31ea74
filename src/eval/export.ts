// Export of the evaluation report: CSV (RFC 4180 quoting, UTF-8 with a BOM so spreadsheet programs read Chinese
// correctly) and a self-contained HTML page (escaped text, inline SVG chart, no scripts, no external requests).

import { scoreChartData, scoreChartSvg, escapeXml } from './chart.ts';
import type { RankingMetrics } from './metrics.ts';
import type { RerankMetrics } from './ranking.ts';
import { LABEL_ENGLISH, conclusionsOf, formatScore, onScale, scaleName, type EvalReport, type RerankComparison, type ScoreScale } from './report.ts';

export const CSV_HEADER = [
  'case',
  'query',
  'positive',
  'hard_negative',
  'base_pos',
  'base_neg',
  'base_gap',
  'base_label',
  'tuned_pos',
  'tuned_neg',
  'tuned_gap',
  'tuned_label',
];

export function csvCell(v: string | number | undefined): string {
  if (v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(Number(v.toFixed(6))) : String(v)) : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Probability columns appended when the model's activation is sigmoid (the logit columns stay raw). */
export const CSV_PROB_HEADER = ['base_pos_prob', 'base_neg_prob', 'tuned_pos_prob', 'tuned_neg_prob'];

export function reportCsv(report: EvalReport): string {
  const prob = report.scale?.activation === 'sigmoid';
  const p = (x: number | undefined) => (x === undefined ? undefined : onScale(x, 'activation', 'sigmoid'));
  const lines = [[...CSV_HEADER, ...(prob ? CSV_PROB_HEADER : [])].join(',')];
  for (const r of report.rows) {
    const cells = [r.n, r.query, r.positive, r.negative, r.base.pos, r.base.neg, r.base.gap, r.base.label, r.tuned?.pos, r.tuned?.neg, r.tuned?.gap, r.tuned?.label];
    if (prob) cells.push(p(r.base.pos), p(r.base.neg), p(r.tuned?.pos), p(r.tuned?.neg));
    lines.push(cells.map(csvCell).join(','));
  }
  return '\uFEFF' + lines.join('\r\n') + '\r\n';
}

const f = (x: number | undefined, d = 3) => (x === undefined ? '—' : x.toFixed(d));

/**
 * The ranking metrics as table rows. `gap: false` leaves out the metrics' mean gap (best positive − best negative
 * over all candidates) where a report already states its own per-case mean gap, so one screen shows one such figure.
 */
export function metricsRows(m: { base: RankingMetrics; tuned?: RankingMetrics }, opts: { gap?: boolean } = {}): { name: string; base: string; tuned: string }[] {
  const pct = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(1)}%`);
  const rows = [
    { name: `MRR@${m.base.k}`, base: f(m.base.mrr), tuned: f(m.tuned?.mrr) },
    { name: `NDCG@${m.base.k}`, base: f(m.base.ndcg), tuned: f(m.tuned?.ndcg) },
    { name: 'Hit@1', base: pct(m.base.hit1), tuned: pct(m.tuned?.hit1) },
  ];
  if (opts.gap ?? true) rows.push({ name: 'Mean gap 平均差距 (logit, best positive − best negative)', base: f(m.base.meanGap, 2), tuned: f(m.tuned?.meanGap, 2) });
  return rows;
}

/** The realistic-list metrics as table rows: BM25's own order (the floor), the base model, the fine-tuned one. */
export function rerankRows(r: RerankComparison): { name: string; bm25: string; base: string; tuned: string }[] {
  const rows: [string, keyof RerankMetrics][] = [['NDCG@10', 'ndcg10'], ['MRR@10', 'mrr10'], ['Hit@1', 'hit1'], ['Recall@10', 'recall10']];
  return rows.map(([name, k]) => ({ name, bm25: f(r.bm25[k]), base: f(r.base[k]), tuned: f(r.tuned?.[k]) }));
}

/** The heading of the realistic-list metrics: what each query reranks. */
export function rerankHeading(r: RerankComparison): string {
  const found = Number.isFinite(r.positivesRetrieved) ? `; BM25 put ${(100 * r.positivesRetrieved).toFixed(0)}% of the positives in its top ${r.depth}` : '';
  return `Reranking metrics 重排指标 (${r.base.queries} queries, each reranking BM25's top ${r.depth} of ${r.corpus} documents plus its positives${found})`;
}

/**
 * The realistic-list metrics as CSV (UTF-8 with BOM): one row per metric, full precision, with the lists' shape
 * (queries, depth, corpus, share of positives BM25 retrieved) repeated on each row so a row stands on its own.
 */
export function rerankCsv(r: RerankComparison): string {
  const header = ['metric', 'bm25', 'base', 'tuned', 'queries', 'depth', 'corpus', 'positives_retrieved'];
  const keys: [string, keyof RerankMetrics][] = [['ndcg@10', 'ndcg10'], ['mrr@10', 'mrr10'], ['hit@1', 'hit1'], ['recall@10', 'recall10']];
  const lines = [header.join(',')];
  for (const [name, k] of keys) lines.push([name, r.bm25[k], r.base[k], r.tuned?.[k], r.base.queries, r.depth, r.corpus, r.positivesRetrieved].map(csvCell).join(','));
  return '\uFEFF' + lines.join('\r\n') + '\r\n';
}

export interface ReportMeta {
  title?: string;
  model?: string;
  generatedAt?: string;
  notes?: string[];
  /** Scores on the model's activation (default) or raw logits. */
  scale?: ScoreScale;
}

export function reportHtml(report: EvalReport, meta: ReportMeta = {}): string {
  const e = escapeXml;
  const title = meta.title ?? 'Rerank Lab — 评估报告 Evaluation report';
  const scale = meta.scale ?? 'activation';
  const act = report.scale?.activation ?? 'identity';
  const s = (x: number) => e(formatScore(onScale(x, scale, act), scale, act));
  const cells = (m: { pos: number; neg: number }) => `<td>${s(m.pos)}</td><td>${s(m.neg)}</td><td>${e(formatScore(onScale(m.pos, scale, act) - onScale(m.neg, scale, act), scale, act))}</td>`;
  const rows = report.rows
    .map(
      (r) => `<tr><td>${r.n}</td><td>${e(r.query)}</td><td class="t">${e(r.positive)}</td><td class="t">${e(r.negative)}</td>` +
        `${cells(r.base)}<td class="l">${e(r.base.label)}<br><small>${e(LABEL_ENGLISH[r.base.label])}</small></td>` +
        (r.tuned
          ? `${cells(r.tuned)}<td class="l">${e(r.tuned.label)}<br><small>${e(LABEL_ENGLISH[r.tuned.label])}</small></td>`
          : '<td colspan="4">—</td>') +
        '</tr>',
    )
    .join('\n');
  const ranking = report.ranking;
  const metrics = ranking
    ? `<h2>${e(rerankHeading(ranking))}</h2><table><tr><th>metric</th><th>BM25 (floor 基线检索)</th><th>base 基线</th><th>fine-tuned 微调后</th></tr>${rerankRows(ranking)
        .map((m) => `<tr><td>${e(m.name)}</td><td>${e(m.bm25)}</td><td>${e(m.base)}</td><td>${e(m.tuned)}</td></tr>`)
        .join('')}</table>`
    : report.metrics
    ? `<h2>排序指标 Ranking metrics (${report.metrics.base.queries} queries)</h2><table><tr><th>metric</th><th>base 基线</th><th>fine-tuned 微调后</th></tr>${metricsRows(report.metrics, { gap: false })
        .map((m) => `<tr><td>${e(m.name)}</td><td>${e(m.base)}</td><td>${e(m.tuned)}</td></tr>`)
        .join('')}</table>`
    : '';
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${e(title)}</title>
<style>body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;margin:2rem;color:#1d2330}table{border-collapse:collapse;font-size:13px;margin:.5rem 0 1.5rem}td,th{border:1px solid #ddd;padding:4px 6px;vertical-align:top}td.t{max-width:320px}td.l{white-space:nowrap}</style>
</head><body>
<h1>${e(title)}</h1>
${meta.model ? `<p>Model 模型: ${e(meta.model)}</p>` : ''}${meta.generatedAt ? `<p>Generated 生成时间: ${e(meta.generatedAt)}</p>` : ''}
<p>Scores 分数: ${e(scaleName(scale, act))}. Labels use the logit gap (the seed's danger threshold ${report.scale?.dangerGap ?? 1} is a logit gap)${report.scale?.noise ? `; changes within ±${report.scale.noise} logit count as unchanged` : ''}.</p>
<h2>结论 Conclusions</h2><ul>${conclusionsOf(report, scale).map((c) => `<li>${e(c)}</li>`).join('')}</ul>
${(meta.notes ?? []).map((n) => `<p>${e(n)}</p>`).join('')}
${metrics}
<h2>分数 Scores per case (${e(scaleName(scale, act))})</h2>
${scoreChartSvg(scoreChartData(report.rows, (x) => onScale(x, scale, act)))}
<h2>逐例报告 Per-case report (${report.rows.length} cases)</h2>
<table><tr><th>#</th><th>query 查询</th><th>positive 正例</th><th>hard negative 难负例</th><th>base pos</th><th>base neg</th><th>base gap</th><th>base label</th><th>tuned pos</th><th>tuned neg</th><th>tuned gap</th><th>tuned label</th></tr>
${rows}
</table>
</body></html>
`;
}
