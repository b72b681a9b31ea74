// Non-finite weights: NaN and ±Inf, and values so large that f32 arithmetic on them overflows (|x| ≥ 2^64: its
// square is beyond f32's 3.4e38, so a LayerNorm or an attention product over it is Inf/NaN even though the stored
// value is finite — what a learning rate of 1e30 leaves behind). Checked when a model is loaded, when a checkpoint
// is resumed, after each validation and before anything is saved, so a broken model is refused with the tensor named
// instead of training on (every update skipped) or being saved.

/** Magnitude at or beyond which a weight counts as overflowed (2^64 ≈ 1.8e19; its square overflows f32). */
export const OVERFLOW_ABS = 2 ** 64;

export interface NonFiniteReport {
  /** The tensor's name (a file name may be prefixed by the caller). */
  name: string;
  nan: number;
  inf: number;
  overflow: number;
  values: number;
  /** Index of the first bad value. */
  first: number;
}

/** Counts NaN, ±Inf and overflowed values of one tensor; undefined when it is clean. */
export function nonFiniteIn(name: string, data: ArrayLike<number>): NonFiniteReport | undefined {
  let nan = 0;
  let inf = 0;
  let overflow = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // one comparison for the common case: every finite, sane value passes it
    if (v < OVERFLOW_ABS && v > -OVERFLOW_ABS) continue;
    if (Number.isNaN(v)) nan++;
    else if (!Number.isFinite(v)) inf++;
    else overflow++;
    if (first < 0) first = i;
  }
  return first < 0 ? undefined : { name, nan, inf, overflow, values: data.length, first };
}

/** The first tensor (in iteration order) that holds a bad value. */
export function firstNonFinite(tensors: Iterable<[string, ArrayLike<number>]>): NonFiniteReport | undefined {
  for (const [name, data] of tensors) {
    const r = nonFiniteIn(name, data);
    if (r) return r;
  }
  return undefined;
}

/** "tensor 'x' holds 3 NaN and 1 Inf of 1024 values (first at index 17)". */
export function describeNonFinite(r: NonFiniteReport): string {
  const parts = [r.nan && `${r.nan} NaN`, r.inf && `${r.inf} Inf`, r.overflow && `${r.overflow} value(s) beyond ±1.8e19 (f32 arithmetic on them overflows)`].filter(Boolean);
  return `tensor '${r.name}' holds ${parts.join(' and ')} of ${r.values} values (first at index ${r.first})`;
}

export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
  constructor(
    message: string,
    readonly report: NonFiniteReport,
  ) {
    super(message);
  }
}

/** Throws NonFiniteError `<what>: <tensor report>; <advice>` when any tensor holds a bad value. */
export function assertFinite(tensors: Iterable<[string, ArrayLike<number>]>, what: string, advice: string): void {
  const r = firstNonFinite(tensors);
  if (r) throw new NonFiniteError(`${what}: ${describeNonFinite(r)}; ${advice}`, r);
}
