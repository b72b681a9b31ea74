// Pairs cut to max length, counted where they are tokenised (pair truncation itself: model/tokenize.ts) and reported
// by `train`, the page's training step (as warnings) and `mine --model` (before any training), so a max length that
// cuts most documents never goes unnoticed.

import type { PairTokenizer } from '../model/tokenize.ts';

export interface Truncation {
  pairs: number;
  /** Pairs whose document lost tokens. */
  documents: number;
  /** Pairs whose query alone was too long (cut to half the budget). */
  queries: number;
}

/** Adds a tokenised batch's counts to `t` (in place) and returns it. */
export function addTruncation(t: Truncation, b: { batch: number; truncatedDocuments: number; truncatedQueries: number }): Truncation {
  t.pairs += b.batch;
  t.documents += b.truncatedDocuments;
  t.queries += b.truncatedQueries;
  return t;
}

const pct = (n: number, d: number) => `${((100 * n) / Math.max(1, d)).toFixed(n === d || n === 0 ? 0 : 1)}%`;

export function truncationMessage(what: string, t: Truncation, maxLength: number): string {
  return (
    `max length ${maxLength} cut the document of ${t.documents} of ${t.pairs} ${what} pairs (${pct(t.documents, t.pairs)})` +
    (t.queries ? `, and the query too in ${t.queries} (the query alone was longer than the budget)` : '') +
    ': the model never sees the cut part — raise the max length if it matters (memory grows with it)'
  );
}

/**
 * The truncation training will see for these examples at `maxLength`, without tokenising pairs: each distinct text
 * is tokenised once and a pair is cut when query + document + special tokens exceed the budget (model/tokenize.ts's
 * rule). Counts every (query, positive) and (query, negative) pair.
 */
export function countPairTruncation(tok: PairTokenizer, examples: readonly { query: string; pos: readonly string[]; neg: readonly string[] }[], maxLength: number): Truncation {
  const budget = maxLength - tok.specialCount;
  const lengths = new Map<string, number>();
  const len = (t: string) => {
    let n = lengths.get(t);
    if (n === undefined) lengths.set(t, (n = tok.encodeText(t, (maxLength + 1) * 32).length));
    return n;
  };
  const t: Truncation = { pairs: 0, documents: 0, queries: 0 };
  for (const e of examples) {
    const q = len(e.query);
    for (const d of [...e.pos, ...e.neg]) {
      t.pairs++;
      if (q + len(d) > budget) t.documents++;
      if (q >= budget) t.queries++;
    }
  }
  return t;
}
