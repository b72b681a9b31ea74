// Which tokenizer a model folder has, as a tokenizer.json for @huggingface/tokenizers: the folder's own tokenizer.json,
// else one built from the slow-tokenizer files (vocab.txt for BERT, sentencepiece.bpe.model for XLM-R), else a
// refusal that names the file to add and where to get it.

import type { ModelConfig } from './config.ts';
import { xlmRobertaTokenizerJson } from './sentencepiece.ts';
import { SlowTokenizerError, wordPieceTokenizerJson, type TokenizerConfig } from './wordpiece.ts';

export class TokenizerFilesError extends Error {
  override name = 'TokenizerFilesError';
}

export interface FolderTokenizer {
  /** tokenizer.json as an object. */
  json: Record<string, unknown>;
  config: TokenizerConfig;
  /** The file(s) it came from. */
  source: 'tokenizer.json' | 'vocab.txt' | 'sentencepiece.bpe.model';
  /** tokenizer.json bytes we built (exported next to the slow files so serving stacks that need it find it). */
  generated?: Uint8Array;
  note?: string;
}

function json(files: ReadonlyMap<string, Uint8Array>, name: string): Record<string, unknown> | undefined {
  const b = files.get(name);
  if (!b) return undefined;
  try {
    const v = JSON.parse(new TextDecoder().decode(b));
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v;
  } catch (e) {
    throw new TokenizerFilesError(`${name} is not a valid JSON object (${(e as Error).message})`);
  }
}

/** The hub page of the model the folder came from, when config.json remembers it (`_name_or_path` owner/name). */
function hubFile(cfg: ModelConfig, file: string): string {
  const id = cfg.raw._name_or_path;
  return typeof id === 'string' && /^[\w.-]+\/[\w.-]+$/.test(id)
    ? `https://huggingface.co/${id}/blob/main/${file}`
    : `the model's page on the Hugging Face hub (Files and versions → ${file})`;
}

const PYTHON_HINT = 'or make it once with Python: python -c "from transformers import AutoTokenizer as T; T.from_pretrained(\'DIR\').save_pretrained(\'DIR\')"';

export function folderTokenizer(files: ReadonlyMap<string, Uint8Array>, cfg: ModelConfig): FolderTokenizer {
  const config = json(files, 'tokenizer_config.json') ?? {};
  const tj = files.get('tokenizer.json');
  if (tj) {
    const parsed = json(files, 'tokenizer.json')!;
    return { json: parsed, config, source: 'tokenizer.json' };
  }
  const specialMap = json(files, 'special_tokens_map.json') ?? {};
  const tokenizerClass = String(config.tokenizer_class ?? '');
  const vocab = files.get('vocab.txt');
  const spm = files.get('sentencepiece.bpe.model');
  const build = (fn: () => Record<string, unknown>, source: FolderTokenizer['source'], what: string): FolderTokenizer => {
    let built: Record<string, unknown>;
    try {
      built = fn();
    } catch (e) {
      if (!(e instanceof SlowTokenizerError)) throw e;
      throw new TokenizerFilesError(`${e.message}. Add tokenizer.json next to config.json: download it from ${hubFile(cfg, 'tokenizer.json')}, ${PYTHON_HINT}`);
    }
    return { json: built, config, source, generated: new TextEncoder().encode(JSON.stringify(built)), note: `no tokenizer.json: the tokenizer was built from ${what} (as transformers builds its fast tokenizer); the export adds the tokenizer.json it used` };
  };
  if (cfg.arch === 'bert' && vocab) {
    if (tokenizerClass && !/^Bert(Tokenizer)?(Fast)?$/.test(tokenizerClass)) {
      throw new TokenizerFilesError(`tokenizer_config.json names ${tokenizerClass}, which needs its own word splitter (not the BERT WordPiece we build from vocab.txt); add tokenizer.json from ${hubFile(cfg, 'tokenizer.json')}, ${PYTHON_HINT}`);
    }
    const added = json(files, 'added_tokens.json') ?? {};
    const flags = ['do_lower_case', 'tokenize_chinese_chars', 'strip_accents'].map((k) => `${k} ${JSON.stringify(config[k] ?? null)}`).join(', ');
    return build(() => wordPieceTokenizerJson(vocab, config, specialMap, added), 'vocab.txt', `vocab.txt and tokenizer_config.json (${flags})`);
  }
  if (cfg.arch === 'xlm-roberta' && cfg.modelType === 'xlm-roberta' && spm) {
    return build(() => xlmRobertaTokenizerJson(spm, config, specialMap), 'sentencepiece.bpe.model', 'sentencepiece.bpe.model');
  }
  const have = ['vocab.txt', 'sentencepiece.bpe.model', 'vocab.json', 'merges.txt', 'spiece.model'].filter((n) => files.has(n));
  const xlmrHint = cfg.arch === 'xlm-roberta' && cfg.vocabSize === 250002
    ? ' (every XLM-RoBERTa model with the 250002-token vocabulary, bge-reranker-base/large included, uses the same one: https://huggingface.co/FacebookAI/xlm-roberta-base/blob/main/tokenizer.json)'
    : '';
  const found = have.length ? `it has ${have.join(', ')}, which ${have.length === 1 ? 'is' : 'are'} not a tokenizer we can build for model_type "${cfg.modelType}"` : 'it has no tokenizer files at all';
  throw new TokenizerFilesError(
    `the folder has no tokenizer.json and ${found}. Add tokenizer.json next to config.json: download it from ${hubFile(cfg, 'tokenizer.json')}${xlmrHint}, ${PYTHON_HINT}. ` +
      `(Rerank Lab builds the tokenizer itself from vocab.txt for BERT models and from sentencepiece.bpe.model for XLM-RoBERTa models.)`,
  );
}
