// What each of the lab's results was made from, and whether it is out of date.
//
// Every result records the fingerprints of its inputs when it is made (`made[result] = { input: fingerprint }`).
// The page compares them with the fingerprints of the inputs it holds now: a result is out of date when one of its
// inputs changed since, or when an input is itself a result that is out of date (a training run on a dataset mined
// from chunks that have changed since is out of date too, even if nobody mined again).
//
// Fingerprints are content hashes (cyrb53, see src/data/hash.ts): dropping the same folder twice, or mining again
// with the same settings, leaves everything downstream up to date.

import { hash53Hex } from '../../data/hash.ts';

/** The lab's results, in pipeline order. */
export const RESULTS = ['chunks', 'queries', 'dataset', 'baseScores', 'probe', 'train', 'report', 'sweep'] as const;
export type ResultName = (typeof RESULTS)[number];

/** Plain inputs (settings, files) and results, each with a fingerprint. */
export type InputName =
  | 'corpus'
  | 'chunking'
  | 'chunks'
  | 'queries'
  | 'mining'
  | 'dataset'
  | 'model'
  | 'maxLength'
  | 'groupSize'
  | 'loss'
  | 'trainSettings'
  | 'train'
  | 'sweepSettings';

export type Fingerprints = Partial<Record<InputName, string>>;
export type Made = Partial<Record<ResultName, Fingerprints>>;

/** Which inputs each result depends on. Inputs that are results (chunks, queries, dataset, train) pass staleness on. */
export const DEPENDS: Record<ResultName, readonly InputName[]> = {
  chunks: ['corpus', 'chunking'],
  queries: ['chunks'],
  dataset: ['chunks', 'queries', 'mining'],
  baseScores: ['model', 'dataset', 'maxLength'],
  // memory depends on the model, the length and the group size (and the loss's buffers), not on which texts
  probe: ['model', 'maxLength', 'groupSize', 'loss'],
  train: ['model', 'dataset', 'trainSettings'],
  report: ['model', 'dataset', 'train'],
  sweep: ['model', 'dataset', 'sweepSettings'],
};

/** The result an input name stands for, where it is one. */
const RESULT_OF: Partial<Record<InputName, ResultName>> = { chunks: 'chunks', queries: 'queries', dataset: 'dataset', train: 'train' };

export const INPUT_LABELS: Record<InputName, string> = {
  corpus: '文档 the documents (step 1)',
  chunking: '分块设置 the chunk settings (step 1)',
  chunks: '分块 the chunks (step 1)',
  queries: '查询 the queries (step 2)',
  mining: '挖掘设置 the mining settings (step 3)',
  dataset: '训练集 the training set (step 3)',
  model: '模型 the model (step 4)',
  maxLength: '最大长度 the max length (step 4)',
  groupSize: '组大小 the group size (step 4)',
  loss: '损失 the loss (step 6)',
  trainSettings: '训练设置 the training settings (step 6)',
  train: '训练结果 the training run (step 6)',
  sweepSettings: '搜索网格 the sweep grid',
};

/** A JSON value with object keys sorted, so equal settings always give equal fingerprints. */
export function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'undefined';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
    .join(',')}}`;
}

export const fingerprintOf = (v: unknown): string => hash53Hex(stableJson(v));

/** The corpus: each document's source and content hash (from ingest), in order. */
export function corpusFingerprint(docs: readonly { source: string; hash: string }[]): string {
  return docs.length ? hash53Hex(docs.map((d) => `${d.source}\u0000${d.hash}`).join('\u0001')) : '';
}

/** Chunks: ids encode source and offsets, so ids plus text lengths change whenever the chunks do. */
export function chunksFingerprint(chunks: readonly { id: string; text: string }[]): string {
  return chunks.length ? hash53Hex(chunks.map((c) => `${c.id}:${c.text.length}:${hash53Hex(c.text)}`).join(',')) : '';
}

/** Queries, edits included. */
export function queriesFingerprint(queries: readonly { chunk_id: string; query: string }[]): string {
  return queries.length ? hash53Hex(queries.map((q) => `${q.chunk_id}\u0000${q.query}`).join('\u0001')) : '';
}

/** The identity of a result made from `from`: deterministic steps made again from the same inputs keep theirs. */
export const resultId = (from: Fingerprints): string => fingerprintOf(from);

export interface StaleReason {
  input: InputName;
  /** 'changed': the input differs from the one the result was made from; 'stale': it is a result out of date. */
  kind: 'changed' | 'stale';
}

/**
 * Why `result` is out of date ([] when it is up to date, or when it was never made). `current` holds the
 * fingerprints of the inputs as they are now (for results: their ids).
 */
export function staleReasons(result: ResultName, made: Made, current: Fingerprints): StaleReason[] {
  const from = made[result];
  if (!from) return [];
  const out: StaleReason[] = [];
  // DEPENDS is acyclic (each result depends on earlier ones only), so the recursion ends
  for (const input of DEPENDS[result]) {
    if ((from[input] ?? '') !== (current[input] ?? '')) out.push({ input, kind: 'changed' });
    else {
      const upstream = RESULT_OF[input];
      if (upstream && staleReasons(upstream, made, current).length) out.push({ input, kind: 'stale' });
    }
  }
  return out;
}

/** The reasons in words: "made from other documents; the training set is out of date". */
export function describeStale(reasons: readonly StaleReason[]): string {
  const changed = reasons.filter((r) => r.kind === 'changed').map((r) => INPUT_LABELS[r.input]);
  const stale = reasons.filter((r) => r.kind === 'stale').map((r) => INPUT_LABELS[r.input]);
  const parts: string[] = [];
  if (changed.length) parts.push(`${changed.join(', ')} changed since it was made`);
  if (stale.length) parts.push(`${stale.join(', ')} ${stale.length > 1 ? 'are' : 'is'} out of date`);
  return parts.join('; ');
}

/** Records that `result` was made now from the current inputs it depends on. */
export function record(made: Made, result: ResultName, current: Fingerprints): Made {
  const from: Fingerprints = {};
  for (const input of DEPENDS[result]) from[input] = current[input] ?? '';
  return { ...made, [result]: from };
}
