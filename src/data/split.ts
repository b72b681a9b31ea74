// Train/validation split by source document: every chunk of one document lands on the same side, so no document
// feeds both training and validation (not as a positive, not as a negative).

import { mulberry32, shuffleInPlace } from '../util/rng.ts';

export interface SplitResult {
  /** Per chunk: 0 = train, 1 = validation. */
  side: Uint8Array;
  trainSources: string[];
  valSources: string[];
}

export function splitBySource(chunks: readonly { source: string }[], valRatio: number, seed = 42): SplitResult {
  if (!(valRatio >= 0 && valRatio < 1)) throw new Error(`Validation ratio must be in [0, 1) (got ${valRatio}).`);
  const sources = [...new Set(chunks.map((c) => c.source))].sort();
  shuffleInPlace(sources, mulberry32(seed));
  let nVal = Math.round(sources.length * valRatio);
  if (valRatio > 0 && nVal === 0 && sources.length > 1) nVal = 1;
  const val = new Set(sources.slice(0, nVal));
  const side = new Uint8Array(chunks.length);
  chunks.forEach((c, i) => (side[i] = val.has(c.source) ? 1 : 0));
  return { side, trainSources: sources.slice(nVal).sort(), valSources: sources.slice(0, nVal).sort() };
}
