// BM25 tokenisation over jieba-wasm (jieba-rs, HMM on).
// 'seed': tokens verbatim, as the seed's `list(jieba.cut(doc))` (punctuation, whitespace and line breaks included).
// 'default': whitespace and punctuation tokens and stopwords dropped, Latin lowercased, numbers kept.
// jieba-rs agrees with Python jieba 0.42.1 on most texts; it keeps ranges such as `7-6` as one token.

import { loadJieba, type Jieba } from './jieba.ts';
import { STOPWORDS } from './stopwords.ts';

export type TokenMode = 'seed' | 'default';

/** How to rebuild a tokenizer in another thread: its mode, and its stopwords when they are not the default list. */
export interface TokenizerSpec {
  mode: TokenMode;
  stopwords?: string[];
}

export interface Tokenizer {
  mode: TokenMode;
  /** Tokens of one text, in order, with repetition (BM25 counts repeats). */
  tokenize(text: string): string[];
  /** Set by makeTokenizer: lets tokenizeAll run the same tokenizer on worker threads. Absent: this thread only. */
  spec?: TokenizerSpec;
}

// Whitespace, punctuation and symbols only (。，！ ... ( ) « » etc.). Numbers and letters never match.
const NOISE = /^[\s\p{P}\p{S}]*$/u;

/** Default-mode filter for jieba's raw output; exported so tests and other callers share it. */
export function cleanTokens(raw: string[], stopwords: ReadonlySet<string> = STOPWORDS): string[] {
  const out: string[] = [];
  for (const t of raw) {
    const c = t.charCodeAt(0);
    // fast path: a token starting with a CJK ideograph is a word, never noise
    if (c >= 0x4e00 && c <= 0x9fff) {
      if (!stopwords.has(t)) out.push(t);
      continue;
    }
    if (NOISE.test(t)) continue;
    const w = t.toLowerCase();
    if (stopwords.has(w)) continue;
    out.push(w);
  }
  return out;
}

export function makeTokenizer(jieba: Jieba, mode: TokenMode = 'default', stopwords: ReadonlySet<string> = STOPWORDS): Tokenizer {
  if (mode === 'seed') return { mode, tokenize: (text) => jieba.cut(text, true), spec: { mode } };
  const spec: TokenizerSpec = stopwords === STOPWORDS ? { mode } : { mode, stopwords: [...stopwords] };
  return { mode, tokenize: (text) => cleanTokens(jieba.cut(text, true), stopwords), spec };
}

/** Loads jieba (once) and returns a tokenizer for the mode. */
export async function createTokenizer(mode: TokenMode = 'default', stopwords?: ReadonlySet<string>): Promise<Tokenizer> {
  return makeTokenizer(await loadJieba(), mode, stopwords ?? STOPWORDS);
}
