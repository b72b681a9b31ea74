// The training loop on a tiny char-level model (SwiftShader-sized): a saved model reloads to identical logits, a run
// stopped and resumed from its checkpoint ends bit-identical to an uninterrupted one, the NaN guard reports
// skipped updates, epoch 0 (the base model) is a candidate for best, and validation uses validation documents only.
// One file so the GPU pipelines compile once.
import { describe, expect, it } from 'vitest';
import { loadHfFolder, saveHfFolder, type HfModel } from '../../../src/model/hf-folder.ts';
import { buildTinyModel } from '../../../src/model/tiny.ts';
import { type Checkpoint, checkpointFromBytes, checkpointToBytes } from '../../../src/train/checkpoint.ts';
import { GpuModel } from '../../../src/train/gpu-model.ts';
import { train } from '../../../src/train/trainer.ts';
import type { TrainEvent, TrainOptions } from '../../../src/train/types.ts';
import { gpu } from '../helpers/gpu.ts';
import { cmrcCorpus, cmrcExamples } from './cmrc.ts';

const corpus = cmrcCorpus();
const { train: allTrain, val: allVal } = cmrcExamples(3);
const tiny = () => loadHfFolder(buildTinyModel({ corpus, hidden: 16, heads: 2, layers: 1, intermediate: 32, maxPositions: 64, seed: 5 }));

describe('trainer', () => {
  it('saves a trained model that reloads to identical logits', async () => {
    const rt = await gpu();
    const model = await tiny();
    const opts: TrainOptions = { loss: 'bce', batchSize: 2, groupSize: 2, epochs: 1, lr: 1e-3, warmupRatio: 0, maxLength: 24, seed: 1 };
    let pauses = 0;
    // without the base model's evaluation, the first evaluated epoch is the best so far: the trained weights
    const { best, summary } = await train(rt, model, { train: allTrain.slice(0, 4), val: allVal.slice(0, 2) }, opts, {
      waitIfPaused: async () => void pauses++,
      evalBeforeTraining: false,
    });
    expect(pauses).toBe(2); // asked before each step
    expect(summary.stopped).toBe('finished');
    expect(summary.steps).toBe(2);
    expect(best.get('classifier.weight')).not.toEqual(model.params.get('classifier.weight'));
    const files = saveHfFolder({ config: model.config, params: best, extraFiles: model.extraFiles });
    const reloaded = await loadHfFolder(files);
    const batch = model.tokenizer.encodePairs(['生命数耗完即算为什么？', '问题'], [allTrain[0].pos[0], allTrain[1].neg[0]], { maxLength: 24 });
    const a = await GpuModel.create(rt, model.config, best);
    const b = await GpuModel.create(rt, reloaded.config, reloaded.params);
    try {
      const la = await a.score(batch);
      const lb = await b.score(batch);
      console.log(`[reload] logits trained ${Array.from(la).map((x) => x.toFixed(6))} reloaded ${Array.from(lb).map((x) => x.toFixed(6))}`);
      expect(Array.from(lb)).toEqual(Array.from(la));
    } finally {
      a.release();
      b.release();
    }
  });

  it('resumes from a checkpoint exactly: same steps, same weights and AdamW state as an uninterrupted run', async () => {
    const rt = await gpu();
    const model = await tiny();
    const data = { train: allTrain.slice(10, 16), val: allVal.slice(0, 2) };
    // 6 groups, 2 per step in 2 micro-batches, 2 epochs = 6 steps; dropout on (hidden, and attention and classifier
    // from the tiny config), random negatives and a query cap, so their seeds and draws must line up too.
    const opts: TrainOptions = {
      loss: 'listwise', batchSize: 2, groupSize: 3, epochs: 2, lr: 5e-3, warmupRatio: 0.2, maxLength: 24, seed: 9, gradAccum: 2, dropout: 0.1,
      randomNegatives: 0.5, queryMaxLength: 6,
    };
    const run = async (hooks: { stopAfter?: number; resumeFrom?: Checkpoint }) => {
      const events: TrainEvent[] = [];
      const checkpoints: Checkpoint[] = [];
      const ac = new AbortController();
      const r = await train(rt, model, data, opts, {
        signal: ac.signal,
        resumeFrom: hooks.resumeFrom,
        onEvent: (e) => {
          events.push(e);
          if (e.type === 'step' && e.step === hooks.stopAfter) ac.abort();
        },
        onCheckpoint: async (c) => void checkpoints.push(c),
      });
      return { ...r, events, last: checkpoints[checkpoints.length - 1] };
    };
    const full = await run({});
    expect(full.summary.options).toMatchObject({ dropout: 0.1, attentionDropout: 0.1, classifierDropout: 0.1, posWeight: 1, randomNegatives: 0.5, queryMaxLength: 6 });
    // Steps are pipelined (a step's figures are read while the next one runs), so a stop asked for when step 1's
    // figures arrive lands after step 2, which was already running: the run still stops between two steps.
    const cut = await run({ stopAfter: 1 });
    expect(cut.summary.stopped).toBe('stopped');
    expect(cut.summary.steps).toBe(2);
    expect(cut.last.step).toBe(2);
    expect(cut.last.nextBatch).toBe(2);
    // through bytes, as the page stores it
    const resumed = await run({ resumeFrom: checkpointFromBytes(checkpointToBytes(cut.last)) });
    expect(resumed.summary.stopped).toBe('finished');
    expect(resumed.summary.steps).toBe(6);
    const losses = (r: { events: TrainEvent[] }) => r.events.flatMap((e) => (e.type === 'step' ? [[e.step, e.loss, e.lr]] : []));
    const evals = (r: { events: TrainEvent[] }) => r.events.flatMap((e) => (e.type === 'eval' ? [[e.epoch, e.valLoss, e.meanGap]] : []));
    console.log(`[resume] uninterrupted steps ${JSON.stringify(losses(full))}`);
    console.log(`[resume] resumed steps ${JSON.stringify(losses(resumed))}`);
    expect(losses(cut)).toEqual(losses(full).slice(0, 2));
    expect(losses(resumed)).toEqual(losses(full).slice(2));
    expect(evals(resumed)).toEqual(evals(full).slice(evals(full).length - 2));
    expect(resumed.last.adamStep).toBe(full.last.adamStep);
    for (const k of ['params', 'm', 'v'] as const) {
      for (const [name, want] of full.last[k]) expect(resumed.last[k].get(name), `${k} ${name}`).toEqual(want);
    }
    expect(resumed.summary.bestEpoch).toBe(full.summary.bestEpoch);
    for (const [name, want] of full.best) expect(resumed.best.get(name), `best ${name}`).toEqual(want);
  });

  it('reports updates skipped by the NaN guard and leaves the weights unchanged', async () => {
    const rt = await gpu();
    const clean = await tiny();
    const params = new Map(clean.params);
    params.set('classifier.bias', Float32Array.of(NaN));
    const model: HfModel = { ...clean, params };
    const events: TrainEvent[] = [];
    const opts: TrainOptions = { loss: 'bce', batchSize: 2, groupSize: 2, epochs: 1, lr: 1e-3, warmupRatio: 0, maxLength: 24, seed: 1 };
    const r = await train(rt, model, { train: allTrain.slice(0, 4), val: allVal.slice(0, 1) }, opts, { onEvent: (e) => events.push(e) });
    const skipped = events.filter((e) => e.type === 'skipped');
    console.log(`[nan] ${JSON.stringify(skipped[0])}`);
    expect(skipped.map((e) => e.step)).toEqual([1, 2]);
    expect(r.summary.skippedSteps).toBe(2);
    expect(events.some((e) => e.type === 'warning' && /every update of epoch 1 was skipped/.test(e.message))).toBe(true);
    const w = 'bert.encoder.layer.0.output.dense.weight';
    expect(r.best.get(w)).toEqual(clean.params.get(w));
  });

  it('keeps the base model (epoch 0) when no epoch beats it, says so, and records the metric that chose', async () => {
    const rt = await gpu();
    const model = await tiny();
    // lr 1e-30 leaves every f32 weight as it was: each epoch ties epoch 0 exactly, and a tie keeps the earlier one
    const opts: TrainOptions = { loss: 'listwise', batchSize: 2, groupSize: 3, epochs: 2, lr: 1e-30, warmupRatio: 0, maxLength: 24, seed: 1, selectBy: 'mrr@10' };
    const events: TrainEvent[] = [];
    const r = await train(rt, model, { train: allTrain.slice(0, 4), val: allVal.slice(0, 3) }, opts, { onEvent: (e) => events.push(e) });
    const evals = events.flatMap((e) => (e.type === 'eval' ? [e] : []));
    console.log(`[keep base] ${JSON.stringify(evals.map((e) => [e.epoch, e.value, e.ranking, e.bm25]))}`);
    expect(evals.map((e) => e.epoch)).toEqual([0, 1, 2]);
    expect(evals.map((e) => e.best)).toEqual([true, false, false]);
    for (const e of evals) {
      expect(e.selectBy).toBe('mrr@10');
      expect(e.ranking!.queries).toBe(3);
      expect(e.value).toBe(e.ranking!.mrr10);
      expect(e.bm25).toEqual(evals[0].bm25);
    }
    expect(r.summary).toMatchObject({ bestEpoch: 0, keptBase: true, selectBy: 'mrr@10', bestValue: evals[0].ranking!.mrr10 });
    expect(r.summary.evals!.map((e) => e.epoch)).toEqual([0, 1, 2]);
    expect(r.best).toBe(model.params);
    expect(events.some((e) => e.type === 'warning' && /no fine-tuned epoch beat the base model on MRR@10 .* the base model's weights are kept/.test(e.message))).toBe(true);
  });

  it('builds validation from validation documents only: a group it cannot fill is left out, never topped up from training', async () => {
    const rt = await gpu();
    const model = await tiny();
    // one validation example with a single negative: a group of 3 needs a second one, which only training has
    const val = [{ query: allVal[0].query, pos: allVal[0].pos, neg: allVal[0].neg.slice(0, 1) }];
    const opts: TrainOptions = { loss: 'bce', batchSize: 2, groupSize: 3, epochs: 1, lr: 1e-3, warmupRatio: 0, maxLength: 24, seed: 1 };
    const events: TrainEvent[] = [];
    const r = await train(rt, model, { train: allTrain.slice(0, 4), val }, opts, { onEvent: (e) => events.push(e) });
    const info = events.find((e) => e.type === 'validation');
    console.log(`[val docs] ${JSON.stringify(info)}`);
    expect(info).toMatchObject({ queries: 1, documents: 2, lossGroups: 0, lossGroupsSkipped: 1 });
    expect(events.some((e) => e.type === 'warning' && /cannot fill a group of 3 from validation documents alone/.test(e.message))).toBe(true);
    // the ranking list is still scored: one query over its 2 validation documents
    const evals = events.flatMap((e) => (e.type === 'eval' ? [e] : []));
    expect(evals.map((e) => e.ranking?.queries)).toEqual([1, 1]);
    expect(r.summary.validation?.documents).toBe(2);
  });
});
