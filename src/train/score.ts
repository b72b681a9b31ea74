// Scoring pairs with a model on the GPU: tokenise in batches (document side truncated first, as in training), run
// the forward pass, read the logits back. The page's training worker and the `score` / `eval` commands share it.

import type { PairTokenizer } from '../model/tokenize.ts';
import { throwIfAborted, type LongRunning } from '../util/progress.ts';
import type { GpuModel } from './gpu-model.ts';

export interface PairToScore {
  query: string;
  doc: string;
}

export interface ScoredPairs {
  /** One raw logit per pair, in input order. */
  logits: number[];
  /** Pairs whose document was cut to fit maxLength. */
  truncatedDocuments: number;
  /** Pairs whose query alone was too long (cut to half the budget). */
  truncatedQueries: number;
}

export async function scorePairs(
  model: GpuModel,
  tokenizer: PairTokenizer,
  pairs: readonly PairToScore[],
  opts: LongRunning & { maxLength: number; batchSize?: number; stage?: string },
): Promise<ScoredPairs> {
  const step = opts.batchSize ?? 16;
  const out: ScoredPairs = { logits: [], truncatedDocuments: 0, truncatedQueries: 0 };
  const stage = opts.stage ?? 'score';
  opts.onProgress?.({ stage, done: 0, total: pairs.length });
  try {
    for (let i = 0; i < pairs.length; i += step) {
      throwIfAborted(opts.signal);
      const part = pairs.slice(i, i + step);
      const batch = tokenizer.encodePairs(part.map((p) => p.query), part.map((p) => p.doc), { maxLength: opts.maxLength });
      out.truncatedDocuments += batch.truncatedDocuments;
      out.truncatedQueries += batch.truncatedQueries;
      out.logits.push(...(await model.score(batch)));
      opts.onProgress?.({ stage, done: Math.min(pairs.length, i + step), total: pairs.length });
    }
  } finally {
    model.encoder.releaseWorkspace();
  }
  return out;
}
