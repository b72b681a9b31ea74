// Chart data and inline SVG for the page and the exported HTML report (one drawing code for both, no library):
//  - scoreChart: per case, positive (blue) and hard-negative (orange) scores, base beside fine-tuned;
//  - lineChart: training loss, validation loss and validation gap over steps.
// All text put into the SVG is escaped.

import type { CaseRow } from './report.ts';

export const POS_COLOR = '#2f6fde';
export const NEG_COLOR = '#f08a24';

export interface ScoreBar {
  caseN: number;
  model: 'base' | 'tuned';
  kind: 'pos' | 'neg';
  value: number;
}

export interface ScoreChartData {
  bars: ScoreBar[];
  min: number;
  max: number;
  cases: number;
  hasTuned: boolean;
}

/** Bars of the rows' scores; `scale` maps a logit to the scale shown (the report's activation or the identity). */
export function scoreChartData(rows: readonly CaseRow[], scale: (logit: number) => number = (x) => x): ScoreChartData {
  const bars: ScoreBar[] = [];
  const hasTuned = rows.some((r) => r.tuned);
  for (const r of rows) {
    bars.push({ caseN: r.n, model: 'base', kind: 'pos', value: scale(r.base.pos) }, { caseN: r.n, model: 'base', kind: 'neg', value: scale(r.base.neg) });
    if (r.tuned) bars.push({ caseN: r.n, model: 'tuned', kind: 'pos', value: scale(r.tuned.pos) }, { caseN: r.n, model: 'tuned', kind: 'neg', value: scale(r.tuned.neg) });
  }
  const vals = bars.map((b) => b.value).filter(Number.isFinite);
  return { bars, min: Math.min(0, ...vals), max: Math.max(0, ...vals), cases: rows.length, hasTuned };
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}


/**
 * Labels for the two ends of an axis that read differently: as many decimals as the span needs (a loss that moves
 * from 2.0794 to 2.0801 is labelled 2.0794 and 2.0801, not 2.08 twice), at most 6.
 */
export function axisLabels(lo: number, hi: number): [string, string] {
  if (Number.isInteger(lo) && Number.isInteger(hi) && Math.max(Math.abs(lo), Math.abs(hi)) >= 1) return [String(lo), String(hi)];
  const span = Math.abs(hi - lo);
  const mag = Math.max(Math.abs(lo), Math.abs(hi));
  let d = mag >= 100 ? 0 : mag >= 10 ? 1 : 2;
  if (span > 0) d = Math.max(d, Math.min(6, Math.ceil(-Math.log10(span))));
  while (span > 0 && d < 6 && lo.toFixed(d) === hi.toFixed(d)) d++;
  return [lo.toFixed(d), hi.toFixed(d)];
}

/** Grouped bars: for each case, [base pos, base neg] then [tuned pos, tuned neg]; a zero line; a legend. */
export function scoreChartSvg(d: ScoreChartData, width = 900, height = 260): string {
  const left = 44;
  const top = 28;
  const bottom = 26;
  const plotW = width - left - 8;
  const plotH = height - top - bottom;
  const span = d.max - d.min || 1;
  const y = (v: number) => top + ((d.max - v) / span) * plotH;
  const perCase = d.cases ? plotW / d.cases : plotW;
  const groups = d.hasTuned ? 2 : 1;
  const barW = Math.max(1, (perCase * 0.8) / (groups * 2));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="positive and hard-negative scores per case">`);
  parts.push(`<line x1="${left}" x2="${width - 8}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" stroke="#999" stroke-width="1"/>`);
  const ends = axisLabels(d.min, d.max);
  [d.max, d.min].forEach((v, i) => parts.push(`<text x="${left - 4}" y="${(y(v) + 4).toFixed(1)}" font-size="10" text-anchor="end" fill="#555">${ends[1 - i]}</text>`));
  for (const b of d.bars) {
    const g = b.model === 'base' ? 0 : 1;
    const x = left + (b.caseN - 1) * perCase + perCase * 0.1 + (g * 2 + (b.kind === 'pos' ? 0 : 1)) * barW + (g ? barW * 0.3 : 0);
    const y0 = y(Math.max(0, b.value));
    const h = Math.max(0.5, Math.abs(y(b.value) - y(0)));
    const fill = b.kind === 'pos' ? POS_COLOR : NEG_COLOR;
    const op = b.model === 'base' ? 0.45 : 1;
    parts.push(
      `<rect x="${x.toFixed(1)}" y="${y0.toFixed(1)}" width="${(barW * 0.95).toFixed(1)}" height="${h.toFixed(1)}" fill="${fill}" fill-opacity="${op}"><title>case ${b.caseN} ${b.model} ${b.kind === 'pos' ? 'positive' : 'hard negative'}: ${Number(b.value.toPrecision(4))}</title></rect>`,
    );
  }
  if (d.cases <= 40) {
    for (let i = 0; i < d.cases; i++) parts.push(`<text x="${(left + (i + 0.5) * perCase).toFixed(1)}" y="${height - 8}" font-size="10" text-anchor="middle" fill="#555">${i + 1}</text>`);
  }
  const legend = [
    [POS_COLOR, 0.45, '正例 positive (base)'],
    [NEG_COLOR, 0.45, '难负例 hard negative (base)'],
    ...(d.hasTuned
      ? [
          [POS_COLOR, 1, '正例 positive (fine-tuned)'],
          [NEG_COLOR, 1, '难负例 hard negative (fine-tuned)'],
        ]
      : []),
  ] as [string, number, string][];
  legend.forEach(([c, op, label], i) => {
    const x = left + i * 200;
    parts.push(`<rect x="${x}" y="6" width="12" height="12" fill="${c}" fill-opacity="${op}"/><text x="${x + 16}" y="16" font-size="11" fill="#333">${escapeXml(label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

export interface LineSeries {
  name: string;
  color: string;
  points: { x: number; y: number }[];
}

/** A line chart of several series over a shared x axis, with min/max labels and a legend. */
export function lineChartSvg(series: readonly LineSeries[], opts: { width?: number; height?: number; title?: string; xLabel?: string } = {}): string {
  const width = opts.width ?? 440;
  const height = opts.height ?? 200;
  const left = 48;
  const top = opts.title ? 36 : 22;
  const bottom = 22;
  const pts = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y) && Number.isFinite(p.x));
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${escapeXml(opts.title ?? 'chart')}">`];
  if (opts.title) parts.push(`<text x="${left}" y="14" font-size="12" font-weight="600" fill="#222">${escapeXml(opts.title)}</text>`);
  if (!pts.length) {
    parts.push(`<text x="${width / 2}" y="${height / 2}" font-size="12" text-anchor="middle" fill="#888">no data yet</text></svg>`);
    return parts.join('');
  }
  let x0 = Math.min(...pts.map((p) => p.x));
  let x1 = Math.max(...pts.map((p) => p.x));
  let y0 = Math.min(...pts.map((p) => p.y));
  let y1 = Math.max(...pts.map((p) => p.y));
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const X = (x: number) => left + ((x - x0) / (x1 - x0)) * (width - left - 10);
  const Y = (y: number) => top + ((y1 - y) / (y1 - y0)) * (height - top - bottom);
  parts.push(`<rect x="${left}" y="${top}" width="${width - left - 10}" height="${height - top - bottom}" fill="none" stroke="#ddd"/>`);
  const [yLo, yHi] = axisLabels(y0, y1);
  parts.push(`<text x="${left - 4}" y="${top + 4}" font-size="10" text-anchor="end" fill="#555">${yHi}</text>`);
  parts.push(`<text x="${left - 4}" y="${height - bottom}" font-size="10" text-anchor="end" fill="#555">${yLo}</text>`);
  const [xLo, xHi] = axisLabels(x0, x1);
  parts.push(`<text x="${left}" y="${height - 6}" font-size="10" fill="#555">${xLo}</text>`);
  parts.push(`<text x="${width - 10}" y="${height - 6}" font-size="10" text-anchor="end" fill="#555">${xHi}${opts.xLabel ? ' ' + escapeXml(opts.xLabel) : ''}</text>`);
  series.forEach((s, i) => {
    const ps = s.points.filter((p) => Number.isFinite(p.y) && Number.isFinite(p.x));
    if (ps.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${ps.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of ps.length <= 60 ? ps : []) parts.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="2" fill="${s.color}"/>`);
    const lx = left + 8 + i * 130;
    parts.push(`<rect x="${lx}" y="${top - 14}" width="10" height="3" fill="${s.color}"/><text x="${lx + 14}" y="${top - 9}" font-size="10" fill="#333">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}
