// JSON Lines (UTF-8) for the three artefacts, with validation that names the line and the field.
//   chunks:   {"id": str, "text": str, "source": str, "start": int, "end": int}
//   queries:  {"query": str, "chunk_id": str, "answers"?: [str], "origin"?: str}
//   training: FlagEmbedding's {"query": str, "pos": [str], "neg": [str]}

import type { Chunk } from './chunk.ts';

export interface QueryRecord {
  query: string;
  chunk_id: string;
  /** Known answer spans (e.g. from imported QA data); negatives containing one are dropped by a guard. */
  answers?: string[];
  /** Where the query came from: 'endpoint:<model>', 'import', 'inpage:<model>'. */
  origin?: string;
}

export interface TrainExample {
  query: string;
  pos: string[];
  neg: string[];
}

export interface LineError {
  line: number;
  message: string;
}

export function toJsonl(items: Iterable<unknown>): string {
  let out = '';
  for (const it of items) out += JSON.stringify(it) + '\n';
  return out;
}

/** Parses JSON Lines; bad lines are reported (with their number) and skipped, never fatal. */
export function parseJsonl<T>(text: string, check: (v: unknown) => T | string): { items: T[]; errors: LineError[] } {
  const items: T[] = [];
  const errors: LineError[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (!raw) continue;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      errors.push({ line: i + 1, message: `not valid JSON: ${(e as Error).message}` });
      continue;
    }
    const r = check(v);
    if (typeof r === 'string') errors.push({ line: i + 1, message: r });
    else items.push(r);
  }
  return { items, errors };
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function checkChunk(v: unknown): Chunk | string {
  if (!isObj(v)) return 'expected an object {"id","text","source","start","end"}';
  for (const k of ['id', 'text', 'source'] as const) if (typeof v[k] !== 'string') return `field "${k}" must be a string`;
  for (const k of ['start', 'end'] as const) if (!Number.isInteger(v[k])) return `field "${k}" must be an integer`;
  return { id: v.id as string, text: v.text as string, source: v.source as string, start: v.start as number, end: v.end as number };
}

export function checkQuery(v: unknown): QueryRecord | string {
  if (!isObj(v)) return 'expected an object {"query","chunk_id"}';
  if (typeof v.query !== 'string') return 'field "query" must be a string';
  if (typeof v.chunk_id !== 'string') return 'field "chunk_id" must be a string';
  const q: QueryRecord = { ...(v as object), query: v.query, chunk_id: v.chunk_id } as QueryRecord;
  if (v.answers !== undefined && !(Array.isArray(v.answers) && v.answers.every((a) => typeof a === 'string'))) {
    return 'field "answers" must be a list of strings';
  }
  return q;
}

export function checkExample(v: unknown): TrainExample | string {
  if (!isObj(v)) return 'expected an object {"query","pos","neg"}';
  if (typeof v.query !== 'string') return 'field "query" must be a string';
  for (const k of ['pos', 'neg'] as const) {
    if (!Array.isArray(v[k]) || !(v[k] as unknown[]).every((s) => typeof s === 'string')) return `field "${k}" must be a list of strings`;
  }
  return { query: v.query, pos: v.pos as string[], neg: v.neg as string[] };
}
