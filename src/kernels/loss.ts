// Launchers for shaders/loss.wgsl (float64 reference in src/model/reference/losses.ts). Both losses run in one
// workgroup (the batch of scores is small: n up to a few thousand) and write the mean loss to loss[lossOffset] and
// the gradient of that mean (times gradScale, e.g. 1/accumulation steps) to dlogits.
//   bceWithLogits(rt, {logits, labels, loss, dlogits, n, lossOffset?, gradScale?, posWeight?})
//       logits, labels, dlogits [n]: mean_i w·y·softplus(−x) + (1−y)·softplus(x) (torch's BCEWithLogitsLoss with
//       pos_weight w, default 1);  d = (σ(x)·(1 − y + w·y) − w·y)·gradScale/n
//   listwiseCE(rt, {logits, loss, dlogits, groups, groupSize, lossOffset?, gradScale?})
//       logits, dlogits [groups, groupSize], positive at index 0 of each group (FlagEmbedding's reranker loss):
//       mean_k logsumexp(z_k) - z_k0;  d = (softmax(z_k) - onehot0)·gradScale/groups

import { needElements } from './checks.ts';
import type { Tensor } from '../gpu/buffers.ts';
import { KernelShapeError } from '../gpu/errors.ts';
import { f32bits, launch } from '../gpu/launch.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';

export interface BceArgs {
  /** [n] scores. */
  logits: Tensor;
  /** [n] targets in [0, 1] (1 = relevant). */
  labels: Tensor;
  /** Receives the mean loss at lossOffset. */
  loss: Tensor;
  /** [n] gradient of the mean loss (times gradScale). */
  dlogits: Tensor;
  n: number;
  lossOffset?: number;
  /** Multiplies dlogits (gradient accumulation: 1/steps). Default 1. */
  gradScale?: number;
  /** torch's pos_weight: the weight of the positive term (sentence-transformers v4 sets it to the negatives per
   * positive). Default 1 (plain BCE). */
  posWeight?: number;
}

export interface ListwiseArgs {
  /** [groups, groupSize] scores; index 0 of each group is the positive. */
  logits: Tensor;
  loss: Tensor;
  /** [groups, groupSize]. */
  dlogits: Tensor;
  groups: number;
  groupSize: number;
  lossOffset?: number;
  gradScale?: number;
}

function checkCommon(kernel: string, count: number, a: { logits: Tensor; loss: Tensor; dlogits: Tensor; lossOffset?: number; gradScale?: number }): number {
  const off = a.lossOffset ?? 0;
  if (!Number.isInteger(off) || off < 0) throw new KernelShapeError(kernel, `lossOffset must be a non-negative integer (got ${off})`);
  if (!Number.isFinite(a.gradScale ?? 1)) throw new KernelShapeError(kernel, `gradScale must be a finite number (got ${a.gradScale})`);
  needElements(kernel, a.logits, count, 'logits');
  needElements(kernel, a.dlogits, count, 'dlogits');
  needElements(kernel, a.loss, off + 1, 'loss');
  if (a.dlogits.buffer === a.logits.buffer) throw new KernelShapeError(kernel, `dlogits '${a.dlogits.label}' may not alias logits`);
  if (a.loss.buffer === a.logits.buffer || a.loss.buffer === a.dlogits.buffer) {
    throw new KernelShapeError(kernel, `loss '${a.loss.label}' needs its own buffer (it aliases logits or dlogits)`);
  }
  return off;
}

/** 1/count as a float64 split into two f32 words (the shader takes the mean to about one f32 ulp). */
function inverseWords(count: number): [number, number] {
  const inv = 1 / count;
  const hi = Math.fround(inv);
  return [f32bits(hi), f32bits(inv - hi)];
}

export async function bceWithLogits(rt: GpuRuntime, a: BceArgs): Promise<void> {
  const kernel = 'bceWithLogits';
  if (!Number.isInteger(a.n) || a.n <= 0) throw new KernelShapeError(kernel, `n must be a positive integer (got ${a.n})`);
  const off = checkCommon(kernel, a.n, a);
  needElements(kernel, a.labels, a.n, 'labels');
  const posWeight = a.posWeight ?? 1;
  if (!(posWeight > 0 && Number.isFinite(posWeight))) throw new KernelShapeError(kernel, `posWeight must be a positive number (got ${a.posWeight})`);
  if (a.labels.buffer === a.dlogits.buffer || a.labels.buffer === a.loss.buffer) {
    throw new KernelShapeError(kernel, `labels '${a.labels.label}' may not share a buffer with an output`);
  }
  await launch(rt, {
    kernel,
    shader: 'loss',
    entry: 'bce',
    bindings: [a.logits, a.labels, a.loss, a.dlogits],
    params: [a.n, off, f32bits((a.gradScale ?? 1) / a.n), ...inverseWords(a.n), f32bits(posWeight - 1)],
    workgroups: [1],
  });
}

export async function listwiseCE(rt: GpuRuntime, a: ListwiseArgs): Promise<void> {
  const kernel = 'listwiseCE';
  if (!Number.isInteger(a.groups) || a.groups <= 0) throw new KernelShapeError(kernel, `groups must be a positive integer (got ${a.groups})`);
  if (!Number.isInteger(a.groupSize) || a.groupSize < 2) {
    throw new KernelShapeError(kernel, `groupSize must be an integer >= 2: one positive and at least one negative (got ${a.groupSize})`);
  }
  const off = checkCommon(kernel, a.groups * a.groupSize, a);
  await launch(rt, {
    kernel,
    shader: 'loss',
    entry: 'listwise',
    bindings: [a.logits, a.loss, a.dlogits],
    params: [a.groups, a.groupSize, off, f32bits((a.gradScale ?? 1) / a.groups), ...inverseWords(a.groups)],
    workgroups: [1],
  });
}
