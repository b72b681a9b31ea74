// The two training losses on the GPU, over the logits of one micro-batch:
//   bce       pointwise BCE-with-logits, mean over pairs (sentence-transformers' CrossEncoder, num_labels 1)
//   listwise  softmax cross-entropy over groups of 1 positive + n negatives, positive first (FlagEmbedding)
// Both write the mean loss into a slot of a loss buffer and d(loss)/d(logits) (times gradScale, for accumulation).

import type { Tensor } from '../gpu/buffers.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';
import { bceWithLogits, listwiseCE } from '../kernels/loss.ts';

export type LossKind = 'bce' | 'listwise';

export interface LossArgs {
  kind: LossKind;
  logits: Tensor; // [B,1]
  /** [B] 1 for positives, 0 for negatives (bce only). */
  labels?: Tensor;
  dLogits: Tensor; // [B,1]
  loss: Tensor;
  lossSlot: number;
  pairs: number;
  groupSize: number;
  gradScale?: number;
  /** bce only: torch's pos_weight (default 1). */
  posWeight?: number;
}

export async function lossForwardBackward(rt: GpuRuntime, a: LossArgs): Promise<void> {
  if (a.kind === 'bce') {
    if (!a.labels) throw new Error('the bce loss needs labels');
    await bceWithLogits(rt, { logits: a.logits, labels: a.labels, loss: a.loss, dlogits: a.dLogits, n: a.pairs, lossOffset: a.lossSlot, gradScale: a.gradScale, posWeight: a.posWeight });
  } else {
    if (a.pairs % a.groupSize !== 0) throw new Error(`listwise loss: ${a.pairs} pairs is not a whole number of groups of ${a.groupSize}`);
    await listwiseCE(rt, { logits: a.logits, loss: a.loss, dlogits: a.dLogits, groups: a.pairs / a.groupSize, groupSize: a.groupSize, lossOffset: a.lossSlot, gradScale: a.gradScale });
  }
}
