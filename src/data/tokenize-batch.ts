// Token lists in a compact form for crossing a thread boundary (worker_threads in Node, Web Workers in the page).
// Posting millions of small string arrays through structured clone is slow; instead a batch travels as its distinct
// tokens (one string each) plus token ids and per-text ends in typed arrays (transferable). Decoding rebuilds the
// exact string[][] the tokenizer returned.

import type { Jieba } from './jieba.ts';
import { makeTokenizer, type TokenizerSpec } from './tokenize.ts';

export interface EncodedTokens {
  /** Distinct tokens of the batch, in first-seen order. */
  vocab: string[];
  /** Token ids into vocab, all texts back to back. */
  ids: Int32Array;
  /** ends[i]: one past text i's last token in ids (texts are contiguous, text 0 starts at 0). */
  ends: Int32Array;
}

/** What the main thread posts to a tokenising thread. */
export interface TokenizeRequest {
  id: number;
  spec: TokenizerSpec;
  texts: string[];
}

/** What a tokenising thread answers: the batch, or the error it met. */
export type TokenizeReply = { id: number; ok: true; tokens: EncodedTokens } | { id: number; ok: false; message: string };

export function encodeTokens(lists: readonly (readonly string[])[]): EncodedTokens {
  const index = new Map<string, number>();
  const vocab: string[] = [];
  let total = 0;
  for (const l of lists) total += l.length;
  const ids = new Int32Array(total);
  const ends = new Int32Array(lists.length);
  let p = 0;
  for (let i = 0; i < lists.length; i++) {
    for (const t of lists[i]) {
      let id = index.get(t);
      if (id === undefined) {
        id = vocab.length;
        index.set(t, id);
        vocab.push(t);
      }
      ids[p++] = id;
    }
    ends[i] = p;
  }
  return { vocab, ids, ends };
}

/** Inverse of encodeTokens; writes the lists into out[at ..] (so batches fill one result array in place). */
export function decodeTokens(enc: EncodedTokens, out: string[][] = [], at = 0): string[][] {
  const { vocab, ids, ends } = enc;
  let p = 0;
  for (let i = 0; i < ends.length; i++) {
    const e = ends[i];
    const l: string[] = new Array(e - p);
    for (let j = 0; p < e; j++, p++) l[j] = vocab[ids[p]];
    out[at + i] = l;
  }
  return out;
}

/** The thread side: tokenises a request with the given segmenter (one tokenizer per spec, cached). */
export function tokenizeRequestWith(jieba: Jieba): (req: TokenizeRequest) => TokenizeReply {
  const cache = new Map<string, ReturnType<typeof makeTokenizer>>();
  return (req) => {
    try {
      const key = JSON.stringify(req.spec);
      let tok = cache.get(key);
      if (!tok) {
        tok = makeTokenizer(jieba, req.spec.mode, req.spec.stopwords ? new Set(req.spec.stopwords) : undefined);
        cache.set(key, tok);
      }
      return { id: req.id, ok: true, tokens: encodeTokens(req.texts.map((t) => tok.tokenize(t))) };
    } catch (e) {
      return { id: req.id, ok: false, message: e instanceof Error ? e.message : String(e) };
    }
  };
}
