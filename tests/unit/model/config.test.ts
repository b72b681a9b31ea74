import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonForSave, ModelConfigError, parseModelConfig } from '../../../src/model/config.ts';
import { fixtureDir } from './fixture.ts';

const base = { hidden_size: 32, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 64, vocab_size: 100, max_position_embeddings: 64 };

describe('parseModelConfig', () => {
  it('reads the BERT fixture', () => {
    const c = parseModelConfig(readFileSync(fixtureDir('bert-tiny') + 'config.json', 'utf8'));
    expect(c).toMatchObject({ arch: 'bert', prefix: 'bert', hidden: 32, layers: 2, heads: 4, headDim: 8, intermediate: 64, vocabSize: 394, maxPositions: 64, typeVocabSize: 2, layerNormEps: 1e-12, padTokenId: 0, numLabels: 1, hiddenAct: 'gelu', positionOffset: 0, maxSequenceLength: 64, headIsNew: false });
  });

  it('reads the XLM-R fixture (positions offset by padding_idx + 1)', () => {
    const c = parseModelConfig(readFileSync(fixtureDir('xlmr-tiny') + 'config.json', 'utf8'));
    expect(c).toMatchObject({ arch: 'xlm-roberta', prefix: 'roberta', typeVocabSize: 1, layerNormEps: 1e-5, padTokenId: 1, maxPositions: 66, positionOffset: 2, maxSequenceLength: 64, architecture: 'XLMRobertaForSequenceClassification' });
  });

  it('treats model_type roberta like XLM-R', () => {
    const c = parseModelConfig({ ...base, model_type: 'roberta', architectures: ['RobertaForSequenceClassification'], pad_token_id: 1 });
    expect(c.arch).toBe('xlm-roberta');
    expect(configJsonForSave(c).architectures).toEqual(['RobertaForSequenceClassification']);
  });

  it('accepts an encoder-only checkpoint with a new head, and declares the head when saving', () => {
    const c = parseModelConfig({ ...base, model_type: 'bert', architectures: ['BertForMaskedLM'], torch_dtype: 'float16' });
    expect(c.headIsNew).toBe(true);
    expect(c.numLabels).toBe(1);
    const saved = configJsonForSave(c);
    expect(saved).toMatchObject({ architectures: ['BertForSequenceClassification'], num_labels: 1, id2label: { 0: 'LABEL_0' }, torch_dtype: 'float32' });
  });

  it('rejects what it cannot train, saying what is supported', () => {
    expect(() => parseModelConfig({ ...base, model_type: 'deberta-v2' })).toThrow(/deberta-v2.*supported: model_type bert/);
    expect(() => parseModelConfig({ ...base, model_type: 'bert', architectures: ['BertForTokenClassification'] })).toThrow(/BertForTokenClassification is not supported/);
    expect(() => parseModelConfig({ ...base, model_type: 'bert', architectures: ['XLMRobertaForSequenceClassification'] })).toThrow(/does not match model_type/);
    expect(() => parseModelConfig({ ...base, model_type: 'bert', hidden_act: 'gelu_new' })).toThrow(/hidden_act "gelu_new" is not supported.*erf/);
    expect(() => parseModelConfig({ ...base, model_type: 'bert', hidden_act: 'relu' })).toThrow(ModelConfigError);
    expect(() => parseModelConfig({ ...base, model_type: 'bert', position_embedding_type: 'relative_key' })).toThrow(/relative_key/);
    expect(() => parseModelConfig({ ...base, model_type: 'bert', num_attention_heads: 5 })).toThrow(/not divisible/);
    expect(() => parseModelConfig({ ...base, model_type: 'bert', hidden_size: undefined })).toThrow(/no "hidden_size"/);
    expect(() => parseModelConfig('{not json')).toThrow(/not valid JSON/);
  });
});
