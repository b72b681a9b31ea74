// The tiny character-level BERT: @huggingface/tokenizers loads its tokenizer.json, Chinese becomes single
// characters, pairs get [CLS] q [SEP] d [SEP] with token types, and loadHfFolder accepts the folder.
import { describe, expect, it } from 'vitest';
import { loadHfFolder } from '../../../src/model/hf-folder.ts';
import { buildTinyModel, charVocabulary } from '../../../src/model/tiny.ts';

describe('tiny char-level model', () => {
  const corpus = ['生命数耗完即算为什么？', '玩家以水枪泡封敌人。Nexon 2V2'];

  it('tokenises Chinese to single characters and Latin words to character pieces', async () => {
    const m = await loadHfFolder(buildTinyModel({ corpus, hidden: 16, heads: 2, layers: 1 }));
    const tok = m.tokenizer.tokenizer;
    expect(tok.encode('生命数耗完', { add_special_tokens: false }).tokens).toEqual(['生', '命', '数', '耗', '完']);
    expect(tok.encode('Nexon', { add_special_tokens: false }).tokens).toEqual(['N', '##e', '##x', '##o', '##n']);
    expect(tok.encode('龍', { add_special_tokens: false }).tokens).toEqual(['[UNK]']);
    const b = m.tokenizer.encodePairs(['生命'], ['玩家'], { maxLength: 16 });
    const vocab = charVocabulary(corpus);
    expect(Array.from(b.input_ids)).toEqual(['[CLS]', '生', '命', '[SEP]', '玩', '家', '[SEP]'].map((t) => vocab.indexOf(t)));
    expect(Array.from(b.token_type_ids)).toEqual([0, 0, 0, 0, 1, 1, 1]);
  });

  it('has BERT-style init: LayerNorm 1/0, zero biases, N(0, 0.02) weights, zero padding row', async () => {
    const m = await loadHfFolder(buildTinyModel({ corpus, hidden: 16, heads: 2, layers: 1, seed: 3 }));
    expect(m.config.hidden).toBe(16);
    expect(m.config.vocabSize).toBe(charVocabulary(corpus).length);
    expect(m.newHead).toEqual([]);
    expect([...m.params.get('bert.embeddings.LayerNorm.weight')!].every((v) => v === 1)).toBe(true);
    expect([...m.params.get('bert.encoder.layer.0.attention.self.query.bias')!].every((v) => v === 0)).toBe(true);
    const w = m.params.get('bert.encoder.layer.0.intermediate.dense.weight')!;
    const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.017);
    expect(std).toBeLessThan(0.023);
    expect([...m.params.get('bert.embeddings.word_embeddings.weight')!.subarray(0, 16)].every((v) => v === 0)).toBe(true);
    const again = await loadHfFolder(buildTinyModel({ corpus, hidden: 16, heads: 2, layers: 1, seed: 3 }));
    expect(again.params.get('classifier.weight')).toEqual(m.params.get('classifier.weight'));
  });
});
