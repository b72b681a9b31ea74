// An XLM-RoBERTa tokenizer.json built from sentencepiece.bpe.model (a sentencepiece ModelProto, protobuf), the way
// transformers builds its fast XLMRobertaTokenizer from it (models/xlm_roberta/tokenization_xlm_roberta.py with
// convert_slow_tokenizer.XLMRobertaConverter's vocabulary): a Unigram model whose ids are fairseq's — <s> <pad> </s>
// <unk>, then the pieces after sentencepiece's own three specials, then <mask> — the model's precompiled
// normalisation map, WhitespaceSplit + Metaspace('▁', prepend always), and the <s> A </s></s> B </s> template.
// The protobuf wire format is read with protobufjs' Reader (no schema needed for the few fields used).

import protobuf from 'protobufjs/minimal.js';
import { SlowTokenizerError, addedTokensOf, tokenContent, type TokenizerConfig } from './wordpiece.ts';

export interface SentencePiece {
  piece: string;
  score: number;
  /** 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte. */
  type: number;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  /** 1 unigram, 2 BPE, 3 word, 4 char. */
  modelType: number;
  unkId: number;
  byteFallback: boolean;
  normalizerName: string;
  /** The normaliser's compiled character map (empty for the identity rule). */
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
}

const WIRE_LENGTH_DELIMITED = 2;

/** Reads the fields of a ModelProto this converter needs; everything else is skipped by wire type. */
export function readSentencePieceModel(bytes: Uint8Array): SentencePieceModel {
  const m: SentencePieceModel = { pieces: [], modelType: 1, unkId: 0, byteFallback: false, normalizerName: '', precompiledCharsmap: new Uint8Array(0), addDummyPrefix: true };
  const top = protobuf.Reader.create(bytes);
  while (top.pos < top.len) {
    const tag = top.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === WIRE_LENGTH_DELIMITED && field === 1) m.pieces.push(readPiece(top.bytes()));
    else if (wire === WIRE_LENGTH_DELIMITED && field === 2) readTrainerSpec(top.bytes(), m);
    else if (wire === WIRE_LENGTH_DELIMITED && field === 3) readNormalizerSpec(top.bytes(), m);
    else top.skipType(wire);
  }
  return m;
}

function readPiece(bytes: Uint8Array): SentencePiece {
  const r = protobuf.Reader.create(bytes);
  const p: SentencePiece = { piece: '', score: 0, type: 1 };
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === (1 << 3) + 2) p.piece = r.string();
    else if (tag === (2 << 3) + 5) p.score = r.float();
    else if (tag === (3 << 3) + 0) p.type = r.int32();
    else r.skipType(tag & 7);
  }
  return p;
}

function readTrainerSpec(bytes: Uint8Array, m: SentencePieceModel): void {
  const r = protobuf.Reader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === (3 << 3) + 0) m.modelType = r.int32();
    else if (tag === (40 << 3) + 0) m.unkId = r.int32();
    else if (tag === (35 << 3) + 0) m.byteFallback = r.bool();
    else r.skipType(tag & 7);
  }
}

function readNormalizerSpec(bytes: Uint8Array, m: SentencePieceModel): void {
  const r = protobuf.Reader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === (1 << 3) + 2) m.normalizerName = r.string();
    else if (tag === (2 << 3) + 2) m.precompiledCharsmap = r.bytes();
    else if (tag === (3 << 3) + 0) m.addDummyPrefix = r.bool();
    else r.skipType(tag & 7);
  }
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const MODEL_TYPES: Record<number, string> = { 1: 'unigram', 2: 'BPE', 3: 'word', 4: 'char' };

/**
 * tokenizer.json (as an object) for an XLM-RoBERTa folder that has sentencepiece.bpe.model and no tokenizer.json.
 * Refuses (SlowTokenizerError) anything that is not an XLM-R style unigram model.
 */
export function xlmRobertaTokenizerJson(modelBytes: Uint8Array, config: TokenizerConfig = {}, specialMap: TokenizerConfig = {}): Record<string, unknown> {
  let m: SentencePieceModel;
  try {
    m = readSentencePieceModel(modelBytes);
  } catch (e) {
    throw new SlowTokenizerError(`sentencepiece.bpe.model could not be read as a sentencepiece model (${(e as Error).message}): the file is damaged or not a sentencepiece model`);
  }
  if (m.pieces.length < 4) throw new SlowTokenizerError(`sentencepiece.bpe.model holds ${m.pieces.length} piece(s): it is not a sentencepiece model`);
  if (m.modelType !== 1) {
    throw new SlowTokenizerError(`sentencepiece.bpe.model is a ${MODEL_TYPES[m.modelType] ?? `type ${m.modelType}`} model; only XLM-RoBERTa's unigram models are converted`);
  }
  const first = m.pieces.slice(0, 3).map((p) => p.piece).join(' ');
  if (first !== '<unk> <s> </s>') {
    throw new SlowTokenizerError(`sentencepiece.bpe.model starts with "${first}", not XLM-RoBERTa's "<unk> <s> </s>": its ids would not match the model's embeddings`);
  }
  const names = { bos_token: '<s>', pad_token: '<pad>', eos_token: '</s>', unk_token: '<unk>', mask_token: '<mask>', cls_token: '<s>', sep_token: '</s>' };
  const named = Object.fromEntries(Object.entries(names).map(([k, d]) => [k, tokenContent(config[k]) ?? tokenContent(specialMap[k]) ?? d])) as typeof names;
  const vocab: [string, number][] = [
    [named.bos_token, 0],
    [named.pad_token, 0],
    [named.eos_token, 0],
    [named.unk_token, 0],
    ...m.pieces.slice(3).map((p): [string, number] => [p.piece, p.score]),
    [named.mask_token, 0],
  ];
  const ids = new Map<string, number>();
  vocab.forEach(([t], i) => ids.has(t) || ids.set(t, i));
  const { added } = addedTokensOf(ids, config, specialMap, names);
  const prepend = config.add_prefix_space === false ? 'never' : 'always';
  const bos = named.cls_token;
  const eos = named.sep_token;
  const special = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  const seq = (id: 'A' | 'B') => ({ Sequence: { id, type_id: 0 } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: m.precompiledCharsmap.length ? { type: 'Precompiled', precompiled_charsmap: base64(m.precompiledCharsmap) } : null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: prepend, split: true }] },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special(bos), seq('A'), special(eos)],
      pair: [special(bos), seq('A'), special(eos), special(eos), seq('B'), special(eos)],
      special_tokens: {
        [eos]: { id: eos, ids: [ids.get(eos)!], tokens: [eos] },
        [bos]: { id: bos, ids: [ids.get(bos)!], tokens: [bos] },
      },
    },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: prepend, split: true },
    model: { type: 'Unigram', unk_id: 3, vocab, byte_fallback: false },
  };
}
