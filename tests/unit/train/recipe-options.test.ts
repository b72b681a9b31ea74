// The recipe options (attention and classifier dropout, BCE pos_weight, random negatives, query cap): defaults a
// sentence-transformers / Hugging Face user expects, taken from the model's config.json; clear messages for bad
// values; part of the checkpoint's options so a resume with another recipe is refused; named in the model card.
import { describe, expect, it } from 'vitest';
import { modelCard } from '../../../src/eval/model-card.ts';
import type { GpuRuntime } from '../../../src/gpu/runtime.ts';
import { parseModelConfig } from '../../../src/model/config.ts';
import { loadHfFolder } from '../../../src/model/hf-folder.ts';
import { buildTinyModel } from '../../../src/model/tiny.ts';
import type { Checkpoint } from '../../../src/train/checkpoint.ts';
import { resolveTrainOptions, train } from '../../../src/train/trainer.ts';
import type { TrainOptions } from '../../../src/train/types.ts';

const base: TrainOptions = { loss: 'bce', batchSize: 2, groupSize: 8, epochs: 1, lr: 2e-5, warmupRatio: 0.1, maxLength: 64, seed: 1 };

const bert = (extra: Record<string, unknown>) =>
  parseModelConfig({
    model_type: 'bert', architectures: ['BertForSequenceClassification'], hidden_size: 8, num_attention_heads: 2, num_hidden_layers: 1,
    intermediate_size: 16, vocab_size: 30, max_position_embeddings: 128, type_vocab_size: 2, hidden_act: 'gelu', num_labels: 1,
    id2label: { 0: 'LABEL_0' }, label2id: { LABEL_0: 0 }, pad_token_id: 0, ...extra,
  });

describe('recipe options', () => {
  it("takes the dropout rates from config.json the way transformers does (classifier_dropout ?? hidden_dropout_prob)", () => {
    const cfg = bert({ hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.15, classifier_dropout: null });
    expect(resolveTrainOptions(cfg, base)).toMatchObject({ dropout: 0.1, attentionDropout: 0.15, classifierDropout: 0.1 });
    // the user's hidden dropout is what classifier_dropout = null follows
    expect(resolveTrainOptions(cfg, { ...base, dropout: 0.2 })).toMatchObject({ dropout: 0.2, classifierDropout: 0.2 });
    expect(resolveTrainOptions(bert({ hidden_dropout_prob: 0.1, classifier_dropout: 0.3 }), base).classifierDropout).toBe(0.3);
    // a config without the keys trains without dropout (as before), and explicit values win
    expect(resolveTrainOptions(bert({}), base)).toMatchObject({ dropout: 0, attentionDropout: 0, classifierDropout: 0 });
    expect(resolveTrainOptions(cfg, { ...base, attentionDropout: 0, classifierDropout: 0.05 })).toMatchObject({ attentionDropout: 0, classifierDropout: 0.05 });
  });

  it('defaults BCE pos_weight to the negatives per group (sentence-transformers v4), no random negatives, no query cap', () => {
    const cfg = bert({});
    expect(resolveTrainOptions(cfg, base)).toMatchObject({ posWeight: 7, randomNegatives: 0, queryMaxLength: 0 });
    expect(resolveTrainOptions(cfg, { ...base, groupSize: 4 }).posWeight).toBe(3);
    expect(resolveTrainOptions(cfg, { ...base, posWeight: 1 }).posWeight).toBe(1);
    expect(resolveTrainOptions(cfg, { ...base, loss: 'listwise' }).posWeight).toBe(1); // not used by listwise
    expect(resolveTrainOptions(cfg, { ...base, randomNegatives: 0.25, queryMaxLength: 32 })).toMatchObject({ randomNegatives: 0.25, queryMaxLength: 32 });
  });

  it('says what is wrong with each', () => {
    const cfg = bert({});
    const bad = (o: Partial<TrainOptions>) => () => resolveTrainOptions(cfg, { ...base, ...o });
    expect(bad({ attentionDropout: 1 })).toThrow(/attention dropout must be in \[0, 1\) \(got 1\); 0 turns it off/);
    expect(bad({ classifierDropout: -0.1 })).toThrow(/classifier dropout must be in \[0, 1\)/);
    expect(bad({ posWeight: 0 })).toThrow(/pos weight must be a positive number \(got 0\); 1 is plain BCE, the negatives per group \(7\) balances them/);
    expect(bad({ loss: 'listwise', posWeight: 3 })).toThrow(/pos weight applies to the bce loss only \(the loss is listwise\); leave it unset/);
    expect(bad({ randomNegatives: 1.5 })).toThrow(/random-negative share must be between 0 and 1 \(got 1\.5\)/);
    expect(bad({ queryMaxLength: 2.5 })).toThrow(/query max length must be a whole number of tokens ≥ 0/);
    expect(bad({ queryMaxLength: 62 })).toThrow(/query max length 62 leaves no room for the document within max length 64; use less than 62, or 0 for no cap/);
  });

  it('is part of the checkpoint: a resume with another recipe is refused before touching the GPU', async () => {
    const model = await loadHfFolder(buildTinyModel({ corpus: ['问题答案'], hidden: 8, heads: 2, layers: 1, maxPositions: 32 }));
    const o = { ...base, maxLength: 24, groupSize: 3 };
    const options = resolveTrainOptions(model.config, o);
    const map = new Map([['a', Float32Array.of(1)]]);
    const c: Checkpoint = {
      version: 1, step: 1, totalSteps: 2, epoch: 0, nextBatch: 1, adamStep: 1, rng: { seed: 1, epoch: 0, nextBatch: 1 }, options,
      valHistory: [], best: { epoch: 0, valLoss: Infinity }, skippedSteps: 0, seconds: 1, params: map, m: map, v: map,
    };
    const data = { train: [{ query: 'q', pos: ['p'], neg: ['n', 'm'] }], val: [] };
    const rt = {} as GpuRuntime; // never reached
    for (const [change, diff] of [
      [{ attentionDropout: 0 }, /attentionDropout: checkpoint 0\.1, now 0/],
      [{ classifierDropout: 0.2 }, /classifierDropout: checkpoint 0\.1, now 0\.2/],
      [{ posWeight: 1 }, /posWeight: checkpoint 2, now 1/],
      [{ randomNegatives: 0.5 }, /randomNegatives: checkpoint 0, now 0\.5/],
      [{ queryMaxLength: 8 }, /queryMaxLength: checkpoint 0, now 8/],
    ] as const) {
      await expect(train(rt, model, data, { ...o, ...change }, { resumeFrom: c })).rejects.toThrow(diff);
    }
  });

  it('is named in the model card', () => {
    const recipe = resolveTrainOptions(bert({ hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 }), { ...base, randomNegatives: 0.25, queryMaxLength: 32 });
    const card = modelCard({
      baseModel: 'm', arch: 'bert', paramCount: 1, data: { documents: 1, chunks: 1, queries: 1, trainExamples: 1, valExamples: 1 },
      settings: { loss: 'bce' }, recipe, createdAt: 'now',
    });
    for (const row of [
      '| hidden dropout (hidden_dropout_prob) | 0.1 |', '| attention dropout (attention_probs_dropout_prob) | 0.1 |',
      '| classifier dropout (classifier_dropout) | 0.1 |', '| BCE pos_weight | 7 |', '| random negatives (share of each group) | 0.25 |',
      '| query max length (query_max_len, tokens) | 32 |',
    ]) expect(card).toContain(row);
  });
});
