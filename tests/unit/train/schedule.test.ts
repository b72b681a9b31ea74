import { describe, expect, it } from 'vitest';
import { linearWarmupDecay, lrAt, warmupStepsFromRatio } from '../../../src/train/schedule.ts';

describe('linear warmup then linear decay (get_linear_schedule_with_warmup)', () => {
  it('reproduces the fixtures: warmup 1, total 4, base 1e-3 → 0, 1e-3, 6.667e-4', () => {
    const o = { baseLr: 0.001, warmupSteps: 1, totalSteps: 4 };
    expect([0, 1, 2, 3, 4].map((s) => lrAt(s, o))).toEqual([0, 0.001, 0.0006666666666666666, 0.0003333333333333333, 0]);
  });

  it('ramps linearly during warmup and never goes negative', () => {
    expect([0, 1, 2, 3, 4, 5, 10, 11].map((s) => linearWarmupDecay(s, 4, 10))).toEqual([0, 0.25, 0.5, 0.75, 1, 5 / 6, 0, 0]);
    expect(linearWarmupDecay(0, 0, 5)).toBe(1);
  });

  it('derives warmup steps from a ratio like transformers (ceil)', () => {
    expect(warmupStepsFromRatio(0.1, 95)).toBe(10);
    expect(warmupStepsFromRatio(0, 95)).toBe(0);
    expect(() => warmupStepsFromRatio(1.5, 10)).toThrow(/between 0 and 1/);
  });
});
