// The seed's per-case report: for each validation query, its positive and its hardest mined negative (the first
// negative, i.e. BM25's top non-positive), both models' scores and gaps, a label per model, and conclusion lines.
//
// Two scales, one set of verdicts:
//  - Rows keep raw logits. The page and the exported report show the model's activation by default, as
//    sentence-transformers' CrossEncoder.predict does (sigmoid for a one-label reranker such as bge-reranker: the
//    seed's 0.5939 → 0.0001), and logits on request.
//  - Labels and counts are decided on logits, the scale the seed's 1.0 danger threshold was written for (a gap of
//    two probabilities never reaches 1.0, so on that scale every right case would be 'at risk'). The toggle changes
//    the numbers shown, never a verdict.
//  - A change smaller than the noise threshold (NOISE_LOGIT) counts as unchanged: a case that was wrong and stays
//    wrong by the same margin is 持平 unchanged, not 翻车 regressed, and 0.00 → 0.00 is not a widened gap.

import type { RankingMetrics } from './metrics.ts';
import type { RerankMetrics } from './ranking.ts';

/** Base model labels: 排序错误 (negative above positive), 危险 (logit gap < 1.0), 尚可 (otherwise). */
export type BaseLabel = '排序错误' | '危险' | '尚可';
/**
 * Fine-tuned labels, by the change Δ of the logit gap against the base model's:
 *  优秀 Δ > noise and the positive ranks first; 改善 Δ > noise but the negative still ranks first;
 *  持平 |Δ| ≤ noise; 变差 Δ < −noise without flipping a right case; 翻车 Δ < −noise and a right case is now wrong.
 */
export type TunedLabel = '优秀' | '改善' | '持平' | '变差' | '翻车';

export const LABEL_ENGLISH: Record<BaseLabel | TunedLabel, string> = {
  排序错误: 'wrong order',
  危险: 'at risk (logit gap < 1.0)',
  尚可: 'acceptable',
  优秀: 'improved',
  改善: 'better, still wrong',
  持平: 'unchanged (within noise)',
  变差: 'worse',
  翻车: 'regressed (was right, now wrong)',
};

/** The base model's danger threshold on the positive − negative logit gap (the seed's 1.0). */
export const DANGER_GAP = 1.0;
/** Changes of a logit gap or score smaller than this count as unchanged (0.1 logit ≈ 2.5 points of probability near 0.5). */
export const NOISE_LOGIT = 0.1;

/** How a model turns a logit into its score: sentence-transformers' CrossEncoder default for one label is sigmoid. */
export type Activation = 'sigmoid' | 'identity';
/** What the page shows: the model's activation (default) or raw logits. */
export type ScoreScale = 'activation' | 'logit';

/**
 * The activation a CrossEncoder applies for this config.json: sentence-transformers' own setting when the folder has
 * one (config.sentence_transformers.activation_fn), else sigmoid for num_labels = 1 (its default), identity otherwise.
 */
export function activationOf(rawConfig: Record<string, unknown> | undefined): Activation {
  const st = rawConfig?.sentence_transformers as { activation_fn?: unknown } | undefined;
  const fn = typeof st?.activation_fn === 'string' ? st.activation_fn : typeof rawConfig?.activation_fn === 'string' ? (rawConfig.activation_fn as string) : '';
  if (/Identity/i.test(fn)) return 'identity';
  if (/Sigmoid/i.test(fn)) return 'sigmoid';
  const labels = typeof rawConfig?.num_labels === 'number' ? rawConfig.num_labels : rawConfig?.id2label ? Object.keys(rawConfig.id2label as object).length : 1;
  return labels === 1 ? 'sigmoid' : 'identity';
}

export const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** A logit on the chosen scale. */
export function onScale(logit: number, scale: ScoreScale, activation: Activation): number {
  return scale === 'activation' && activation === 'sigmoid' ? sigmoid(logit) : logit;
}

/** A score for display: probabilities with 4 decimals (0.0001 stays visible), logits with 2. */
export function formatScore(x: number | undefined, scale: ScoreScale, activation: Activation): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  return scale === 'activation' && activation === 'sigmoid' ? x.toFixed(4) : x.toFixed(2);
}

/** The scale's name in words, for headings and the exported report. */
export function scaleName(scale: ScoreScale, activation: Activation): string {
  if (scale === 'logit' || activation === 'identity') return '原始分数 raw logits';
  return '概率 probability (sigmoid of the logit, as sentence-transformers CrossEncoder.predict)';
}

export interface PairScores {
  pos: number;
  neg: number;
}

export interface ModelCaseScores extends PairScores {
  /** pos − neg, in logits. */
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
  /** Cases whose hard-negative logit fell by more than the noise threshold. */
  negativeSuppressed?: number;
  /** Cases whose logit gap widened / narrowed by more than the noise threshold (the rest are unchanged). */
  gapWidened?: number;
  gapNarrowed?: number;
  /** Means over the cases, in logits. */
  meanGap: { base: number; tuned?: number };
  meanNeg: { base: number; tuned?: number };
}

/** Reranking metrics on realistic lists (candidates.ts: BM25's top `depth` of the corpus plus the positives). */
export interface RerankComparison {
  depth: number;
  /** Distinct documents BM25 searched. */
  corpus: number;
  /** Share of the positives BM25 put in its top `depth`. */
  positivesRetrieved: number;
  /** BM25's own order of the same lists: the floor. */
  bm25: RerankMetrics;
  base: RerankMetrics;
  tuned?: RerankMetrics;
}

export interface EvalReport {
  rows: CaseRow[];
  summary: ReportSummary;
  /** Conclusion lines on the report's default scale (activation); conclusionsOf() gives them on another. */
  conclusions: string[];
  /** Metrics over each example's own positives and mined negatives (the page's Evaluate step). */
  metrics?: { base: RankingMetrics; tuned?: RankingMetrics };
  /** Metrics over realistic lists beside BM25's (`rerank-lab eval`). */
  ranking?: RerankComparison;
  /** The model's activation and the thresholds the verdicts used (older saved reports lack it: logits, 1.0, 0). */
  scale?: { activation: Activation; noise: number; dangerGap: number };
}

export function baseLabel(s: PairScores, dangerGap = DANGER_GAP): BaseLabel {
  if (s.neg > s.pos) return '排序错误';
  return s.pos - s.neg < dangerGap ? '危险' : '尚可';
}

export function tunedLabel(tuned: PairScores, base: PairScores, noise = NOISE_LOGIT): TunedLabel {
  const tGap = tuned.pos - tuned.neg;
  const bGap = base.pos - base.neg;
  const delta = tGap - bGap;
  if (Math.abs(delta) <= noise) return '持平';
  if (delta > 0) return tuned.neg > tuned.pos ? '改善' : '优秀';
  return base.neg <= base.pos && tuned.neg > tuned.pos ? '翻车' : '变差';
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

export interface ReportOptions {
  activation?: Activation;
  /** Noise threshold in logits (default NOISE_LOGIT). */
  noise?: number;
  dangerGap?: number;
  /** Reranking metrics on realistic lists, reported beside the cases. */
  ranking?: RerankComparison;
}

export function buildReport(
  cases: readonly ReportCase[],
  base: readonly PairScores[],
  tuned?: readonly PairScores[],
  metrics?: EvalReport['metrics'],
  options: ReportOptions = {},
): EvalReport {
  if (base.length !== cases.length) throw new Error(`base scores: expected ${cases.length} cases, got ${base.length}`);
  if (tuned && tuned.length !== cases.length) throw new Error(`fine-tuned scores: expected ${cases.length} cases, got ${tuned.length}`);
  const scale = { activation: options.activation ?? 'sigmoid', noise: options.noise ?? NOISE_LOGIT, dangerGap: options.dangerGap ?? DANGER_GAP };
  const rows: CaseRow[] = cases.map((c, i) => {
    const b = base[i];
    const row: CaseRow = { n: i + 1, ...c, base: { pos: b.pos, neg: b.neg, gap: b.pos - b.neg, label: baseLabel(b, scale.dangerGap) } };
    if (tuned) {
      const t = tuned[i];
      row.tuned = { pos: t.pos, neg: t.neg, gap: t.pos - t.neg, label: tunedLabel(t, b, scale.noise) };
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
  if (tuned) {
    const tunedLabels: Record<TunedLabel, number> = { 优秀: 0, 改善: 0, 持平: 0, 变差: 0, 翻车: 0 };
    for (const r of rows) tunedLabels[r.tuned!.label]++;
    summary.tunedLabels = tunedLabels;
    summary.negativeSuppressed = rows.filter((r) => r.tuned!.neg < r.base.neg - scale.noise).length;
    summary.gapWidened = rows.filter((r) => r.tuned!.gap > r.base.gap + scale.noise).length;
    summary.gapNarrowed = rows.filter((r) => r.tuned!.gap < r.base.gap - scale.noise).length;
    summary.meanGap.tuned = mean(rows.map((r) => r.tuned!.gap));
    summary.meanNeg.tuned = mean(rows.map((r) => r.tuned!.neg));
  }
  const report: EvalReport = { rows, summary, conclusions: [], metrics, scale };
  if (options.ranking) report.ranking = options.ranking;
  report.conclusions = conclusionsOf(report, 'activation');
  return report;
}

/** Means over the cases on a scale (the mean of the scaled scores, not the scaled mean). */
export function meansOn(rows: readonly CaseRow[], which: 'base' | 'tuned', scale: ScoreScale, activation: Activation): { gap: number; neg: number } {
  const s: ModelCaseScores[] = [];
  for (const r of rows) {
    const x = r[which];
    if (x) s.push(x);
  }
  const on = (x: number) => onScale(x, scale, activation);
  return { gap: mean(s.map((x) => on(x.pos) - on(x.neg))), neg: mean(s.map((x) => on(x.neg))) };
}

/** The conclusion lines, with mean figures on `scale`; the counts and verdicts are the same on every scale. */
export function conclusionsOf(report: EvalReport, scale: ScoreScale): string[] {
  const { rows, summary } = report;
  const sc = report.scale ?? { activation: 'identity' as const, noise: 0, dangerGap: DANGER_GAP };
  const act = sc.activation;
  const f = (x: number) => formatScore(x, scale, act);
  const unit = scale === 'activation' && act === 'sigmoid' ? 'probability' : 'logit';
  const n = rows.length;
  const out: string[] = [];
  const baseMeans = meansOn(rows, 'base', scale, act);
  if (!summary.tunedLabels) {
    const b = summary.baseLabels;
    out.push(
      `基线 Base model: ${b.排序错误}/${n} wrong order (排序错误), ${b.危险}/${n} at risk (危险, logit gap < ${sc.dangerGap.toFixed(1)}), ${b.尚可}/${n} acceptable (尚可); mean gap ${f(baseMeans.gap)} (${unit})`,
    );
  } else {
    const t = summary.tunedLabels;
    const tunedMeans = meansOn(rows, 'tuned', scale, act);
    const noise = `±${sc.noise} logit`;
    const unchanged = n - summary.gapWidened! - summary.gapNarrowed!;
    out.push(
      `噪声阈值 Noise threshold: a change within ${noise} counts as unchanged; verdicts are decided on logits, so they do not depend on the scale shown`,
      `负例被压低 Hard negative suppressed: ${summary.negativeSuppressed}/${n} cases (mean hard-negative score ${f(baseMeans.neg)} → ${f(tunedMeans.neg)}, ${unit})`,
      `差距拉大 Gap widened: ${summary.gapWidened}/${n} cases, narrowed ${summary.gapNarrowed}/${n}, unchanged ${unchanged}/${n} (mean gap ${f(baseMeans.gap)} → ${f(tunedMeans.gap)}, ${unit})`,
    );
    if (t.翻车 > 0) out.push(`翻车 Regressed: ${t.翻车}/${n} cases ranked the positive first before and rank the hard negative first now`);
    else out.push(`无翻车 No regressions: no case that the base model ranked right is ranked wrong now`);
    const stillWrong = rows.filter((r) => r.tuned!.neg > r.tuned!.pos && r.base.neg > r.base.pos).length;
    const fixed = rows.filter((r) => r.base.neg > r.base.pos && r.tuned!.neg <= r.tuned!.pos).length;
    if (fixed || stillWrong) out.push(`修正 Fixed: ${fixed}/${n} cases were in the wrong order and are right now; ${stillWrong}/${n} are still in the wrong order`);
    if (summary.gapWidened === 0 && summary.gapNarrowed === 0 && summary.negativeSuppressed === 0) {
      out.push(`总体 Overall: no case changed beyond the noise threshold (${noise}): the fine-tuned model scores these cases like the base model`);
    }
  }
  const r = report.ranking;
  const m = report.metrics;
  if (r?.tuned) {
    const pair = (label: string, k: keyof RerankMetrics) => `${label} ${r.base[k].toFixed(3)} → ${r.tuned![k].toFixed(3)} (BM25 ${r.bm25[k].toFixed(3)})`;
    out.push(`重排 Reranking BM25's top ${r.depth}: ${pair('NDCG@10', 'ndcg10')}, ${pair('MRR@10', 'mrr10')}, ${pair('Hit@1', 'hit1')}`);
  } else if (m?.tuned) out.push(`MRR@${m.base.k} ${m.base.mrr.toFixed(3)} → ${m.tuned.mrr.toFixed(3)}, Hit@1 ${(m.base.hit1 * 100).toFixed(0)}% → ${(m.tuned.hit1 * 100).toFixed(0)}%`);
  return out;
}
