import { describe, expect, it } from 'vitest';
import { applyMargin, stepsFor, suggestEpochs } from '../../../src/app/lib/suggest.ts';

// The page's training advice (src/app/lib/suggest.ts), from the seed's rules of thumb.
describe('training advice', () => {
  it('epochs: under 1,000 pairs 5–10, over 10,000 pairs 1–2, in between 2–5', () => {
    expect(suggestEpochs(0)).toEqual({ epochs: 10, min: 5, max: 10 });
    expect(suggestEpochs(500)).toEqual({ epochs: 8, min: 5, max: 10 }); // 10 − 2.5, rounded
    expect(suggestEpochs(999).epochs).toBe(5);
    expect(suggestEpochs(1000)).toEqual({ epochs: 5, min: 2, max: 5 });
    expect(suggestEpochs(10_000)).toEqual({ epochs: 2, min: 2, max: 5 });
    expect(suggestEpochs(20_000)).toEqual({ epochs: 2, min: 1, max: 2 });
    expect(suggestEpochs(100_000)).toEqual({ epochs: 1, min: 1, max: 2 });
  });
  it('margin: largest passing batch reduced by the percentage, never below 1', () => {
    expect(applyMargin(16, 20)).toBe(12);
    expect(applyMargin(1, 50)).toBe(1);
    expect(applyMargin(0, 20)).toBe(0);
    expect(applyMargin(10, 0)).toBe(10);
  });
  it('steps per run', () => {
    expect(stepsFor(22, 4, 3)).toBe(18); // ceil(22/4) = 6 per epoch
  });
});
