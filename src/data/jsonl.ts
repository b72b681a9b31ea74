// JSON Lines for the three artefacts, with validation that names the line and the field.
//   chunks:   {"id": str, "text": str, "source": str, "start": int, "end": int}
//   queries:  {"query": str, "chunk_id": str, "answers"?: [str], "origin"?: str}
//   training: FlagEmbedding's {"query": str, "pos": [str], "neg": [str]}
// We write UTF-8. Read files come from anywhere, so decodeJsonl() detects the encoding: a BOM (UTF-8, UTF-16 LE/BE),
// UTF-16 without one (NUL bytes), UTF-8, or GB18030/GBK when no line with non-ASCII bytes is UTF-8 and the whole file
// is valid GB18030; otherwise UTF-8, and each line that is not valid UTF-8 is refused by number (never U+FFFD).
// An empty query, positive, negative or chunk text is refused (the line is skipped and counted).

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

export type JsonlEncoding = 'utf-8' | 'utf-8-bom' | 'utf-16le' | 'utf-16be' | 'gb18030';

export interface DecodedJsonl {
  text: string;
  encoding: JsonlEncoding;
  /** Lines (1-based) that are not valid in the file's encoding: parseJsonl reports them instead of parsing them. */
  badLines: Map<number, string>;
}

const strict = (label: string) => new TextDecoder(label, { fatal: true, ignoreBOM: true });
const tryDecode = (label: string, b: Uint8Array): string | undefined => {
  try {
    return strict(label).decode(b);
  } catch {
    return undefined;
  }
};

/** UTF-16 without a BOM: JSON text is mostly ASCII, so every other byte is NUL. */
function utf16Guess(b: Uint8Array): 'utf-16le' | 'utf-16be' | undefined {
  const n = Math.min(b.length, 4096) & ~1;
  if (n < 4) return undefined;
  let even = 0;
  let odd = 0;
  for (let i = 0; i < n; i += 2) {
    if (b[i] === 0) even++;
    if (b[i + 1] === 0) odd++;
  }
  if (odd > n / 4 && even < n / 50) return 'utf-16le';
  if (even > n / 4 && odd < n / 50) return 'utf-16be';
  return undefined;
}

/** Offset of the first byte that does not start a valid UTF-8 sequence. */
function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    const n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!n || tryDecode('utf-8', b.subarray(i, i + n)) === undefined) return i;
    i += n;
  }
  return 0;
}

const hexOf = (b: Uint8Array) => Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(' ');

/** Decodes a JSON Lines file's bytes (see the header for the rules). */
export function decodeJsonl(bytes: Uint8Array): DecodedJsonl {
  const none = new Map<number, string>();
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { text: new TextDecoder('utf-8').decode(bytes.subarray(3)), encoding: 'utf-8-bom', badLines: none };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { text: new TextDecoder('utf-16le', { ignoreBOM: true }).decode(bytes.subarray(2)), encoding: 'utf-16le', badLines: none };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { text: new TextDecoder('utf-16be', { ignoreBOM: true }).decode(bytes.subarray(2)), encoding: 'utf-16be', badLines: none };
  const u16 = utf16Guess(bytes);
  if (u16) return { text: new TextDecoder(u16).decode(bytes), encoding: u16, badLines: none };
  const whole = tryDecode('utf-8', bytes);
  if (whole !== undefined) return { text: whole, encoding: 'utf-8', badLines: none };
  // Not UTF-8 as a whole: line by line. Any non-ASCII line that is valid UTF-8 means the file is UTF-8 with bad
  // lines (GBK pasted into UTF-8, a torn write); none means a legacy encoding, GB18030 when it decodes cleanly.
  const lines: Uint8Array[] = [];
  for (let at = 0; at <= bytes.length; ) {
    let end = bytes.indexOf(0x0a, at);
    if (end < 0) end = bytes.length;
    lines.push(bytes.subarray(at, end));
    at = end + 1;
  }
  const nonAscii = (l: Uint8Array) => l.some((x) => x >= 0x80);
  const anyUtf8 = lines.some((l) => nonAscii(l) && tryDecode('utf-8', l) !== undefined);
  if (!anyUtf8) {
    const gb = tryDecode('gb18030', bytes);
    if (gb !== undefined) return { text: gb, encoding: 'gb18030', badLines: none };
  }
  const badLines = new Map<number, string>();
  const text = lines
    .map((l, i) => {
      const t = tryDecode('utf-8', l);
      if (t !== undefined) return t;
      const at = firstInvalidUtf8(l);
      badLines.set(i + 1, `not valid UTF-8 (byte ${at}: ${hexOf(l.subarray(at))} …; GBK? the rest of the file is UTF-8): re-save the file as UTF-8`);
      return '';
    })
    .join('\n');
  return { text, encoding: 'utf-8', badLines };
}

/** Parses JSON Lines; bad lines are reported (with their number) and skipped, never fatal. */
export function parseJsonl<T>(input: string | DecodedJsonl, check: (v: unknown) => T | string): { items: T[]; errors: LineError[] } {
  const items: T[] = [];
  const errors: LineError[] = [];
  const text = typeof input === 'string' ? input : input.text;
  const badLines = typeof input === 'string' ? undefined : input.badLines;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const bad = badLines?.get(i + 1);
    if (bad) {
      errors.push({ line: i + 1, message: bad });
      continue;
    }
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
  if (!(v.text as string).trim()) return 'field "text" is empty';
  return { id: v.id as string, text: v.text as string, source: v.source as string, start: v.start as number, end: v.end as number };
}

export function checkQuery(v: unknown): QueryRecord | string {
  if (!isObj(v)) return 'expected an object {"query","chunk_id"}';
  if (typeof v.query !== 'string') return 'field "query" must be a string';
  if (!v.query.trim()) return 'field "query" is empty';
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
  if (!v.query.trim()) return 'field "query" is empty';
  for (const k of ['pos', 'neg'] as const) {
    if (!Array.isArray(v[k]) || !(v[k] as unknown[]).every((s) => typeof s === 'string')) return `field "${k}" must be a list of strings`;
    const empty = (v[k] as string[]).findIndex((s) => !s.trim());
    if (empty >= 0) return `field "${k}" holds an empty text (${k}[${empty}])`;
  }
  return { query: v.query, pos: v.pos as string[], neg: v.neg as string[] };
}
