// Tokenizers built from vocab.txt (WordPiece) and sentencepiece.bpe.model (XLM-R Unigram) give the ids of Hugging
// Face's fast tokenizer built from the same files, on Chinese, English and mixed texts and on pairs with truncation
// (tests/fixtures/hf-folders/*-ids.json, dumped by tests/python/dump_model_folders.py).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { xlmRobertaTokenizerJson } from '../../../src/model/sentencepiece.ts';
import { createPairTokenizer } from '../../../src/model/tokenize.ts';
import { parseVocabTxt, wordPieceTokenizerJson } from '../../../src/model/wordpiece.ts';

const ROOT = fileURLToPath(new URL('../../fixtures/hf-folders/', import.meta.url));
const json = (f: string) => JSON.parse(readFileSync(ROOT + f, 'utf8'));

interface Variant {
  name: string;
  tokenizer_config: Record<string, unknown>;
  ids: number[][];
  pair_input_ids: number[][];
  pair_token_type_ids: number[][];
  pair_attention_mask: number[][];
}
const wp = json('wordpiece-ids.json') as { texts: string[]; pairs: { query: string; document: string }[]; max_length: number; variants: Variant[] };
const vocab = readFileSync(`${ROOT}bert-vocab/vocab.txt`);

it('the dump covers Chinese, English, mixed and awkward texts', () => {
  const all = wp.texts.join('\n');
  expect(all).toMatch(/[\u4e00-\u9fff]/);
  expect(all).toMatch(/Café/);
  expect(all).toMatch(/𠮷𡈼/); // CJK outside the BMP, side by side
  expect(all).toMatch(/\[SEP\]/);
  expect(wp.variants.map((v) => v.name)).toEqual(['uncased', 'cased', 'lower-keep-accents', 'cased-strip-accents', 'no-chinese-split']);
});

describe.each(wp.variants)('WordPiece from vocab.txt, $name', (v) => {
  const tok = createPairTokenizer(wordPieceTokenizerJson(vocab, v.tokenizer_config), v.tokenizer_config, { padTokenId: 0 });

  it.each(wp.texts.map((t, i) => [i, t] as const))('text %i has HF ids', (i, text) => {
    expect(tok.encodeText(text)).toEqual(v.ids[i]);
  });

  it('pairs (truncated to max_length, document first) have HF ids, type ids and masks', () => {
    const b = tok.encodePairs(wp.pairs.map((p) => p.query), wp.pairs.map((p) => p.document), { maxLength: wp.max_length });
    expect(Array.from(b.input_ids)).toEqual(v.pair_input_ids.flat());
    expect(Array.from(b.token_type_ids)).toEqual(v.pair_token_type_ids.flat());
    expect(Array.from(b.attention_mask)).toEqual(v.pair_attention_mask.flat());
  });
});

describe('sentencepiece.bpe.model → XLM-R Unigram', () => {
  const sp = json('sentencepiece-ids.json') as { texts: string[]; ids: number[][]; vocab_size: number };
  const tc = json('xlmr-spm/tokenizer_config.json');
  const tj = xlmRobertaTokenizerJson(readFileSync(`${ROOT}xlmr-spm/sentencepiece.bpe.model`), tc);
  const tok = createPairTokenizer(tj, tc, { padTokenId: 1 });

  it('has fairseq ids: <s> <pad> </s> <unk>, the pieces, <mask> last', () => {
    const v = (tj.model as { vocab: [string, number][] }).vocab;
    expect(v.length).toBe(sp.vocab_size);
    expect(v.slice(0, 4).map((x) => x[0])).toEqual(['<s>', '<pad>', '</s>', '<unk>']);
    expect(v[v.length - 1][0]).toBe('<mask>');
  });

  it.each(sp.texts.map((t, i) => [i, t] as const))('text %i has HF ids', (i, text) => {
    expect(tok.encodeText(text)).toEqual(sp.ids[i]);
  });
});

describe('vocab.txt is read as transformers reads it', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it('one token per line with \\n, \\r\\n or \\r endings; a repeated token keeps its last line; the last newline is optional', () => {
    expect([...parseVocabTxt(enc('a\r\nb\rc\nd'))]).toEqual([['a', 0], ['b', 1], ['c', 2], ['d', 3]]);
    expect([...parseVocabTxt(enc('a\nb\na\n'))]).toEqual([['a', 2], ['b', 1]]);
  });
  it('refuses a file that is not a vocabulary', () => {
    expect(() => wordPieceTokenizerJson(enc('{"a": 1}'))).toThrow(/vocab.txt has 1 line\(s\): it is not a WordPiece vocabulary/);
  });
  it('adds a named special token missing from the vocabulary after it, as transformers does', () => {
    const tj = wordPieceTokenizerJson(enc('[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n'));
    const added = tj.added_tokens as { id: number; content: string }[];
    expect(added.find((t) => t.content === '[MASK]')!.id).toBe(5);
  });
});
