// Query filters: empty, over-long, duplicate and copied-from-chunk queries are dropped, each with a count; an
// optional round-trip check keeps a query only if BM25 ranks its own chunk in the top k.

import { Bm25Index } from './bm25.ts';
import type { Chunk } from './chunk.ts';
import type { QueryRecord } from './jsonl.ts';
import { tokenizeAll } from './mine.ts';
import { createTokenizer, type TokenMode, type Tokenizer } from './tokenize.ts';
import type { LongRunning } from '../util/progress.ts';

export interface FilterOptions {
  /** Longer queries are dropped (default 200 characters). */
  maxChars?: number;
  /** Shorter queries count as empty (default 2 characters, after trimming). */
  minChars?: number;
  /** A query whose longest run shared with its chunk covers this fraction of it is a copy (default 0.9). */
  copyRatio?: number;
}

export type DropReason = 'empty' | 'tooLong' | 'duplicate' | 'copied' | 'unknownChunk' | 'roundTrip';

export interface FilterResult {
  kept: QueryRecord[];
  dropped: (QueryRecord & { reason: DropReason })[];
  counts: Record<DropReason, number>;
}

const zero = (): Record<DropReason, number> => ({ empty: 0, tooLong: 0, duplicate: 0, copied: 0, unknownChunk: 0, roundTrip: 0 });

/** Length of the longest common substring (characters), O(|a|·|b|) with one row. */
export function longestCommonRun(a: string, b: string): number {
  if (!a || !b) return 0;
  const row = new Uint16Array(b.length + 1);
  let best = 0;
  for (let i = 1; i <= a.length; i++) {
    let prev = 0;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = a[i - 1] === b[j - 1] ? prev + 1 : 0;
      if (row[j] > best) best = row[j];
      prev = tmp;
    }
  }
  return best;
}

const norm = (q: string) => q.normalize('NFKC').replace(/\s+/g, ' ').trim().toLowerCase();
const stripPunct = (q: string) => q.replace(/[\s\p{P}\p{S}]/gu, '');

/**
 * The checks that need only the query and its chunk (empty, too long, copied from the chunk): query generation runs
 * them before caching, so an answer the filters would drop is never cached and a rerun asks again.
 */
export function rejectReason(query: string, chunkText: string, opts: FilterOptions = {}): 'empty' | 'tooLong' | 'copied' | undefined {
  const q = query.trim();
  const core = stripPunct(norm(q));
  const copyRatio = opts.copyRatio ?? 0.9;
  if (core.length < (opts.minChars ?? 2)) return 'empty';
  if (q.length > (opts.maxChars ?? 200)) return 'tooLong';
  if (core.length >= 6 && longestCommonRun(core, stripPunct(norm(chunkText))) >= copyRatio * core.length) return 'copied';
  return undefined;
}

export function filterQueries(queries: readonly QueryRecord[], chunks: readonly Chunk[], opts: FilterOptions = {}): FilterResult {
  const byId = new Map(chunks.map((c) => [c.id, c]));
  const seen = new Set<string>();
  const res: FilterResult = { kept: [], dropped: [], counts: zero() };
  const drop = (q: QueryRecord, reason: DropReason) => {
    res.counts[reason]++;
    res.dropped.push({ ...q, reason });
  };
  for (const q0 of queries) {
    const q = { ...q0, query: q0.query.trim() };
    const chunk = byId.get(q.chunk_id);
    const core = stripPunct(norm(q.query));
    const reason = chunk && rejectReason(q.query, chunk.text, opts);
    if (!chunk) drop(q, 'unknownChunk');
    else if (reason === 'empty' || reason === 'tooLong') drop(q, reason);
    else if (seen.has(`${core}\u0000${q.chunk_id}`) || seen.has(core)) drop(q, 'duplicate');
    else if (reason === 'copied') drop(q, 'copied');
    else {
      seen.add(core);
      res.kept.push(q);
    }
  }
  return res;
}

export interface RoundTripOptions extends LongRunning {
  /** Keep a query only if its chunk ranks in the top k (default 10). */
  k?: number;
  tokenMode?: TokenMode;
  tokenizer?: Tokenizer;
}

/** Round-trip check: BM25 over all chunks must rank each query's own chunk in its top k. */
export async function roundTripFilter(queries: readonly QueryRecord[], chunks: readonly Chunk[], opts: RoundTripOptions = {}): Promise<FilterResult> {
  const k = opts.k ?? 10;
  const tok = opts.tokenizer ?? (await createTokenizer(opts.tokenMode ?? 'default'));
  const index = Bm25Index.build(await tokenizeAll(chunks.map((c) => c.text), tok, { ...opts, stage: 'round-trip index' }));
  const pos = new Map(chunks.map((c, i) => [c.id, i]));
  const res: FilterResult = { kept: [], dropped: [], counts: zero() };
  const qt = await tokenizeAll(queries.map((q) => q.query), tok, { ...opts, stage: 'round-trip' });
  queries.forEach((q, i) => {
    const p = pos.get(q.chunk_id);
    if (p === undefined) {
      res.counts.unknownChunk++;
      res.dropped.push({ ...q, reason: 'unknownChunk' });
    } else if (index.topK(qt[i], k).some((h) => h.doc === p)) res.kept.push(q);
    else {
      res.counts.roundTrip++;
      res.dropped.push({ ...q, reason: 'roundTrip' });
    }
  });
  return res;
}
