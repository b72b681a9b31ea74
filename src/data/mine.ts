// Hard-negative mining: the seed's algorithm (BM25 top-K of the query, excluding the positive, deduplicated,
// topped up with random chunks) over an inverted index, with guards against false negatives:
//   overlap       – the candidate shares characters with the positive's span (same source, chunk overlap)
//   nearDuplicate – token-set Jaccard with the positive at or above a threshold
//   answerSpan    – the candidate contains a known answer of the query
// plus the seed's own exclusions (the positive itself, a text equal to the positive, a repeated negative).
// Train/validation are split by source document; each side draws negatives only from its own documents.

import { Bm25Index, type Bm25Params } from './bm25.ts';
import type { Chunk } from './chunk.ts';
import { hash53, normaliseForDedupe } from './hash.ts';
import type { QueryRecord, TrainExample } from './jsonl.ts';
import { mulberry32 } from '../util/rng.ts';
import { splitBySource } from './split.ts';
import { createTokenizer, type TokenMode, type Tokenizer } from './tokenize.ts';
import type { TokenizePool } from './tokenize-pool.ts';
import { throwIfAborted, type LongRunning } from '../util/progress.ts';

export interface GuardOptions {
  overlap?: boolean;
  /** Jaccard threshold on token sets; 0 disables. Default 0.8. */
  nearDuplicate?: number;
  answerSpan?: boolean;
}

export interface MineOptions extends LongRunning {
  /** Negatives per query (default 15). */
  negatives?: number;
  /** How deep in the BM25 ranking to look (default 50). */
  topK?: number;
  /** Token mode (default 'default'). */
  tokenMode?: TokenMode;
  /** Seed behaviour: verbatim jieba tokens and no guards beyond the seed's own exclusions. */
  seedCompatible?: boolean;
  /** Reuse a tokenizer (the worker keeps one); otherwise one is created for the mode. */
  tokenizer?: Tokenizer;
  /** Tokenising threads (see TokenizeAllOptions.threads; 1 = this thread only). */
  threads?: number;
  /** An open tokenising pool (e.g. Web Workers); mine() does not close it. */
  tokenPool?: TokenizePool;
  guards?: GuardOptions;
  /** Fill up with random chunks when the ranking runs out (default true, as the seed). */
  topUpRandom?: boolean;
  /** Fraction of source documents held out for validation (default 0). */
  valRatio?: number;
  /** Seed for the split and random negatives (default 42). */
  seed?: number;
  bm25?: Bm25Params;
}

export interface GuardCounts {
  /** Candidates equal to the positive chunk, or with the same text. */
  positive: number;
  /** Candidates whose text was already taken as a negative for this query. */
  repeated: number;
  overlap: number;
  nearDuplicate: number;
  answerSpan: number;
}

export interface MineStats {
  queries: number;
  examples: { train: number; val: number };
  /** Queries dropped: chunk id not in the chunks file, or empty query. */
  droppedQueries: { unknownChunk: number; empty: number };
  /** Candidates removed from BM25 rankings, per reason. */
  removed: GuardCounts;
  /** Candidates removed while topping up with random chunks, per reason. */
  removedRandom: GuardCounts;
  negatives: { fromRanking: number; random: number };
  /** Queries that ended with fewer negatives than asked. */
  short: number;
  sources: { train: number; val: number };
  seconds: { tokenise: number; index: number; mine: number };
}

export interface MineResult {
  train: TrainExample[];
  val: TrainExample[];
  stats: MineStats;
}

const zeroGuards = (): GuardCounts => ({ positive: 0, repeated: 0, overlap: 0, nearDuplicate: 0, answerSpan: 0 });

/** Lets queued messages (a cancel) through during long synchronous work in a worker. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

export interface TokenizeAllOptions extends LongRunning {
  stage?: string;
  /** Single-thread path: yield to the event loop every `every` texts (default 2000). */
  every?: number;
  /**
   * Threads to tokenise on. 1: this thread only. Default: in Node, every core (at most 4) once there are at least
   * PARALLEL_MIN_TEXTS texts; elsewhere this thread (unless a pool is given). Output is identical either way.
   */
  threads?: number;
  /** An open pool to use (e.g. Web Workers in the page, or one Node pool shared by several calls). */
  pool?: TokenizePool;
  /** Texts per message to a thread (default 500). */
  batch?: number;
}

/** Below this many texts starting threads (each loads jieba) costs more than it saves. */
export const PARALLEL_MIN_TEXTS = 4000;

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

/**
 * In Node, a pool of worker threads for `count` texts, or undefined where threads would not pay or cannot start
 * (the caller then tokenises on its own thread). The caller closes it.
 */
export async function openTokenizePool(count: number, threads?: number): Promise<TokenizePool | undefined> {
  if (!isNode || threads === 1 || count < PARALLEL_MIN_TEXTS) return undefined;
  try {
    // a computed specifier keeps the page's bundler away from this Node-only module
    const spec = './tokenize-pool-node.ts';
    const mod = (await import(/* @vite-ignore */ spec)) as typeof import('./tokenize-pool-node.ts');
    const n = threads ?? mod.defaultTokenizeThreads();
    return n > 1 ? await mod.openNodeTokenizePool(n) : undefined;
  } catch {
    return undefined; // no worker threads here (e.g. a sandbox): tokenising on this thread gives the same tokens
  }
}

/**
 * Tokenises many texts with progress and cancel, on worker threads where that pays (see TokenizeAllOptions.threads);
 * the token lists are the same as `texts.map(tok.tokenize)`. Tokenizers without a `spec` always run here.
 */
export async function tokenizeAll(texts: readonly string[], tok: Tokenizer, opts: TokenizeAllOptions = {}): Promise<string[][]> {
  if (tok.spec && opts.threads !== 1) {
    if (opts.pool) return opts.pool.tokenize(texts, tok.spec, opts);
    const pool = await openTokenizePool(texts.length, opts.threads);
    if (pool) {
      try {
        return await pool.tokenize(texts, tok.spec, opts);
      } finally {
        pool.close();
      }
    }
  }
  return tokenizeHere(texts, tok, opts);
}

/** The single-thread path: yields to the event loop every `every` texts so a cancel gets through. */
export async function tokenizeHere(texts: readonly string[], tok: Tokenizer, opts: TokenizeAllOptions = {}): Promise<string[][]> {
  const out: string[][] = new Array(texts.length);
  const every = opts.every ?? 2000;
  for (let i = 0; i < texts.length; i++) {
    if (i % every === 0) {
      throwIfAborted(opts.signal);
      opts.onProgress?.({ stage: opts.stage ?? 'tokenise', done: i, total: texts.length });
      if (i) await yieldToEventLoop();
    }
    out[i] = tok.tokenize(texts[i]);
  }
  opts.onProgress?.({ stage: opts.stage ?? 'tokenise', done: texts.length, total: texts.length });
  return out;
}

export function jaccard(a: Int32Array, b: Int32Array): number {
  let i = 0;
  let j = 0;
  let inter = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      inter++;
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  const union = a.length + b.length - inter;
  return union === 0 ? 1 : inter / union;
}

/** The whole mining run: tokenise, index, mine, split. */
export async function mine(chunks: readonly Chunk[], queries: readonly QueryRecord[], opts: MineOptions = {}): Promise<MineResult> {
  const nNeg = opts.negatives ?? 15;
  const topK = Math.max(opts.topK ?? 50, 1);
  const seedMode = opts.seedCompatible === true;
  const guards = {
    overlap: !seedMode && (opts.guards?.overlap ?? true),
    nearDuplicate: seedMode ? 0 : (opts.guards?.nearDuplicate ?? 0.8),
    answerSpan: !seedMode && (opts.guards?.answerSpan ?? true),
  };
  if (chunks.length === 0) throw new Error('No chunks to mine from: run ingest first (the chunks file is empty).');
  const tok = opts.tokenizer ?? (await createTokenizer(seedMode ? 'seed' : (opts.tokenMode ?? 'default')));
  const byId = new Map<string, number>();
  chunks.forEach((c, i) => byId.set(c.id, i));

  let t0 = performance.now();
  // one pool for chunks and queries (threads start once)
  const ownPool = opts.tokenPool ? undefined : tok.spec && (await openTokenizePool(chunks.length + queries.length, opts.threads));
  const pool = opts.tokenPool ?? ownPool;
  const tokOpts = { signal: opts.signal, onProgress: opts.onProgress, threads: pool ? opts.threads : 1, pool };
  let docTokens: string[][];
  let queryTokens: string[][];
  const usable: { q: QueryRecord; pos: number }[] = [];
  const dropped = { unknownChunk: 0, empty: 0 };
  try {
    docTokens = await tokenizeAll(
      chunks.map((c) => c.text),
      tok,
      { ...tokOpts, stage: 'tokenise' },
    );
    for (const q of queries) {
      const pos = byId.get(q.chunk_id);
      if (pos === undefined) dropped.unknownChunk++;
      else if (!q.query.trim()) dropped.empty++;
      else usable.push({ q, pos });
    }
    queryTokens = await tokenizeAll(
      usable.map((u) => u.q.query),
      tok,
      { ...tokOpts, stage: 'tokenise queries' },
    );
  } finally {
    ownPool?.close();
  }
  const tTok = (performance.now() - t0) / 1000;

  t0 = performance.now();
  const index = Bm25Index.build(docTokens, opts.bm25, opts);
  const tIndex = (performance.now() - t0) / 1000;

  t0 = performance.now();
  const split = splitBySource(chunks, opts.valRatio ?? 0, opts.seed ?? 42);
  const textHash = new Float64Array(chunks.length);
  chunks.forEach((c, i) => (textHash[i] = hash53(normaliseForDedupe(c.text))));
  const rng = mulberry32((opts.seed ?? 42) ^ 0x5eed);
  const hasVal = split.valSources.length > 0;
  const sameSide = (side: number) => (hasVal ? (d: number) => split.side[d] === side : undefined);
  // chunk indices per side, for random top-up
  const sidePool: number[][] = [[], []];
  for (let i = 0; i < chunks.length; i++) sidePool[split.side[i]].push(i);

  // Guard inputs as typed arrays: the inner loop runs ~16 times per query and must not chase chunk objects or
  // compare source strings. srcId numbers the distinct sources.
  const srcId = new Int32Array(chunks.length);
  const startAt = new Float64Array(chunks.length);
  const endAt = new Float64Array(chunks.length);
  {
    const ids = new Map<string, number>();
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i];
      let id = ids.get(c.source);
      if (id === undefined) ids.set(c.source, (id = ids.size));
      srcId[i] = id;
      startAt[i] = c.start;
      endAt[i] = c.end;
    }
  }
  // Near-duplicate test against the positive: mark its distinct terms once per query (stamp = query number + 1),
  // then count a candidate's marked terms. Same intersection and union as jaccard() on the sorted lists.
  const stamp = new Int32Array(index.vocab.size);

  const removed = zeroGuards();
  const removedRandom = zeroGuards();
  const negCount = { fromRanking: 0, random: 0 };
  let short = 0;
  const train: TrainExample[] = [];
  const val: TrainExample[] = [];

  for (let qi = 0; qi < usable.length; qi++) {
    if (qi % 1000 === 0) {
      throwIfAborted(opts.signal);
      opts.onProgress?.({ stage: 'mine', done: qi, total: usable.length });
      if (qi) await yieldToEventLoop();
    }
    const { q, pos } = usable[qi];
    const side = split.side[pos];
    const P = chunks[pos];
    const pSrc = srcId[pos];
    const pStart = startAt[pos];
    const pEnd = endAt[pos];
    const pHash = textHash[pos];
    let posTerms = 0;
    if (guards.nearDuplicate > 0) {
      const pt = index.distinctTerms(pos);
      for (let j = 0; j < pt.length; j++) stamp[pt[j]] = qi + 1;
      posTerms = pt.length;
    }
    const answers = guards.answerSpan ? (q.answers ?? []).map((a) => a.trim()).filter((a) => a.length >= 2) : [];
    const taken = new Set<number>(); // text hashes of chosen negatives
    const neg: string[] = [];
    const consider = (d: number, counts: GuardCounts): boolean => {
      const h = textHash[d];
      if (d === pos || h === pHash) {
        counts.positive++;
        return false;
      }
      if (taken.has(h)) {
        counts.repeated++;
        return false;
      }
      if (guards.overlap && srcId[d] === pSrc && startAt[d] < pEnd && pStart < endAt[d]) {
        counts.overlap++;
        return false;
      }
      const text = chunks[d].text;
      if (answers.length && answers.some((a) => text.includes(a))) {
        counts.answerSpan++;
        return false;
      }
      if (guards.nearDuplicate > 0) {
        const ct = index.distinctTerms(d);
        let inter = 0;
        for (let j = 0; j < ct.length; j++) if (stamp[ct[j]] === qi + 1) inter++;
        const union = ct.length + posTerms - inter;
        if ((union === 0 ? 1 : inter / union) >= guards.nearDuplicate) {
          counts.nearDuplicate++;
          return false;
        }
      }
      taken.add(h);
      neg.push(text);
      return true;
    };
    const hits = index.topK(queryTokens[qi], topK, sameSide(side));
    for (const h of hits) {
      if (neg.length >= nNeg) break;
      if (consider(h.doc, removed)) negCount.fromRanking++;
    }
    if (neg.length < nNeg && opts.topUpRandom !== false) {
      const pool = sidePool[side];
      // bounded attempts: a tiny or heavily guarded pool must not loop forever
      for (let tries = 0; neg.length < nNeg && tries < nNeg * 20 && pool.length > 1; tries++) {
        if (consider(pool[Math.floor(rng() * pool.length)], removedRandom)) negCount.random++;
      }
    }
    if (neg.length < nNeg) short++;
    (side === 1 ? val : train).push({ query: q.query, pos: [P.text], neg });
  }
  opts.onProgress?.({ stage: 'mine', done: usable.length, total: usable.length });
  return {
    train,
    val,
    stats: {
      queries: queries.length,
      examples: { train: train.length, val: val.length },
      droppedQueries: dropped,
      removed,
      removedRandom,
      negatives: negCount,
      short,
      sources: { train: split.trainSources.length, val: split.valSources.length },
      seconds: { tokenise: tTok, index: tIndex, mine: (performance.now() - t0) / 1000 },
    },
  };
}
