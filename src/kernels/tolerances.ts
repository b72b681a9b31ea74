// Every numeric tolerance the kernel tests use, in one place.
// Errors are measured as max |gpu - ref| / max(|ref|, floor): relative to the largest reference value, so a
// near-zero element cannot blow up the figure.

export const TOL = {
  /** f32 kernels against a float64 CPU reference (sums of up to a few thousand terms). */
  f32: 2e-6,
  /** f32 kernels whose result is a long reduction (matmul with K in the thousands, attention). */
  f32Reduction: 1e-5,
  /** Engine vs Hugging Face fixtures (issue 3 acceptance). */
  parity: {
    logitsRel: 1e-5, lossAbs: 1e-6, gradRel: 1e-4, adamwRel: 1e-4, logitsAfterAdamwRel: 1e-4,
    // the hard AdamW fixture (tests/python/dump_adamw_fixture.py): see parity.ts
    hardLossAbs: 1e-6, hardNormRel: 1e-5, hardAdamwRel: 1e-4, hardLogitsRel: 1e-4,
  },
} as const;

/** max |a − b| (NaN counts as infinite) and max |b|. */
function errorParts(a: ArrayLike<number>, b: ArrayLike<number>): { num: number; den: number } {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= num)) num = Number.isNaN(d) ? Infinity : d;
    const m = Math.abs(b[i]);
    if (m > den) den = m;
  }
  return { num, den };
}

/** max |a - b| / max |b| (with a floor so an all-zero reference compares absolutely). */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-30): number {
  const { num, den } = errorParts(a, b);
  return num / Math.max(den, floor);
}

/** The parity issue's per-tensor error: max |a − b| / max |b|, or max |a − b| where b is all zero. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const { num, den } = errorParts(a, b);
  return den === 0 ? num : num / den;
}
