// The recipe folder's contents and the teacher scores, without Python (tests/python/check_recipe.py runs it).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkExample, parseJsonl } from '../../../src/data/jsonl.ts';
import { addTeacherScores, recipeFiles, recipeSettings } from '../../../src/export/recipe.ts';
import type { TrainExample, TrainOptions } from '../../../src/train/types.ts';

const examples: TrainExample[] = [
  { query: '失业保险金领取条件', pos: ['失业前缴费满一年', '非因本人意愿中断就业'], neg: ['小规模纳税人免征增值税', '户外广告审批', '燃气设施改动'] },
  { query: 'passport renewal', pos: ['renew online with a photo'], neg: ['museum hours'] },
];
const options: TrainOptions = { loss: 'listwise', batchSize: 6, groupSize: 4, epochs: 3, lr: 3e-5, warmupRatio: 0.05, maxLength: 192, seed: 7, gradAccum: 2 };
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

describe('recipe folder', () => {
  it('carries the lab settings into recipe.json, with the trainer defaults where the lab left a field out', () => {
    const s = recipeSettings({ baseModel: 'BAAI/bge-reranker-base', train: examples, options });
    expect(s).toMatchObject({
      base_model: 'BAAI/bge-reranker-base', train_file: 'data/train.jsonl', val_file: null, loss: 'listwise', group_size: 4,
      per_device_batch_groups: 6, gradient_accumulation_steps: 2, epochs: 3, learning_rate: 3e-5, warmup_ratio: 0.05,
      weight_decay: 0.01, max_grad_norm: 1, max_length: 192, seed: 7, hidden_dropout_prob: null, teacher_scores: false,
    });
  });

  it('writes the script, the data in FlagEmbedding JSONL, a README and run.sh', async () => {
    const files = await recipeFiles({ baseModel: 'BAAI/bge-reranker-base', train: examples, val: examples.slice(1), options });
    expect([...files.keys()].sort()).toEqual(['README.md', 'data/train.jsonl', 'data/val.jsonl', 'recipe.json', 'requirements.txt', 'run.sh', 'train_reranker.py']);
    expect(text(files.get('train_reranker.py'))).toBe(readFileSync(new URL('../../../src/export/recipe/train_reranker.py', import.meta.url), 'utf8'));
    const back = parseJsonl(text(files.get('data/train.jsonl')), checkExample);
    expect(back.errors).toEqual([]);
    expect(back.items).toEqual(examples);
    expect(JSON.parse(text(files.get('recipe.json'))).val_file).toBe('data/val.jsonl');
    expect(text(files.get('run.sh'))).toMatch(/torchrun --standalone --nproc_per_node="\$NPROC" train_reranker\.py/);
    const readme = text(files.get('README.md'));
    expect(readme).toMatch(/\| per_device_batch_groups \| 6 \|/);
    expect(readme).toMatch(/--train_group_size 4 --per_device_train_batch_size 6/);
  });

  it('refuses an empty training set and a missing base model', async () => {
    await expect(recipeFiles({ baseModel: 'x/y', train: [], options })).rejects.toThrow(/at least one training example/);
    await expect(recipeFiles({ baseModel: ' ', train: examples, options })).rejects.toThrow(/needs the base model/);
  });
});

describe('teacher scores', () => {
  // A stand-in teacher whose score says which pair it saw.
  const teacher = async (q: string[], d: string[]) => q.map((x, i) => x.length * 100 + d[i].length);

  it('puts each pair\'s score next to its document, across batch boundaries, with progress', async () => {
    const seen: number[] = [];
    const out = await addTeacherScores(examples, teacher, { batch: 3, onProgress: (p) => seen.push(p.done) });
    for (const e of out) {
      expect(e.pos_scores).toEqual(e.pos.map((d) => e.query.length * 100 + d.length));
      expect(e.neg_scores).toEqual(e.neg.map((d) => e.query.length * 100 + d.length));
    }
    expect(seen).toEqual([3, 6, 7]); // 7 pairs
    const files = await recipeFiles({ baseModel: 'x/y', train: out, options });
    expect(JSON.parse(text(files.get('recipe.json'))).teacher_scores).toBe(true);
    expect(JSON.parse(text(files.get('data/train.jsonl')).split('\n')[0]).neg_scores).toEqual(out[0].neg_scores);
  });

  it('stops on a non-finite score and when cancelled', async () => {
    await expect(addTeacherScores(examples, async (q) => q.map(() => NaN))).rejects.toThrow(/not finite/);
    const ac = new AbortController();
    ac.abort();
    await expect(addTeacherScores(examples, teacher, { signal: ac.signal })).rejects.toThrow(/Cancelled|abort/i);
  });
});
