// The evaluation report as plain text for a terminal: ranking metrics, one line per case, conclusions. Chinese
// characters take two columns, so widths are counted in display columns.

import { metricsRows, rerankHeading, rerankRows } from './export.ts';
import { LABEL_ENGLISH, type EvalReport } from './report.ts';

/** Display columns of a string: East Asian wide and full-width characters count two. */
export function columns(s: string): number {
  let n = 0;
  for (const ch of s) n += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]/u.test(ch) ? 2 : 1;
  return n;
}

/** Cuts to at most `width` columns (with … when cut) and pads to exactly `width`. */
export function fit(s: string, width: number, align: 'left' | 'right' = 'left'): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  let out = '';
  for (const ch of flat) {
    if (columns(out + ch) > width - (columns(flat) > width ? 1 : 0)) {
      out += '…';
      break;
    }
    out += ch;
  }
  const pad = ' '.repeat(Math.max(0, width - columns(out)));
  return align === 'left' ? out + pad : pad + out;
}

const num = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(2));

export function reportText(r: EvalReport, opts: { maxCases?: number; queryWidth?: number } = {}): string {
  const lines: string[] = [];
  const qw = opts.queryWidth ?? 28;
  if (r.ranking) {
    lines.push(rerankHeading(r.ranking));
    lines.push(`  ${fit('metric', 12)} ${fit('BM25', 10, 'right')} ${fit('base', 10, 'right')} ${fit('fine-tuned', 10, 'right')}`);
    for (const m of rerankRows(r.ranking)) lines.push(`  ${fit(m.name, 12)} ${fit(m.bm25, 10, 'right')} ${fit(m.base, 10, 'right')} ${fit(m.tuned, 10, 'right')}`);
    lines.push('');
  } else if (r.metrics) {
    lines.push(`Ranking metrics 排序指标 (${r.metrics.base.queries} queries)`);
    lines.push(`  ${fit('metric', 22)} ${fit('base', 10, 'right')} ${fit('fine-tuned', 10, 'right')}`);
    for (const m of metricsRows(r.metrics)) lines.push(`  ${fit(m.name, 22)} ${fit(m.base, 10, 'right')} ${fit(m.tuned, 10, 'right')}`);
    lines.push('');
  }
  const tuned = r.rows.some((x) => x.tuned);
  lines.push(`Per case 逐例 (positive vs hardest negative; ${r.rows.length} cases)`);
  const head = [fit('#', 4, 'right'), fit('query', qw), fit('base pos', 8, 'right'), fit('neg', 7, 'right'), fit('gap', 7, 'right'), fit('label', 22)];
  if (tuned) head.push(fit('tuned pos', 9, 'right'), fit('neg', 7, 'right'), fit('gap', 7, 'right'), fit('label', 16));
  lines.push('  ' + head.join(' '));
  const shown = r.rows.slice(0, opts.maxCases ?? r.rows.length);
  for (const row of shown) {
    const cells = [
      fit(String(row.n), 4, 'right'), fit(row.query, qw), fit(num(row.base.pos), 8, 'right'), fit(num(row.base.neg), 7, 'right'), fit(num(row.base.gap), 7, 'right'),
      fit(`${row.base.label} ${LABEL_ENGLISH[row.base.label]}`, 22),
    ];
    if (row.tuned) {
      cells.push(fit(num(row.tuned.pos), 9, 'right'), fit(num(row.tuned.neg), 7, 'right'), fit(num(row.tuned.gap), 7, 'right'), fit(`${row.tuned.label} ${LABEL_ENGLISH[row.tuned.label]}`, 16));
    }
    lines.push('  ' + cells.join(' ').trimEnd());
  }
  if (shown.length < r.rows.length) lines.push(`  … ${r.rows.length - shown.length} more case(s) in the HTML/CSV report`);
  lines.push('', 'Conclusions 结论');
  for (const c of r.conclusions) lines.push(`  - ${c}`);
  return lines.join('\n');
}
