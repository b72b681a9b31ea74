// Import of existing (query, positive) pairs from JSON Lines or CSV. A pair names its positive either by chunk id
// (`chunk_id`) or by text (`positive` / `pos` / `text` / `passage`; a FlagEmbedding `pos` list takes its first
// item). A positive text is matched to a chunk with the same text, else to the chunk that contains it; a text no
// chunk holds becomes a new chunk (source 'import:<file>') so the pair is not lost.

import { chunkId, type Chunk } from './chunk.ts';
import { normaliseForDedupe } from './hash.ts';
import { parseCsv } from './extract.ts';
import type { DecodedJsonl, LineError, QueryRecord } from './jsonl.ts';

export interface ImportResult {
  queries: QueryRecord[];
  /** Positives that matched no chunk, added as chunks (spanning the chunks they contain, when they do). */
  newChunks: Chunk[];
  errors: LineError[];
  /** Pairs per way of matching; `added` counts pairs whose positive is a new chunk. */
  matched: { byId: number; byText: number; contained: number; added: number };
}

const TEXT_FIELDS = ['positive', 'pos', 'text', 'passage', 'document', 'doc', 'context'];
const QUERY_FIELDS = ['query', 'question', 'q'];

function rowsOf(text: string, name: string): { row: Record<string, unknown>; line: number }[] | LineError[] {
  if (/\.csv$|\.tsv$/i.test(name)) {
    const { rows } = parseCsv(text);
    if (rows.length < 2) return [{ line: 1, message: 'CSV needs a header row and at least one pair' }];
    const head = rows[0].map((h) => h.trim().toLowerCase());
    return rows.slice(1).map((r, i) => ({ row: Object.fromEntries(head.map((h, j) => [h, r[j]])), line: i + 2 }));
  }
  const out: { row: Record<string, unknown>; line: number }[] = [];
  text.split('\n').forEach((l, i) => {
    if (!l.trim()) return;
    try {
      const v = JSON.parse(l);
      out.push({ row: v && typeof v === 'object' ? v : {}, line: i + 1 });
    } catch {
      out.push({ row: { __bad: true }, line: i + 1 });
    }
  });
  return out;
}

/** `input`: the file's text, or its bytes decoded by decodeJsonl (lines it could not decode come back as errors). */
export function importPairs(input: string | DecodedJsonl, fileName: string, chunks: readonly Chunk[]): ImportResult {
  const res: ImportResult = { queries: [], newChunks: [], errors: [], matched: { byId: 0, byText: 0, contained: 0, added: 0 } };
  const text = typeof input === 'string' ? input : input.text;
  if (typeof input !== 'string') for (const [line, message] of input.badLines) res.errors.push({ line, message });
  const rows = rowsOf(text, fileName);
  if (rows.length && 'message' in rows[0]) {
    res.errors.push(...(rows as LineError[]));
    return res;
  }
  const ids = new Set(chunks.map((c) => c.id));
  const byText = new Map<string, string>();
  const newIds = new Set<string>();
  for (const c of chunks) byText.set(normaliseForDedupe(c.text), c.id);
  for (const { row, line } of rows as { row: Record<string, unknown>; line: number }[]) {
    if (row.__bad) {
      res.errors.push({ line, message: 'not valid JSON' });
      continue;
    }
    const qf = QUERY_FIELDS.find((f) => typeof row[f] === 'string');
    if (!qf) {
      res.errors.push({ line, message: `no query field (one of ${QUERY_FIELDS.join(', ')})` });
      continue;
    }
    const query = String(row[qf]);
    if (!query.trim()) {
      res.errors.push({ line, message: `field "${qf}" is empty` });
      continue;
    }
    const answers = Array.isArray(row.answers) ? row.answers.filter((a): a is string => typeof a === 'string') : undefined;
    const rec = (chunk_id: string): QueryRecord => ({ query, chunk_id, origin: 'import', ...(answers ? { answers } : {}) });
    const id = row.chunk_id ?? row.chunkId;
    if (typeof id === 'string' || typeof id === 'number') {
      if (ids.has(String(id))) {
        res.queries.push(rec(String(id)));
        res.matched.byId++;
      } else res.errors.push({ line, message: `chunk_id '${id}' is not in the chunks file` });
      continue;
    }
    const tf = TEXT_FIELDS.find((f) => typeof row[f] === 'string' || (Array.isArray(row[f]) && typeof (row[f] as unknown[])[0] === 'string'));
    if (!tf) {
      res.errors.push({ line, message: `no positive: give chunk_id or one of ${TEXT_FIELDS.join(', ')}` });
      continue;
    }
    const pos = String(Array.isArray(row[tf]) ? (row[tf] as unknown[])[0] : row[tf]);
    if (!pos.trim()) {
      res.errors.push({ line, message: `field "${tf}" is empty` });
      continue;
    }
    const key = normaliseForDedupe(pos);
    const exact = byText.get(key);
    if (exact) {
      res.queries.push(rec(exact));
      if (newIds.has(exact)) res.matched.added++;
      else res.matched.byText++;
      continue;
    }
    const holder = key.length >= 8 ? chunks.find((c) => normaliseForDedupe(c.text).includes(key)) : undefined;
    if (holder) {
      res.queries.push(rec(holder.id));
      res.matched.contained++;
      continue;
    }
    // A positive longer than one chunk (a whole paragraph) usually holds several chunks of one document: the new
    // chunk then takes their source and span, so the mining overlap guard keeps those pieces out of its negatives.
    const parts = key.length >= 8 ? chunks.filter((c) => key.includes(normaliseForDedupe(c.text))) : [];
    const home = parts.filter((c) => c.source === parts[0]?.source);
    const c: Chunk = home.length
      ? { id: chunkId(home[0].source, Math.min(...home.map((h) => h.start)), Math.max(...home.map((h) => h.end))), text: pos, source: home[0].source, start: Math.min(...home.map((h) => h.start)), end: Math.max(...home.map((h) => h.end)) }
      : { id: chunkId(`import:${fileName}`, line, pos.length), text: pos, source: `import:${fileName}#${line}`, start: 0, end: pos.length };
    res.newChunks.push(c);
    byText.set(key, c.id);
    newIds.add(c.id);
    ids.add(c.id);
    res.queries.push(rec(c.id));
    res.matched.added++;
  }
  return res;
}
