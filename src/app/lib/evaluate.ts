// Scoring the validation set with the base or fine-tuned model in the training worker, and turning scores into
// metrics and the per-case report (src/eval). The page calls these; the GPU work happens in the worker.

import type { TrainExample } from '../../data/jsonl.ts';
import { scoreModel } from '../../eval/compare.ts';
import type { RankingMetrics } from '../../eval/metrics.ts';
import { isModelFolderFile } from '../../model/folder-files.ts';
import type { Progress } from '../../util/progress.ts';
import type { JobKind } from '../../workers/train/protocol.ts';
import { call, proxy, trainWorker } from '../workers/clients.ts';

export type Scored =
  | { ok: true; scores: number[]; metrics: RankingMetrics }
  | { ok: false; error: string; cancelled?: boolean; mismatch?: boolean };

/** Scores every candidate of the validation set; `job` names the job for cancel(). */
export async function scoreValidation(val: readonly TrainExample[], which: 'base' | 'tuned', maxLength: number, onProgress?: (p: Progress) => void, job?: JobKind): Promise<Scored> {
  if (!val.length) return { ok: false, error: 'The validation set is empty: mine again with a validation share above 0 (step 3).' };
  // A failed worker call ends the scoring with its reason as data (the page shows it), not as an exception.
  class Failed extends Error {
    constructor(readonly result: Scored & { ok: false }) {
      super(result.error);
    }
  }
  try {
    const m = await scoreModel(val, which, async (pairs) => {
      const r = await call(() => trainWorker().score(pairs, which, maxLength, onProgress ? proxy(onProgress) : undefined, job));
      if (r.ok) return r.value;
      if (r.error.name === 'AbortError') throw new Failed({ ok: false, error: 'Cancelled.', cancelled: true });
      if (r.error.name === 'TunedModelMismatch') throw new Failed({ ok: false, error: r.error.message, mismatch: true });
      throw new Failed({ ok: false, error: `${r.error.name}: ${r.error.message}` });
    });
    return { ok: true, ...m };
  } catch (e) {
    if (e instanceof Failed) return e.result;
    throw e;
  }
}

// The per-case report is built by the same library as `rerank-lab eval` (src/eval/compare.ts).
export { casePairs, reportOf } from '../../eval/compare.ts';

/** Files of a Hugging Face folder the worker needs (weights, config, tokenizer); training artefacts are left out. */
export const isModelFile = isModelFolderFile;
