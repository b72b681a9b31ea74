// A small, valid training checkpoint (finite tensors, second moments ≥ 0) whose tensors depend on its step.
import type { Checkpoint } from '../../../../src/train/checkpoint.ts';

export function fakeCheckpoint(step: number, values = 1000): Checkpoint {
  const map = (x: number) =>
    new Map([
      ['a.weight', Float32Array.from({ length: values }, (_, i) => x + i * 1e-3)],
      ['b.bias', Float32Array.of(x * 2)],
    ]);
  return {
    version: 1, step, totalSteps: 10, epoch: 0, nextBatch: step, adamStep: step, rng: { seed: 1, epoch: 0, nextBatch: step },
    options: { loss: 'listwise', batchSize: 2, groupSize: 3, epochs: 1, lr: 1e-3, warmupRatio: 0.1, maxLength: 24, seed: 1, weightDecay: 0.01, maxGradNorm: 1, gradAccum: 1, dropout: 0.1,
      attentionDropout: 0.1, classifierDropout: 0.1, posWeight: 1, randomNegatives: 0, queryMaxLength: 0,
      selectBy: 'ndcg@10', valCandidates: 30 },
    valHistory: [{ epoch: 0, loss: 1.1, scoreStd: 0.2 }],
    best: { epoch: 0, valLoss: Infinity },
    skippedSteps: 0, seconds: step, params: map(step), m: map(step / 10), v: map(step / 100),
  };
}
