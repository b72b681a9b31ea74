// A BERT WordPiece tokenizer.json built from the slow-tokenizer files (vocab.txt + tokenizer_config.json), the way
// transformers builds its fast BertTokenizer from them (models/bert/tokenization_bert.py, and before v5
// convert_slow_tokenizer.BertConverter): BertNormalizer(clean_text, handle_chinese_chars = tokenize_chinese_chars,
// strip_accents, lowercase = do_lower_case), BertPreTokenizer, WordPiece('##', 100 characters per word), the
// [CLS] A [SEP] B [SEP] template, and the special tokens as added tokens matched on the raw text.
// Many Chinese BERT / RoBERTa / MacBERT folders ship only these files; @huggingface/tokenizers then runs the result.

export class SlowTokenizerError extends Error {
  override name = 'SlowTokenizerError';
}

export type TokenizerConfig = Record<string, unknown>;

/** A token named in tokenizer_config.json / special_tokens_map.json: a string or an AddedToken dict. */
export function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/**
 * vocab.txt → token → id, as transformers' load_vocab reads it: one token per line (Python's universal newlines, so
 * \r\n and \r end a line too), the line number is the id, a repeated token keeps its last id, a byte-order mark is
 * part of the first token (the file is read as plain utf-8).
 */
export function parseVocabTxt(bytes: Uint8Array): Map<string, number> {
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const vocab = new Map<string, number>();
  lines.forEach((t, i) => vocab.set(t, i));
  return vocab;
}

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

function addedToken(id: number, content: string, special: boolean, extra: Record<string, unknown> = {}): AddedTokenJson {
  const b = (k: string, d: boolean) => (typeof extra[k] === 'boolean' ? (extra[k] as boolean) : d);
  return { id, content, single_word: b('single_word', false), lstrip: b('lstrip', false), rstrip: b('rstrip', false), normalized: b('normalized', !special), special: b('special', special) };
}

/**
 * The special tokens and other added tokens of a slow tokenizer: the five named tokens (from tokenizer_config.json,
 * then special_tokens_map.json, then `defaults`), tokenizer_config.json's added_tokens_decoder and added_tokens.json.
 * A named token missing from the vocabulary gets the next free id, as transformers' add_tokens gives it.
 */
export function addedTokensOf(
  vocab: Map<string, number>,
  config: TokenizerConfig,
  specialMap: TokenizerConfig,
  defaults: Record<string, string>,
  addedTokensJson: Record<string, unknown> = {},
): { named: Record<string, string>; added: AddedTokenJson[] } {
  const named: Record<string, string> = {};
  for (const [k, d] of Object.entries(defaults)) named[k] = tokenContent(config[k]) ?? tokenContent(specialMap[k]) ?? d;
  const byId = new Map<number, AddedTokenJson>();
  const decoder = (config.added_tokens_decoder ?? {}) as Record<string, Record<string, unknown>>;
  for (const [id, t] of Object.entries(decoder)) {
    const content = tokenContent(t);
    if (content === undefined || !Number.isInteger(Number(id))) continue;
    byId.set(Number(id), addedToken(Number(id), content, t.special === true, t));
  }
  for (const [content, id] of Object.entries(addedTokensJson)) {
    if (typeof id === 'number' && !byId.has(id)) byId.set(id, addedToken(id, content, false));
  }
  const known = new Set([...byId.values()].map((t) => t.content));
  let next = 0; // (no spread: a vocabulary has up to 250k entries)
  for (const id of [...vocab.values(), ...byId.keys()]) next = Math.max(next, id + 1);
  for (const content of Object.values(named)) {
    if (known.has(content)) continue;
    const id = vocab.get(content) ?? next++;
    byId.set(id, addedToken(id, content, true));
    known.add(content);
  }
  return { named, added: [...byId.values()].sort((a, b) => a.id - b.id) };
}

function flag(config: TokenizerConfig, key: string, fallback: boolean | null): boolean | null {
  const v = config[key];
  if (v === undefined) return fallback;
  if (v === null || typeof v === 'boolean') return v;
  throw new SlowTokenizerError(`tokenizer_config.json "${key}" must be true, false or null, got ${JSON.stringify(v)}`);
}

/**
 * tokenizer.json (as an object) for the BERT WordPiece tokenizer of vocab.txt and tokenizer_config.json
 * (do_lower_case, tokenize_chinese_chars, strip_accents and the special tokens; special_tokens_map.json and
 * added_tokens.json when the folder has them).
 */
export function wordPieceTokenizerJson(
  vocabTxt: Uint8Array,
  config: TokenizerConfig = {},
  specialMap: TokenizerConfig = {},
  addedTokensJson: Record<string, unknown> = {},
): Record<string, unknown> {
  const vocab = parseVocabTxt(vocabTxt);
  if (vocab.size < 5) throw new SlowTokenizerError(`vocab.txt has ${vocab.size} line(s): it is not a WordPiece vocabulary (one token per line, [PAD] [UNK] [CLS] [SEP] [MASK] among them)`);
  const lowercase = flag(config, 'do_lower_case', true) ?? true;
  const chinese = flag(config, 'tokenize_chinese_chars', true) ?? true;
  const stripAccents = flag(config, 'strip_accents', null);
  const { named, added } = addedTokensOf(vocab, config, specialMap, { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' }, addedTokensJson);
  const idOf = (t: string) => vocab.get(t) ?? added.find((a) => a.content === t)!.id;
  const cls = named.cls_token;
  const sep = named.sep_token;
  const special = (t: string, typeId: number) => ({ SpecialToken: { id: t, type_id: typeId } });
  const seq = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: chinese, strip_accents: stripAccents, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special(cls, 0), seq('A', 0), special(sep, 0)],
      pair: [special(cls, 0), seq('A', 0), special(sep, 0), seq('B', 1), special(sep, 1)],
      special_tokens: {
        [cls]: { id: cls, ids: [idOf(cls)], tokens: [cls] },
        [sep]: { id: sep, ids: [idOf(sep)], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: named.unk_token, continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab) },
  };
}
