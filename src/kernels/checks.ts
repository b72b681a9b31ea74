// Argument checks every launcher shares, so their errors read alike: "[kernel] name 'label' has 10 elements [10],
// needs 12 (context)".
import { type Tensor, numel } from '../gpu/buffers.ts';
import { KernelShapeError } from '../gpu/errors.ts';

/** Throws unless `t` holds at least `n` elements. `name` says which argument; `context` what `n` came from. */
export function needElements(kernel: string, t: Tensor, n: number, name: string, context = ''): void {
  const have = numel(t.shape);
  if (have < n) {
    const who = name ? `${name} '${t.label}'` : `'${t.label}'`;
    throw new KernelShapeError(kernel, `${who} has ${have} elements [${t.shape}], needs ${n}${context ? ` (${context})` : ''}`);
  }
}
