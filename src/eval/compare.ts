// Base vs fine-tuned on a validation set: each example's candidate list is scored by both models, then the ranking
// metrics (metrics.ts) and the seed's per-case report (report.ts) are built from the scores. The page (Evaluate step,
// through src/app/lib/evaluate.ts) and `rerank-lab eval` both come through here, so they report the same numbers.
//
// The candidate lists today are each example's own positives and mined negatives (metrics.ts candidatesOf). Realistic
// BM25 candidate lists (src/eval/ranking.ts, issue 9b) plug in as another `candidates` function with the same shape.

import { candidatesOf, rankingMetrics, splitScores, type RankingMetrics } from './metrics.ts';
import { buildReport, casesOf, type Activation, type EvalReport, type PairScores } from './report.ts';

export interface Example {
  query: string;
  pos: readonly string[];
  neg: readonly string[];
}

/** The pairs to score and where each example's candidates are among them. */
export type CandidateLists = ReturnType<typeof candidatesOf>;

/** Scores a list of pairs with one model (raw logits, input order). */
export type ScorePairs = (pairs: CandidateLists['pairs'], which: 'base' | 'tuned') => Promise<number[]>;

export interface ModelScores {
  scores: number[];
  metrics: RankingMetrics;
}

/** One model's scores on the candidate lists and its ranking metrics. */
export async function scoreModel(val: readonly Example[], which: 'base' | 'tuned', score: ScorePairs, candidates = candidatesOf): Promise<ModelScores> {
  const { pairs, spans } = candidates(val);
  const scores = await score(pairs, which);
  return { scores, metrics: rankingMetrics(splitScores(scores, spans)) };
}

/** The per-case pair scores (first positive, first negative) of each example with a negative. */
export function casePairs(val: readonly Example[], scores: readonly number[]): PairScores[] {
  const { spans } = candidatesOf(val);
  const out: PairScores[] = [];
  val.forEach((ex, i) => {
    if (!ex.pos.length || !ex.neg.length) return;
    out.push({ pos: scores[spans[i].start], neg: scores[spans[i].start + ex.pos.length] });
  });
  return out;
}

/** The per-case report; `activation` is the model's (what CrossEncoder.predict applies), the report's default scale. */
export function reportOf(val: readonly Example[], base: readonly number[], baseM: RankingMetrics, tuned: readonly number[] | undefined, tunedM: RankingMetrics | undefined, activation: Activation): EvalReport {
  return buildReport(casesOf(val), casePairs(val, base), tuned ? casePairs(val, tuned) : undefined, { base: baseM, tuned: tunedM }, { activation });
}

/** The whole comparison: both models scored, metrics and the per-case report. */
export async function compareModels(val: readonly Example[], score: ScorePairs, opts: { tuned?: boolean; activation?: Activation } = {}): Promise<{ report: EvalReport; base: ModelScores; tuned?: ModelScores }> {
  if (!val.length) throw new Error('the validation set is empty');
  const base = await scoreModel(val, 'base', score);
  const tuned = opts.tuned === false ? undefined : await scoreModel(val, 'tuned', score);
  return { report: reportOf(val, base.scores, base.metrics, tuned?.scores, tuned?.metrics, opts.activation ?? 'sigmoid'), base, tuned };
}
