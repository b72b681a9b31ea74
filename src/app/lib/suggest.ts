// Training advice from the seed's rules of thumb.

/** Suggested epochs and the advised range for a training set of `pairs` query–positive pairs:
 *  under 1,000 pairs 5–10 epochs, over 10,000 pairs 1–2, in between 2–5 (fewer as the set grows). */
export function suggestEpochs(pairs: number): { epochs: number; min: number; max: number } {
  if (pairs < 1000) return { epochs: Math.round(10 - (5 * Math.max(0, pairs)) / 1000), min: 5, max: 10 };
  if (pairs > 10_000) return { epochs: pairs > 50_000 ? 1 : 2, min: 1, max: 2 };
  return { epochs: Math.max(2, Math.min(5, Math.round(5 - 3 * Math.log10(pairs / 1000)))), min: 2, max: 5 };
}

export const LR_DEFAULT = 2e-5;
export const LR_MIN = 1e-5;
export const LR_MAX = 3e-5;

/** The batch size after a safety margin: largest passing size reduced by `marginPercent`, at least 1. */
export function applyMargin(largestOk: number, marginPercent: number): number {
  if (largestOk <= 0) return 0;
  return Math.max(1, Math.floor(largestOk * (1 - Math.min(90, Math.max(0, marginPercent)) / 100)));
}

/** Optimizer steps for a run (one step per batch of query groups), for the warmup display. */
export function stepsFor(examples: number, batchSize: number, epochs: number, gradAccum = 1): number {
  return Math.ceil(examples / Math.max(1, batchSize * gradAccum)) * epochs;
}
