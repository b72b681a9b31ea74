// The experiment's data, built once with the product's own libraries and then shared by every run:
//   SQuAD-format files → one document per article (its paragraphs) → chunks (src/data/chunk.ts defaults) →
//   each human question → the chunk holding its answer span (the LLM queries' stand-in) →
//   mine() with its default settings, split by article (src/data/mine.ts, what `rerank-lab mine` runs) →
//   validation lists: each validation query's BM25 top N of the validation documents + its positive, which every
//   run scores (runs write one logit per list entry; one scorer computes every metric, see report.ts).

import { Bm25Index } from '../../src/data/bm25.ts';
import { type Chunk, chunkDocuments } from '../../src/data/chunk.ts';
import type { QueryRecord, TrainExample } from '../../src/data/jsonl.ts';
import { mine, type MineStats, tokenizeAll } from '../../src/data/mine.ts';
import { createTokenizer, type Tokenizer } from '../../src/data/tokenize.ts';
import { documentPool, epochGroups, stepsOf } from '../../src/train/batches.ts';

export interface Squad {
  data: { title?: string; id?: string; paragraphs: { context: string; qas: { question: string; answers?: { text: string; answer_start: number }[] }[] }[] }[];
}

/** One list to rerank: BM25's top N (best first), then the positives BM25 did not retrieve. */
export interface RerankList {
  query: string;
  docs: string[];
  relevant: boolean[];
  /** The first mined negative (BM25's top non-positive after the guards): the seed's "hardest negative". */
  hardNegative?: string;
}

export interface Lists {
  depth: number;
  /** Distinct documents BM25 searched. */
  corpus: number;
  lists: RerankList[];
}

/** Parses a SQuAD-format file's text, with an error that says what is wrong. */
export function parseSquad(text: string, name: string): Squad {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name} is not JSON (${(e as Error).message}): expected SQuAD format {"data": [{"paragraphs": [{"context", "qas": [{"question", "answers"}]}]}]}`);
  }
  const d = (v as Squad)?.data;
  if (!Array.isArray(d) || !d.every((a) => Array.isArray(a?.paragraphs))) {
    throw new Error(`${name} is not in SQuAD format: it needs "data": [{"paragraphs": [{"context": str, "qas": [{"question": str, "answers": [{"text", "answer_start"}]}]}]}]`);
  }
  return v as Squad;
}

/** Documents (one per article, paragraphs joined by a blank line), chunks and the questions as query records. */
export function squadToChunks(squad: Squad, prefix: string): { chunks: Chunk[]; queries: QueryRecord[]; unplaced: number } {
  const docs: { source: string; text: string; answers: { question: string; answers: string[]; start?: number; end?: number }[] }[] = [];
  squad.data.forEach((a, i) => {
    let text = '';
    const qs: (typeof docs)[number]['answers'] = [];
    for (const p of a.paragraphs) {
      if (text) text += '\n\n';
      const at = text.length;
      text += p.context;
      for (const q of p.qas) {
        const ans = q.answers?.[0];
        qs.push({ question: q.question, answers: (q.answers ?? []).map((x) => x.text), start: ans ? at + ans.answer_start : undefined, end: ans ? at + ans.answer_start + ans.text.length : undefined });
      }
    }
    docs.push({ source: `${prefix}${a.id ?? a.title ?? i}#${i}`, text, answers: qs });
  });
  const chunks = chunkDocuments(docs);
  const bySource = new Map<string, Chunk[]>();
  for (const c of chunks) bySource.set(c.source, [...(bySource.get(c.source) ?? []), c]);
  const queries: QueryRecord[] = [];
  let unplaced = 0;
  for (const d of docs) {
    const cs = bySource.get(d.source) ?? [];
    for (const q of d.answers) {
      // the chunk that holds the whole answer span, else one whose text contains the answer; else no positive
      const c = (q.start !== undefined && cs.find((x) => x.start <= q.start! && q.end! <= x.end)) || cs.find((x) => q.answers.some((a) => a && x.text.includes(a)));
      if (!c || !q.question.trim()) {
        unplaced++;
        continue;
      }
      queries.push({ query: q.question, chunk_id: c.id, answers: q.answers, origin: 'import' });
    }
  }
  return { chunks, queries, unplaced };
}

export interface Prepared {
  train: TrainExample[];
  val: TrainExample[];
  stats: MineStats;
  chunks: number;
  unplaced: number;
}

/** Mines with `mine`'s defaults (15 negatives from BM25's top 50, guards on), split by article. */
export async function prepareSplit(squad: Squad, valRatio: number, seed: number): Promise<Prepared> {
  const { chunks, queries, unplaced } = squadToChunks(squad, '');
  const r = await mine(chunks, queries, { valRatio, seed });
  return { train: r.train, val: r.val, stats: r.stats, chunks: chunks.length, unplaced };
}

/**
 * Each query's BM25 top `depth` over `corpus` plus its positives BM25 missed (ordered by their BM25 score), as
 * sentence-transformers' CrossEncoderRerankingEvaluator builds its lists (always_rerank_positives). Issue 9b builds
 * the same lists inside the trainer (src/eval/candidates.ts); this is the experiment's copy until that lands.
 */
export async function rerankLists(examples: readonly TrainExample[], corpus: readonly string[], depth: number, tok?: Tokenizer): Promise<Lists> {
  const t = tok ?? (await createTokenizer('default'));
  const withPos = examples.filter((e) => e.pos.length > 0 && e.query.trim());
  const docTokens = await tokenizeAll(corpus, t, { threads: 1 });
  const queryTokens = await tokenizeAll(withPos.map((e) => e.query), t, { threads: 1 });
  const bm25 = Bm25Index.build(docTokens);
  const lists = withPos.map((ex, qi): RerankList => {
    const hits = bm25.topK(queryTokens[qi], depth).map((h) => h.doc);
    // topK returns only documents sharing a term with the query: fill up in corpus order (BM25 score 0)
    if (hits.length < depth) {
      const inTop = new Set(hits);
      for (let d = 0; d < corpus.length && hits.length < depth; d++) if (!inTop.has(d)) hits.push(d);
    }
    const docs = hits.map((d) => corpus[d]);
    const scores = bm25.scores(queryTokens[qi]);
    const index = new Map(corpus.map((d, i) => [d, i]));
    const missed = ex.pos.filter((p) => !docs.includes(p)).sort((a, b) => (scores[index.get(b) ?? -1] ?? 0) - (scores[index.get(a) ?? -1] ?? 0));
    const all = [...docs, ...new Set(missed)];
    const pos = new Set(ex.pos);
    return { query: ex.query, docs: all, relevant: all.map((d) => pos.has(d)), hardNegative: ex.neg[0] };
  });
  return { depth, corpus: corpus.length, lists };
}

/** The validation lists: BM25 over every distinct validation document (positives and negatives, nothing of training). */
export async function validationLists(val: readonly TrainExample[], depth: number): Promise<Lists> {
  return rerankLists(val, documentPool(val), depth);
}

/** An extra evaluation file: every question against every chunk of that file. */
export async function evalFileLists(squad: Squad, depth: number): Promise<Lists & { unplaced: number }> {
  const { chunks, queries, unplaced } = squadToChunks(squad, 'eval:');
  const byId = new Map(chunks.map((c) => [c.id, c.text]));
  const examples = queries.map((q) => ({ query: q.query, pos: [byId.get(q.chunk_id)!], neg: [] as string[] }));
  return { ...(await rerankLists(examples, [...new Set(chunks.map((c) => c.text))], depth)), unplaced };
}

/** Every (query, document) pair of the lists, in list order: the input of every scoring run. */
export function pairsOf(l: Lists): { query: string; document: string }[] {
  return l.lists.flatMap((x) => x.docs.map((d) => ({ query: x.query, document: d })));
}

/** Cuts a flat score list (one per pair of pairsOf) back into per-list scores. */
export function splitByList(l: Lists, flat: readonly number[]): number[][] {
  const need = l.lists.reduce((n, x) => n + x.docs.length, 0);
  if (flat.length !== need) throw new Error(`expected ${need} scores (one per list entry), got ${flat.length}`);
  let at = 0;
  return l.lists.map((x) => flat.slice(at, (at += x.docs.length)));
}

/**
 * The training groups of every epoch and the optimizer steps they form, exactly as the trainer builds them
 * (src/train/batches.ts epochGroups + stepsOf): handed to sentence-transformers so both runs see the same groups
 * in the same steps. Each step is a list of groups {query, docs: [positive, negatives…]}.
 */
export function trainingSteps(train: readonly TrainExample[], o: { groupSize: number; seed: number; epochs: number; batchSize: number }) {
  const pool = documentPool(train);
  const epochs = [];
  for (let e = 0; e < o.epochs; e++) epochs.push(stepsOf(epochGroups(train, o.groupSize, o.seed, e, pool).groups, o.batchSize));
  return epochs;
}
