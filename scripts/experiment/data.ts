// The experiment's data, built once with the product's own libraries and then shared by every run:
//   SQuAD-format files → one document per article (its paragraphs) → chunks (src/data/chunk.ts defaults) →
//   each human question → the chunk holding its answer span (the LLM queries' stand-in) →
//   mine() with its default settings, split by article (src/data/mine.ts, what `rerank-lab mine` runs) →
//   validation lists: src/eval/candidates.ts buildRerankSet (each validation query's BM25 top N of the validation
//   documents + its positives), the lists `rerank-lab train` validates on, which every run scores (runs write one
//   logit per list entry; src/eval/ranking.ts computes every metric, see report.ts).

import { buildRerankSet, type RerankSet } from '../../src/eval/candidates.ts';
import { type Chunk, chunkDocuments } from '../../src/data/chunk.ts';
import type { QueryRecord, TrainExample } from '../../src/data/jsonl.ts';
import { mine, type MineStats } from '../../src/data/mine.ts';
import { documentPool, epochGroups, stepsOf } from '../../src/train/batches.ts';

export interface Squad {
  data: { title?: string; id?: string; paragraphs: { context: string; qas: { question: string; answers?: { text: string; answer_start: number }[] }[] }[] }[];
}

/** A set of lists every run scores: src/eval/candidates.ts's RerankSet (what the trainer validates on), as JSON. */
export type Lists = RerankSet;

/** What scoring needs of a set of lists (a hand-made lists file has no BM25 scores). */
export interface ListsLike {
  lists: readonly { query: string; docs: readonly string[]; relevant: readonly boolean[] }[];
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
 * The validation lists: src/eval/candidates.ts buildRerankSet on the validation examples, the very call the trainer
 * makes on the --val file (each query's BM25 top `depth` of the validation documents + the positives it missed), so
 * `rerank-lab train`'s own per-epoch figures and the report's are over the same lists.
 */
export async function validationLists(val: readonly TrainExample[], depth: number): Promise<Lists> {
  return buildRerankSet(val, { depth });
}

/**
 * An extra evaluation file: every question against every chunk of that file (each query's negatives are all the
 * chunks, which makes buildRerankSet search them all); `limit` keeps the first N questions, still over every chunk.
 */
export async function evalFileLists(squad: Squad, depth: number, limit?: number): Promise<Lists & { unplaced: number }> {
  const { chunks, queries, unplaced } = squadToChunks(squad, 'eval:');
  const byId = new Map(chunks.map((c) => [c.id, c.text]));
  const all = [...new Set(chunks.map((c) => c.text))];
  const examples = queries.slice(0, limit).map((q) => ({ query: q.query, pos: [byId.get(q.chunk_id)!], neg: all }));
  return { ...(await buildRerankSet(examples, { depth })), unplaced };
}

/** Every (query, document) pair of the lists, in list order: the input of every scoring run. */
export function pairsOf(l: ListsLike): { query: string; document: string }[] {
  return l.lists.flatMap((x) => x.docs.map((d) => ({ query: x.query, document: d })));
}

/** Cuts a flat score list (one per pair of pairsOf) back into per-list scores. */
export function splitByList(l: ListsLike, flat: readonly number[]): number[][] {
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
export function trainingSteps(train: readonly TrainExample[], o: { groupSize: number; seed: number; epochs: number; batchSize: number; randomNegatives: number }) {
  const pool = documentPool(train);
  const epochs = [];
  for (let e = 0; e < o.epochs; e++) epochs.push(stepsOf(epochGroups(train, o.groupSize, o.seed, e, pool, o.randomNegatives).groups, o.batchSize));
  return epochs;
}
