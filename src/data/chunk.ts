// Chunking that respects Chinese and English sentence ends, with a size in characters or model tokens and a
// sentence-aligned overlap. Every chunk keeps its source and [start, end) character offsets into the document text;
// its `text` is that span with OCR line breaks inside sentences joined (改动市\n政燃气设\n施 → 改动市政燃气设施).

import { hash53Hex } from './hash.ts';
import { throwIfAborted, type LongRunning } from '../util/progress.ts';

export interface Chunk {
  id: string;
  /** Text for the model (OCR breaks joined). */
  text: string;
  source: string;
  /** Offsets into the source document's text: text came from doc.text.slice(start, end). */
  start: number;
  end: number;
}

export interface ChunkOptions {
  /** Target chunk size (default 300) in `unit`s. */
  size?: number;
  /** How much of the previous chunk the next one repeats, in `unit`s, aligned to sentence starts (default 50). */
  overlap?: number;
  unit?: 'chars' | 'tokens';
  /** Token counter for unit 'tokens' (e.g. the model tokenizer's encode().length). */
  countTokens?: (text: string) => number;
  /** Chunks shorter than this (in characters) are merged into their neighbour or dropped (default 10). */
  minChars?: number;
  /** Join line breaks inside sentences in the chunk text (default true). */
  joinLineBreaks?: boolean;
}

const CJK = /[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]/;
const ENDERS = '。！？；…!?;';
const CLOSERS = '”’」』）)]】"\'';

/** Sentence spans [start, end) covering the text (line breaks inside a sentence do not end it). */
export function sentenceSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  let s = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i];
    let cut = -1;
    if (ENDERS.includes(c)) {
      let j = i + 1;
      while (j < n && (ENDERS.includes(text[j]) || CLOSERS.includes(text[j]))) j++;
      cut = j;
    } else if (c === '.') {
      // an English full stop: followed by space/end, not inside a number (3.14) or an abbreviation run (e.g.)
      const next = text[i + 1];
      if (next === undefined || next === ' ' || next === '\n' || next === '\t') {
        let j = i + 1;
        while (j < n && CLOSERS.includes(text[j])) j++;
        cut = j;
      }
    } else if (c === '\n' && (text[i + 1] === '\n' || i === n - 1)) {
      let j = i + 1;
      while (j < n && text[j] === '\n') j++;
      cut = j;
    }
    if (cut > s) {
      spans.push([s, cut]);
      s = cut;
      i = cut - 1;
    }
  }
  if (s < n) spans.push([s, n]);
  return spans;
}

/**
 * Joins line breaks that sit inside a sentence (typical of OCR and PDF text): removed between CJK characters,
 * a space between Latin words; kept after a sentence end or colon and for blank lines.
 */
export function joinLineBreaks(text: string): string {
  return text.replace(/([^\n])[ \t]*\n[ \t]*(?=[^\n])/g, (m, prev: string, offset: number) => {
    if (ENDERS.includes(prev) || CLOSERS.includes(prev) || prev === '：' || prev === ':') return m;
    const next = text[offset + m.length];
    if (CJK.test(prev) || CJK.test(next)) return prev;
    if (prev === '-' && /[A-Za-z]/.test(next)) return prev.slice(0, -1) || '';
    return prev + ' ';
  });
}

function trimSpan(text: string, s: number, e: number): [number, number] {
  while (s < e && /\s/.test(text[s])) s++;
  while (e > s && /\s/.test(text[e - 1])) e--;
  return [s, e];
}

/** Splits one span longer than `max` characters, preferring commas and spaces near the limit. */
function hardSplit(text: string, s: number, e: number, max: number): [number, number][] {
  const out: [number, number][] = [];
  while (e - s > max) {
    let cut = s + max;
    for (let j = s + max; j > s + max / 2; j--) {
      if ('，,、 \n'.includes(text[j - 1])) {
        cut = j;
        break;
      }
    }
    out.push([s, cut]);
    s = cut;
  }
  out.push([s, e]);
  return out;
}

export function chunkId(source: string, start: number, end: number): string {
  return hash53Hex(`${source}\u0000${start}\u0000${end}`);
}

/** Chunks one document. */
export function chunkText(source: string, text: string, opts: ChunkOptions = {}): Chunk[] {
  const size = opts.size ?? 300;
  const overlap = Math.max(0, Math.min(opts.overlap ?? 50, size - 1));
  const minChars = opts.minChars ?? 10;
  const measure = opts.unit === 'tokens' ? opts.countTokens : undefined;
  if (opts.unit === 'tokens' && !measure) throw new Error("Chunk unit 'tokens' needs countTokens (the model tokenizer); or use unit 'chars'.");
  if (!(size > 0)) throw new Error(`Chunk size must be positive (got ${size}).`);
  const len = (s: number, e: number) => (measure ? measure(text.slice(s, e)) : e - s);
  // Sentence units, none longer than the size (by characters: a token is at least one character).
  const units: [number, number][] = [];
  for (const [s, e] of sentenceSpans(text)) {
    const l = len(s, e);
    if (l <= size) units.push([s, e]);
    else units.push(...hardSplit(text, s, e, measure ? Math.max(1, Math.floor(((e - s) * size) / l)) : size));
  }
  const ul = units.map(([s, e]) => len(s, e));
  const chunks: Chunk[] = [];
  let i = 0;
  while (i < units.length) {
    let j = i;
    let total = 0;
    while (j < units.length && (j === i || total + ul[j] <= size)) total += ul[j++];
    const [s, e] = trimSpan(text, units[i][0], units[j - 1][1]);
    if (e - s >= minChars || (chunks.length === 0 && j >= units.length && e > s)) {
      const body = opts.joinLineBreaks === false ? text.slice(s, e) : joinLineBreaks(text.slice(s, e));
      chunks.push({ id: chunkId(source, s, e), text: body, source, start: s, end: e });
    }
    if (j >= units.length) break;
    // next chunk starts at the earliest unit whose tail up to j fits in the overlap, but always moves forward
    let k = j;
    let back = 0;
    while (k - 1 > i && back + ul[k - 1] <= overlap) back += ul[--k];
    i = k;
  }
  return chunks;
}

/** Chunks many documents, reporting progress per document. */
export function chunkDocuments(docs: readonly { source: string; text: string }[], opts: ChunkOptions & LongRunning = {}): Chunk[] {
  const out: Chunk[] = [];
  docs.forEach((d, n) => {
    throwIfAborted(opts.signal);
    if ((n & 63) === 0) opts.onProgress?.({ stage: 'chunk', done: n, total: docs.length, detail: d.source });
    for (const c of chunkText(d.source, d.text, opts)) out.push(c);
  });
  opts.onProgress?.({ stage: 'chunk', done: docs.length, total: docs.length });
  return out;
}
