// Scoring the validation set with the base or fine-tuned model in the training worker, and turning scores into
// metrics and the per-case report (src/eval). The page calls these; the GPU work happens in the worker.

import type { TrainExample } from '../../data/jsonl.ts';
import { candidatesOf, rankingMetrics, splitScores, type RankingMetrics } from '../../eval/metrics.ts';
import { buildReport, casesOf, type Activation, type EvalReport, type PairScores } from '../../eval/report.ts';
import type { Progress } from '../../util/progress.ts';
import type { JobKind } from '../../workers/train/protocol.ts';
import { call, proxy, trainWorker } from '../workers/clients.ts';

export type Scored =
  | { ok: true; scores: number[]; metrics: RankingMetrics }
  | { ok: false; error: string; cancelled?: boolean; mismatch?: boolean };

/** Scores every candidate of the validation set; `job` names the job for cancel(). */
export async function scoreValidation(val: readonly TrainExample[], which: 'base' | 'tuned', maxLength: number, onProgress?: (p: Progress) => void, job?: JobKind): Promise<Scored> {
  if (!val.length) return { ok: false, error: 'The validation set is empty: mine again with a validation share above 0 (step 3).' };
  const { pairs, spans } = candidatesOf(val);
  const r = await call(() => trainWorker().score(pairs, which, maxLength, onProgress ? proxy(onProgress) : undefined, job));
  if (!r.ok) {
    if (r.error.name === 'AbortError') return { ok: false, error: 'Cancelled.', cancelled: true };
    if (r.error.name === 'TunedModelMismatch') return { ok: false, error: r.error.message, mismatch: true };
    return { ok: false, error: `${r.error.name}: ${r.error.message}` };
  }
  return { ok: true, scores: r.value, metrics: rankingMetrics(splitScores(r.value, spans)) };
}

/** The per-case pair scores (first positive, first negative) of each example with a negative. */
export function casePairs(val: readonly TrainExample[], scores: readonly number[]): PairScores[] {
  const { spans } = candidatesOf(val);
  const out: PairScores[] = [];
  val.forEach((ex, i) => {
    if (!ex.pos.length || !ex.neg.length) return;
    out.push({ pos: scores[spans[i].start], neg: scores[spans[i].start + ex.pos.length] });
  });
  return out;
}

export function reportOf(val: readonly TrainExample[], base: readonly number[], baseM: RankingMetrics, tuned: readonly number[] | undefined, tunedM: RankingMetrics | undefined, activation: Activation): EvalReport {
  return buildReport(casesOf(val), casePairs(val, base), tuned ? casePairs(val, tuned) : undefined, { base: baseM, tuned: tunedM }, { activation });
}

/** Files of a Hugging Face folder the worker needs (weights, config, tokenizer); training artefacts are left out. */
export function isModelFile(name: string): boolean {
  return /^(config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|vocab\.txt|sentencepiece\.bpe\.model|model(-\d+-of-\d+)?\.safetensors|model\.safetensors\.index\.json|pytorch_model\.bin)$/.test(name);
}
