// The corpus as the documents step manages it: folders dropped one after another add up (or replace, on request),
// files can be left out, chunks per file can be capped, and files that would dominate the corpus are flagged
// before anyone pays for their queries (issue 8, item 9). Pure functions; the page calls them.

import type { Chunk } from '../../data/chunk.ts';
import type { IngestedDoc, IngestFileReport, IngestReport } from '../../data/ingest.ts';

export type AddMode = 'add' | 'replace';

/** Which files are left out and how many chunks a file may give at most (0: no cap). */
export interface FileChoice {
  excluded: string[];
  capPerFile: number;
}

export const defaultFileChoice = (): FileChoice => ({ excluded: [], capPerFile: 0 });

/** The file a document came from: records of .json/.jsonl/.csv files are 'path#n'. */
export const fileOf = (source: string): string => source.replace(/#[^/#]*$/, '');

export interface MergeResult {
  docs: IngestedDoc[];
  /** Files of the new drop that replaced a file of the same path. */
  replaced: string[];
  /** New documents dropped because the corpus already holds the same text (under another path). */
  duplicates: { source: string; of: string }[];
}

/**
 * The corpus after a drop: 'replace' keeps only the new documents; 'add' keeps the old ones, replaces files dropped
 * again under the same path, and skips new documents whose text the corpus already holds.
 */
export function mergeDocs(old: readonly IngestedDoc[], incoming: readonly IngestedDoc[], mode: AddMode): MergeResult {
  if (mode === 'replace') return { docs: [...incoming], replaced: [], duplicates: [] };
  const newFiles = new Set(incoming.map((d) => fileOf(d.source)));
  const kept = old.filter((d) => !newFiles.has(fileOf(d.source)));
  const replaced = [...new Set(old.filter((d) => newFiles.has(fileOf(d.source))).map((d) => fileOf(d.source)))];
  const byHash = new Map(kept.map((d) => [d.hash, d.source]));
  const docs = [...kept];
  const duplicates: MergeResult['duplicates'] = [];
  for (const d of incoming) {
    const of = byHash.get(d.hash);
    if (of !== undefined) duplicates.push({ source: d.source, of });
    else {
      byHash.set(d.hash, d.source);
      docs.push(d);
    }
  }
  return { docs, replaced, duplicates };
}

/** The ingest report over every drop: the new drop's files replace earlier entries of the same path. */
export function mergeReports(old: IngestReport | undefined, incoming: IngestReport, mode: AddMode, duplicates: MergeResult['duplicates'] = []): IngestReport {
  const dup = new Map<string, string>();
  for (const d of duplicates) dup.set(fileOf(d.source), fileOf(d.of));
  const fresh: IngestFileReport[] = incoming.files.map((f) => {
    const of = dup.get(f.path);
    return of && f.status === 'ok' ? { ...f, status: 'skipped', reason: `duplicate of ${of} (already in the corpus)`, documents: 0 } : f;
  });
  const paths = new Set(fresh.map((f) => f.path));
  const files = mode === 'replace' || !old ? fresh : [...old.files.filter((f) => !paths.has(f.path)), ...fresh];
  const ok = files.filter((f) => f.status === 'ok');
  const reasons: Record<string, number> = {};
  for (const f of files) {
    if (f.status === 'ok' || !f.reason) continue;
    const key = f.reason.replace(/ \(.*$/, '').replace(/ of .*$/, '');
    reasons[key] = (reasons[key] ?? 0) + 1;
  }
  return {
    files,
    ok: ok.length,
    skipped: files.filter((f) => f.status === 'skipped').length,
    failed: files.filter((f) => f.status === 'failed').length,
    documents: ok.reduce((s, f) => s + f.documents, 0),
    chars: ok.reduce((s, f) => s + f.chars, 0),
    reasons,
  };
}

/** Up to `cap` chunks of one file, spread evenly over it (so a capped file is still sampled from start to end). */
export function spread<T>(items: readonly T[], cap: number): T[] {
  if (cap <= 0 || items.length <= cap) return [...items];
  const out: T[] = [];
  for (let i = 0; i < cap; i++) out.push(items[Math.floor((i * items.length) / cap)]);
  return out;
}

/** The chunks that go on to the queries: excluded files left out, each file capped. Order is kept. */
export function selectChunks(all: readonly Chunk[], choice: FileChoice): Chunk[] {
  const excluded = new Set(choice.excluded);
  const byFile = new Map<string, Chunk[]>();
  for (const c of all) {
    const f = fileOf(c.source);
    if (excluded.has(f)) continue;
    let list = byFile.get(f);
    if (!list) byFile.set(f, (list = []));
    list.push(c);
  }
  const keep = new Set<Chunk>();
  for (const list of byFile.values()) for (const c of spread(list, choice.capPerFile)) keep.add(c);
  return all.filter((c) => keep.has(c));
}

export interface FileRow {
  file: string;
  documents: number;
  chars: number;
  /** Chunks the file gives with the current chunk settings. */
  chunks: number;
  /** Chunks it contributes after the choice (0 when left out). */
  kept: number;
  excluded: boolean;
}

/** One row per file of the corpus, with its chunk counts before and after the choice, in corpus order. */
export function fileRows(docs: readonly IngestedDoc[], all: readonly Chunk[], choice: FileChoice): FileRow[] {
  const excluded = new Set(choice.excluded);
  const rows = new Map<string, FileRow>();
  for (const d of docs) {
    const file = fileOf(d.source);
    const r = rows.get(file) ?? { file, documents: 0, chars: 0, chunks: 0, kept: 0, excluded: excluded.has(file) };
    r.documents++;
    r.chars += d.text.length;
    rows.set(file, r);
  }
  for (const c of all) {
    const r = rows.get(fileOf(c.source));
    if (r) r.chunks++;
  }
  for (const r of rows.values()) r.kept = r.excluded ? 0 : choice.capPerFile > 0 ? Math.min(r.chunks, choice.capPerFile) : r.chunks;
  return [...rows.values()];
}

const median = (xs: number[]): number => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export interface Outlier {
  file: string;
  chunks: number;
  /** Its share of the kept chunks. */
  share: number;
  message: string;
}

/**
 * Files that would dominate the queries: more than 10× the median file's chunks and over 100 chunks, or, with three
 * or more files, over 40% of all kept chunks. `secondsPerQuery` turns the count into a generation time.
 */
export function outliers(rows: readonly FileRow[], secondsPerQuery = 1): Outlier[] {
  const live = rows.filter((r) => !r.excluded && r.kept > 0);
  const total = live.reduce((s, r) => s + r.kept, 0);
  const med = median(live.map((r) => r.kept));
  const out: Outlier[] = [];
  for (const r of live) {
    const share = total ? r.kept / total : 0;
    const big = r.kept > 100 && r.kept > 10 * med;
    const dominant = live.length >= 3 && share > 0.4;
    if (!big && !dominant) continue;
    const hours = (r.kept * secondsPerQuery) / 3600;
    const time = hours >= 1 ? `${hours.toFixed(1)} h` : `${Math.ceil((r.kept * secondsPerQuery) / 60)} min`;
    out.push({
      file: r.file,
      chunks: r.kept,
      share,
      message: `${r.file} gives ${r.kept.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} chunks (${(share * 100).toFixed(0)}%; the median file gives ${med}): about ${time} of query generation at ${secondsPerQuery} s per query. Leave it out or cap chunks per file if it is not what the reranker should learn.`,
    });
  }
  return out;
}
