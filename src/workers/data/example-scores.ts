// BM25 scores of mined examples, for the page's negatives table: mining returns texts only, and the table shows how
// lexically close each positive and negative is to its query. The index over all chunks is built once and kept
// while the page pages through the examples; it is rebuilt when the chunks or the token mode change.

import { Bm25Index } from '../../data/bm25.ts';
import type { Chunk } from '../../data/chunk.ts';
import { tokenizeAll } from '../../data/mine.ts';
import { createTokenizer, type TokenMode, type Tokenizer } from '../../data/tokenize.ts';
import type { LongRunning } from '../../util/progress.ts';

/** One example's scores, in the order of its pos and neg texts; NaN for a text that is not one of the chunks. */
export interface ExampleScores {
  pos: number[];
  neg: number[];
}

export interface ScoredExample {
  query: string;
  pos: string[];
  neg: string[];
}

export type ExampleScorer = (chunks: readonly Chunk[], examples: readonly ScoredExample[], mode: TokenMode, opts?: LongRunning) => Promise<ExampleScores[]>;

/** A scorer that keeps its last index (BM25 over all chunks, rank_bm25 formula, as mining ranks them). */
export function createExampleScorer(): ExampleScorer {
  let cached: { key: string; mode: TokenMode; index: Bm25Index; byText: Map<string, number>; tok: Tokenizer } | undefined;
  // cheap identity of a chunk list: a rechunk changes the count, the ids or the total length
  const keyOf = (chunks: readonly Chunk[]) => {
    let chars = 0;
    for (const c of chunks) chars += c.text.length;
    return `${chunks.length}:${chars}:${chunks[0]?.id}:${chunks[chunks.length - 1]?.id}`;
  };

  return async (chunks, examples, mode, opts = {}) => {
    const key = keyOf(chunks);
    if (!cached || cached.key !== key || cached.mode !== mode) {
      cached = undefined;
      const tok = await createTokenizer(mode);
      const docTokens = await tokenizeAll(chunks.map((c) => c.text), tok, { ...opts, stage: 'BM25 index' });
      const byText = new Map<string, number>();
      chunks.forEach((c, i) => byText.has(c.text) || byText.set(c.text, i));
      cached = { key, mode, index: Bm25Index.build(docTokens, {}, { signal: opts.signal }), byText, tok };
    }
    const { index, byText, tok } = cached;
    return examples.map((ex) => {
      const s = index.scores(tok.tokenize(ex.query));
      const at = (t: string) => {
        const i = byText.get(t);
        return i === undefined ? NaN : s[i];
      };
      return { pos: ex.pos.map(at), neg: ex.neg.map(at) };
    });
  };
}
