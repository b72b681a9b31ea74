// Checkpoint encodings (one safetensors blob for OPFS, a folder for Node) round-trip every field, NaN/Infinity
// included; option checks name what to change; a resume with other options is refused before touching the GPU.
import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../../src/gpu/runtime.ts';
import { loadHfFolder } from '../../../src/model/hf-folder.ts';
import { buildTinyModel } from '../../../src/model/tiny.ts';
import { type Checkpoint, checkpointFromBytes, checkpointFromFiles, checkpointToBytes, checkpointToFiles } from '../../../src/train/checkpoint.ts';
import { resolveTrainOptions, stepCounts, train } from '../../../src/train/trainer.ts';
import type { TrainOptions } from '../../../src/train/types.ts';

const base: TrainOptions = { loss: 'listwise', batchSize: 2, groupSize: 3, epochs: 2, lr: 1e-3, warmupRatio: 0.1, maxLength: 24, seed: 1 };

function fakeCheckpoint(): Checkpoint {
  const map = (x: number) => new Map([['a.weight', Float32Array.of(x, -x, 0.5)], ['b.bias', Float32Array.of(x * 2)]]);
  return {
    version: 1, step: 7, totalSteps: 12, epoch: 1, nextBatch: 1, adamStep: 6, rng: { seed: 1, epoch: 1, nextBatch: 1 },
    options: { ...base, weightDecay: 0.01, maxGradNorm: 1, gradAccum: 1, dropout: 0.1, attentionDropout: 0.1, classifierDropout: 0.1, posWeight: 1, randomNegatives: 0, queryMaxLength: 0, selectBy: 'ndcg@10', valCandidates: 30 },
    valHistory: [
      { epoch: 0, loss: 1.1, scoreStd: 0.2 },
      {
        epoch: 1, loss: NaN, scoreStd: NaN,
        figures: {
          epoch: 1, step: 7, valLoss: NaN, meanGap: 0.5, mrr: 1, selectBy: 'ndcg@10', value: 0.75,
          ranking: { queries: 3, ndcg10: 0.75, mrr10: 0.7, hit1: NaN, recall10: 1 }, bm25: { queries: 3, ndcg10: 0.5, mrr10: 0.4, hit1: 1 / 3, recall10: Infinity },
        },
      },
    ],
    best: { epoch: 1, valLoss: Infinity, metric: 'ndcg@10', value: 0.75, params: map(4) },
    skippedSteps: 1, seconds: 12.5, params: map(1), m: map(2), v: new Map([['a.weight', Float32Array.of(9, 9, 0.25)], ['b.bias', Float32Array.of(36)]]), // second moments are ≥ 0
  };
}

describe('checkpoints', () => {
  it('round-trips through bytes and through files', () => {
    const c = fakeCheckpoint();
    expect(checkpointFromBytes(checkpointToBytes(c))).toEqual(c);
    expect(checkpointFromFiles(checkpointToFiles(c))).toEqual(c);
    const noBest = { ...c, best: { epoch: 0, valLoss: Infinity } };
    expect(checkpointFromBytes(checkpointToBytes(noBest)).best).toEqual({ epoch: 0, valLoss: Infinity, params: undefined });
  });

  it('rejects what is not a checkpoint', () => {
    expect(() => checkpointFromBytes(new Uint8Array(4))).toThrow(/cannot be read/);
    const files = checkpointToFiles(fakeCheckpoint());
    files.delete('adam_v.safetensors');
    expect(() => checkpointFromFiles(files)).toThrow(/no adam_v\.safetensors.*it is incomplete/);
  });
});

describe('training options', async () => {
  const model = await loadHfFolder(buildTinyModel({ corpus: ['问题答案'], hidden: 8, heads: 2, layers: 1, maxPositions: 32 }));

  it('fills defaults from the model and AdamW', () => {
    const o = resolveTrainOptions(model.config, base);
    expect(o).toMatchObject({ weightDecay: 0.01, maxGradNorm: 1, gradAccum: 1, dropout: 0.1 });
    expect(stepCounts(5, { batchSize: 2, epochs: 3 })).toEqual({ perEpoch: 3, total: 9 });
  });

  it('says what is wrong', () => {
    expect(() => resolveTrainOptions(model.config, { ...base, maxLength: 64, groupSize: 1, gradAccum: 3 })).toThrow(
      /group size must be an integer ≥ 2.*max length 64 exceeds the model's 32 positions.*gradient accumulation 3 exceeds the batch size 2/,
    );
  });

  it('refuses to resume with other options', async () => {
    const c = fakeCheckpoint();
    const rt = {} as GpuRuntime; // never reached
    const data = { train: [{ query: 'q', pos: ['p'], neg: ['n', 'm'] }], val: [] };
    await expect(train(rt, model, data, { ...base, lr: 2e-3, dropout: 0.1 }, { resumeFrom: c })).rejects.toThrow(/cannot resume: the options differ.*lr: checkpoint 0\.001, now 0\.002/);
  });
});
