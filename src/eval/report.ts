// The seed's per-case report: for each validation query, its positive and its hardest mined negative (the first
// negative, i.e. BM25's top non-positive), both models' scores and gaps, a label per model, and conclusion lines.
// Scores are raw logits; the seed's 1.0 threshold is a logit gap.

import type { RankingMetrics } from './metrics.ts';

/** Base model labels: 排序错误 (negative above positive), 危险 (gap < 1.0), 尚可 (otherwise). */
export type BaseLabel = '排序错误' | '危险' | '尚可';
/** Fine-tuned labels: 翻车 (negative above positive), 优秀 (gap beats the base's), 持平 (otherwise). */
export type TunedLabel = '翻车' | '优秀' | '持平';

export const LABEL_ENGLISH: Record<BaseLabel | TunedLabel, string> = {
  排序错误: 'wrong order',
  危险: 'at risk (gap < 1.0)',
  尚可: 'acceptable',
  翻车: 'regressed',
  优秀: 'improved',
  持平: 'no better',
};

/** The base model's danger threshold on the positive − negative logit gap. */
export const DANGER_GAP = 1.0;

export interface PairScores {
  pos: number;
  neg: number;
}

export interface ModelCaseScores extends PairScores {
  gap: number;
}

export interface CaseRow {
  /** 1-based case number. */
  n: number;
  query: string;
  positive: string;
  negative: string;
  base: ModelCaseScores & { label: BaseLabel };
  tuned?: ModelCaseScores & { label: TunedLabel };
}

export interface ReportSummary {
  cases: number;
  baseLabels: Record<BaseLabel, number>;
  tunedLabels?: Record<TunedLabel, number>;
  /** Cases where the fine-tuned model scores the hard negative lower than the base model did. */
  negativeSuppressed?: number;
  /** Cases where the fine-tuned gap is wider than the base gap. */
  gapWidened?: number;
  meanGap: { base: number; tuned?: number };
  meanNeg: { base: number; tuned?: number };
}

export interface EvalReport {
  rows: CaseRow[];
  summary: ReportSummary;
  conclusions: string[];
  metrics?: { base: RankingMetrics; tuned?: RankingMetrics };
}

export function baseLabel(s: PairScores): BaseLabel {
  if (s.neg > s.pos) return '排序错误';
  return s.pos - s.neg < DANGER_GAP ? '危险' : '尚可';
}

export function tunedLabel(tuned: PairScores, base: PairScores): TunedLabel {
  if (tuned.neg > tuned.pos) return '翻车';
  return tuned.pos - tuned.neg > base.pos - base.neg ? '优秀' : '持平';
}

export interface ReportCase {
  query: string;
  positive: string;
  negative: string;
}

/** The case triples of FlagEmbedding examples (first positive, first negative); examples without either are skipped. */
export function casesOf(examples: readonly { query: string; pos: readonly string[]; neg: readonly string[] }[]): ReportCase[] {
  return examples.filter((e) => e.pos.length && e.neg.length).map((e) => ({ query: e.query, positive: e.pos[0], negative: e.neg[0] }));
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : String(x));

export function buildReport(
  cases: readonly ReportCase[],
  base: readonly PairScores[],
  tuned?: readonly PairScores[],
  metrics?: EvalReport['metrics'],
): EvalReport {
  if (base.length !== cases.length) throw new Error(`base scores: expected ${cases.length} cases, got ${base.length}`);
  if (tuned && tuned.length !== cases.length) throw new Error(`fine-tuned scores: expected ${cases.length} cases, got ${tuned.length}`);
  const rows: CaseRow[] = cases.map((c, i) => {
    const b = base[i];
    const row: CaseRow = { n: i + 1, ...c, base: { pos: b.pos, neg: b.neg, gap: b.pos - b.neg, label: baseLabel(b) } };
    if (tuned) {
      const t = tuned[i];
      row.tuned = { pos: t.pos, neg: t.neg, gap: t.pos - t.neg, label: tunedLabel(t, b) };
    }
    return row;
  });
  const baseLabels: Record<BaseLabel, number> = { 排序错误: 0, 危险: 0, 尚可: 0 };
  for (const r of rows) baseLabels[r.base.label]++;
  const summary: ReportSummary = {
    cases: rows.length,
    baseLabels,
    meanGap: { base: mean(rows.map((r) => r.base.gap)) },
    meanNeg: { base: mean(rows.map((r) => r.base.neg)) },
  };
  const conclusions: string[] = [];
  if (tuned) {
    const tunedLabels: Record<TunedLabel, number> = { 翻车: 0, 优秀: 0, 持平: 0 };
    for (const r of rows) tunedLabels[r.tuned!.label]++;
    summary.tunedLabels = tunedLabels;
    summary.negativeSuppressed = rows.filter((r) => r.tuned!.neg < r.base.neg).length;
    summary.gapWidened = rows.filter((r) => r.tuned!.gap > r.base.gap).length;
    summary.meanGap.tuned = mean(rows.map((r) => r.tuned!.gap));
    summary.meanNeg.tuned = mean(rows.map((r) => r.tuned!.neg));
    const n = rows.length;
    conclusions.push(
      `负例被压低 Hard negative suppressed: ${summary.negativeSuppressed}/${n} cases (mean negative score ${f2(summary.meanNeg.base)} → ${f2(summary.meanNeg.tuned)})`,
      `差距拉大 Gap widened: ${summary.gapWidened}/${n} cases (mean gap ${f2(summary.meanGap.base)} → ${f2(summary.meanGap.tuned)})`,
    );
    if (tunedLabels.翻车 > 0) conclusions.push(`翻车 Regressed: ${tunedLabels.翻车}/${n} cases now rank the hard negative above the positive`);
    else conclusions.push(`无翻车 No regressions: the fine-tuned model ranks the positive first in every case`);
  } else {
    const n = rows.length;
    conclusions.push(
      `基线 Base model: ${baseLabels.排序错误}/${n} wrong order (排序错误), ${baseLabels.危险}/${n} at risk (危险, gap < ${DANGER_GAP.toFixed(1)}), ${baseLabels.尚可}/${n} acceptable (尚可)`,
    );
  }
  if (metrics?.tuned) {
    const m = metrics;
    conclusions.push(`MRR@${m.base.k} ${m.base.mrr.toFixed(3)} → ${m.tuned!.mrr.toFixed(3)}, Hit@1 ${(m.base.hit1 * 100).toFixed(0)}% → ${(m.tuned!.hit1 * 100).toFixed(0)}%`);
  }
  return { rows, summary, conclusions, metrics };
}
