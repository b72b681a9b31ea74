// Issue 10, item 3: NaN/Inf weights are refused where they enter or leave — a model folder at load, a checkpoint on
// resume (its parameters and AdamW moments), anything before it is saved — with the tensor named and a non-zero exit;
// and broken weights never show a finite validation loss (lr 1e30 printed "validation loss 0.0000").
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHfFolder, saveHfFolder } from '../../../src/model/hf-folder.ts';
import { firstNonFinite } from '../../../src/model/finite.ts';
import { checkpointFromFiles, checkpointToFiles } from '../../../src/train/checkpoint.ts';
import { listwiseSoftmaxRef } from '../../../src/model/reference/losses.ts';
import { train } from '../../../src/train/trainer.ts';
import type { TrainEvent } from '../../../src/train/types.ts';
import { gpu } from '../helpers/gpu.ts';
import { CLI, runTs } from './support/child.ts';
import { fakeCheckpoint } from './support/fake-checkpoint.ts';
import { CORPUS, folderOf, tinyFiles, tinyWith } from './support/models.ts';

const W = 'bert.encoder.layer.0.attention.self.query.weight';

describe('non-finite weights are refused, the tensor named', () => {
  it('at load: a model folder with a NaN', async () => {
    await expect(loadHfFolder(tinyWith(W, 5, NaN))).rejects.toThrow(new RegExp(`weights are damaged: tensor '${W.replace(/\./g, '\\.')}' holds 1 NaN of 64 values \\(first at index 5\\)`));
    await expect(loadHfFolder(tinyWith('classifier.bias', 0, -Infinity))).rejects.toThrow(/tensor 'classifier\.bias' holds 1 Inf/);
  });

  it('at load, through `train`: exit 1 before any GPU work, the tensor named', async () => {
    const dir = await folderOf(tinyWith(W, 0, NaN));
    const data = join(dir, 'train.jsonl');
    writeFileSync(data, JSON.stringify({ query: CORPUS[0], pos: [CORPUS[0]], neg: [CORPUS[1]] }) + '\n');
    const r = runTs(CLI, ['train', '--model', dir, '--data', data, '--out', join(dir, 'out')]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`tensor '${W.replace(/\./g, '\\.')}' holds 1 NaN`));
  });

  it('on resume: NaN in the parameters or the AdamW moments of a checkpoint', () => {
    for (const [kind, file] of [['params', 'params.safetensors'], ['m', 'adam_m.safetensors'], ['v', 'adam_v.safetensors']] as const) {
      const c = fakeCheckpoint(2);
      c[kind].get('a.weight')![7] = NaN;
      expect(() => checkpointFromFiles(checkpointToFiles(c))).toThrow(new RegExp(`${file.replace('.', '\\.')}: tensor 'a\\.weight' holds 1 NaN of 1000 values \\(first at index 7\\).*start over`));
    }
  });

  it('before save: a model with Inf weights is not written', () => {
    const files = tinyFiles();
    return loadHfFolder(files).then((m) => {
      const params = new Map(m.params);
      const w = Float32Array.from(params.get(W)!);
      w[3] = Infinity;
      params.set(W, w);
      expect(() => saveHfFolder({ config: m.config, params, extraFiles: m.extraFiles })).toThrow(/refusing to save the model: tensor .* holds 1 Inf .*nothing was written/);
      w[3] = 1e30; // finite, but f32 products of it overflow: what lr 1e30 leaves
      expect(() => saveHfFolder({ config: m.config, params, extraFiles: m.extraFiles })).toThrow(/holds 1 value\(s\) beyond ±1\.8e19/);
    });
  });

  it('the validation loss of equal huge scores is log(group size), not 0 (float64 cancellation)', () => {
    expect(listwiseSoftmaxRef([1e30, 1e30, 1e30], 3).loss).toBeCloseTo(Math.log(3), 12);
  });
});

describe('a run with lr 1e30 (GPU)', () => {
  it('reads NaN (not 0) as its validation loss, names the broken tensor, and counts truncated pairs', async () => {
    const rt = await gpu();
    const model = await loadHfFolder(tinyFiles());
    const ex = (q: string, p: string, n: string) => ({ query: q, pos: [p + p + p], neg: [n + n + n] });
    const data = { train: [ex(CORPUS[0], CORPUS[0], CORPUS[1]), ex(CORPUS[2], CORPUS[2], CORPUS[3])], val: [ex(CORPUS[1], CORPUS[1], CORPUS[2])] };
    const events: TrainEvent[] = [];
    const r = await train(rt, model, data, { loss: 'listwise', batchSize: 2, groupSize: 2, epochs: 1, lr: 1e30, warmupRatio: 0, maxLength: 12, seed: 1 }, { onEvent: (e) => events.push(e) });
    const evals = events.filter((e) => e.type === 'eval');
    const warnings = events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
    console.log(`[lr 1e30] validation losses ${evals.map((e) => e.valLoss).join(', ')}\n${warnings.join('\n')}`);
    expect(evals.map((e) => e.epoch)).toEqual([0, 1]);
    expect(Number.isFinite(evals[0].valLoss)).toBe(true);
    expect(evals[1].valLoss).toBeNaN();
    expect(warnings.join('\n')).toMatch(/validation loss is NaN: the weights are broken after epoch 1 \(tensor '.*' holds .* beyond ±1\.8e19/);
    expect(warnings.join('\n')).toMatch(/max length 12 cut the document of 4 of 4 training pairs \(100%\)/);
    expect(warnings.join('\n')).toMatch(/max length 12 cut the document of 2 of 2 validation pairs/);
    expect(r.summary.truncation).toEqual({ pairs: 4, documents: 4, queries: 0 });
    // whatever is kept as "best" is either sane or refused when saved, never written broken
    if (firstNonFinite(r.best)) expect(() => saveHfFolder({ config: model.config, params: r.best, extraFiles: model.extraFiles })).toThrow(/refusing to save/);
  });
});
