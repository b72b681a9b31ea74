// Learning-rate schedule: transformers' get_linear_schedule_with_warmup, i.e. the multiplier for step s (0-based,
// the step about to be taken) is s / warmup during warmup, then (total − s) / (total − warmup), floored at 0.

export interface LinearScheduleOptions {
  baseLr: number;
  warmupSteps: number;
  totalSteps: number;
}

/** The multiplier at `step` (0-based). */
export function linearWarmupDecay(step: number, warmupSteps: number, totalSteps: number): number {
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
}

/** The learning rate used by optimizer step `step` (0-based). */
export function lrAt(step: number, o: LinearScheduleOptions): number {
  return o.baseLr * linearWarmupDecay(step, o.warmupSteps, o.totalSteps);
}

/** Warmup steps from a ratio, as transformers' TrainingArguments.get_warmup_steps: ceil(total · ratio). */
export function warmupStepsFromRatio(ratio: number, totalSteps: number): number {
  if (!(ratio >= 0 && ratio <= 1)) throw new Error(`warmup ratio must be between 0 and 1, got ${ratio}`);
  return Math.ceil(totalSteps * ratio);
}
