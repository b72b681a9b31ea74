// A tiny BERT cross-encoder built in memory, for tests and demos: a character-level WordPiece tokenizer made from a
// corpus, a small BertForSequenceClassification config and seeded random weights initialised as transformers'
// _init_weights does (Linear/Embedding ~ N(0, initializer_range), biases 0, LayerNorm 1/0, the padding row 0).
// The result is a FileMap that loadHfFolder reads like any downloaded folder, and that transformers loads too.
//
// The tokenizer is BertWordPieceTokenizer-style: BertNormalizer (no lower-casing, so the vocabulary is exactly the
// corpus's characters), BertPreTokenizer (splits on whitespace and punctuation and around every CJK character),
// WordPiece over single characters: every character c is in the vocabulary, and "##c" too for non-CJK characters
// (so "Nexon" is N ##e ##x ##o ##n), and the [CLS] A [SEP] B [SEP] pair template with token type ids 0/1.

import type { FileMap } from './hf-folder.ts';
import { paramSpecs } from './params.ts';
import { parseModelConfig } from './config.ts';
import { writeSafetensors } from './safetensors.ts';

export interface TinyModelOptions {
  /** Texts whose characters make the vocabulary (queries and documents). */
  corpus: Iterable<string>;
  hidden?: number; // default 32
  layers?: number; // default 2
  heads?: number; // default 4
  intermediate?: number; // default 4 × hidden
  /** max_position_embeddings (the longest max_length the model accepts). Default 128. */
  maxPositions?: number;
  /** config.json hidden_dropout_prob (the trainer's default dropout). Default 0.1 as in BERT. */
  hiddenDropout?: number;
  initializerRange?: number; // default 0.02
  seed?: number; // default 1
}

export const TINY_SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/** BERT's _is_chinese_char: the CJK Unified Ideographs blocks (and compatibility ideographs). */
export function isCjkChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** Characters BertNormalizer's clean_text drops or turns into spaces (they never reach the vocabulary). */
function isDropped(ch: string): boolean {
  return /^[\s\p{Cc}\p{Cf}\uFFFD]$/u.test(ch);
}

/** The vocabulary: the five special tokens, then every character (code point order), then "##c" for non-CJK ones. */
export function charVocabulary(corpus: Iterable<string>): string[] {
  const chars = new Set<string>();
  for (const text of corpus) for (const ch of text) if (!isDropped(ch)) chars.add(ch);
  const sorted = [...chars].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  const vocab: string[] = [...TINY_SPECIAL_TOKENS];
  const seen = new Set(vocab);
  for (const c of sorted) if (!seen.has(c)) (vocab.push(c), seen.add(c));
  for (const c of sorted) if (!isCjkChar(c.codePointAt(0)!)) vocab.push(`##${c}`);
  return vocab;
}

/** tokenizer.json (the `tokenizers` library's format) for a character vocabulary. */
export function charTokenizerJson(vocab: readonly string[]): Record<string, unknown> {
  const id = (t: string) => vocab.indexOf(t);
  const added = TINY_SPECIAL_TOKENS.map((t) => ({ id: id(t), content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const special = (t: string) => ({ id: t, ids: [id(t)], tokens: [t] });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: false, lowercase: false },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: { '[CLS]': special('[CLS]'), '[SEP]': special('[SEP]') },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
}

/** mulberry32 uniforms, and normals from them by Box–Muller. */
function normalSampler(seed: number): () => number {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const th = 2 * Math.PI * u();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
}

/** The folder's files: config.json, tokenizer.json, tokenizer_config.json, model.safetensors. */
export function buildTinyModel(o: TinyModelOptions): FileMap {
  const hidden = o.hidden ?? 32;
  const heads = o.heads ?? 4;
  if (hidden % heads !== 0) throw new Error(`tiny model: hidden ${hidden} is not divisible by heads ${heads}`);
  const vocab = charVocabulary(o.corpus);
  const maxPositions = o.maxPositions ?? 128;
  const initializerRange = o.initializerRange ?? 0.02;
  const config = {
    architectures: ['BertForSequenceClassification'],
    model_type: 'bert',
    attention_probs_dropout_prob: o.hiddenDropout ?? 0.1,
    hidden_act: 'gelu',
    hidden_dropout_prob: o.hiddenDropout ?? 0.1,
    hidden_size: hidden,
    initializer_range: initializerRange,
    intermediate_size: o.intermediate ?? 4 * hidden,
    layer_norm_eps: 1e-12,
    max_position_embeddings: maxPositions,
    num_attention_heads: heads,
    num_hidden_layers: o.layers ?? 2,
    pad_token_id: 0,
    type_vocab_size: 2,
    vocab_size: vocab.length,
    id2label: { '0': 'LABEL_0' },
    label2id: { LABEL_0: 0 },
    position_embedding_type: 'absolute',
  };
  const cfg = parseModelConfig(config);
  const normal = normalSampler(o.seed ?? 1);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const s of paramSpecs(cfg)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (s.name.includes('LayerNorm.weight')) data.fill(1);
    else if (!s.name.endsWith('bias') && !s.name.includes('LayerNorm')) for (let i = 0; i < n; i++) data[i] = normal() * initializerRange;
    // nn.Embedding(padding_idx=pad_token_id) starts with a zero padding row.
    if (s.name.endsWith('word_embeddings.weight')) data.fill(0, cfg.padTokenId * hidden, (cfg.padTokenId + 1) * hidden);
    tensors.set(s.name, { shape: s.shape, data });
  }
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');
  const files: FileMap = new Map();
  files.set('config.json', enc(config));
  files.set('tokenizer.json', enc(charTokenizerJson(vocab)));
  files.set(
    'tokenizer_config.json',
    enc({
      tokenizer_class: 'BertTokenizer',
      do_lower_case: false,
      tokenize_chinese_chars: true,
      strip_accents: false,
      model_max_length: maxPositions,
      pad_token: '[PAD]', unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]', mask_token: '[MASK]',
    }),
  );
  files.set('model.safetensors', writeSafetensors(tensors, { metadata: { format: 'pt' } }));
  return files;
}
