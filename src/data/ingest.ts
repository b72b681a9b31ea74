// Ingest: sources (a folder in Node, dropped files in the page) → plain-text documents, plus a report that lists
// every file with what happened to it. One bad file never stops the run: its error lands in the report — also what
// the folder walk could not read (unreadable folders, symbolic links to folders, FIFOs; see source-node.ts).
// .docx parts are size-checked before extraction; in Node, .docx/.pdf extraction runs in a thread with a heap limit
// (extract-pool-node.ts) passed as `extractBinary`, so a file that exhausts memory fails alone.

import { decodeSource, binaryReason, type TextEncodingName } from './decode.ts';
import {
  ExtractSkip,
  csvDocs,
  docxText,
  formatOf,
  htmlToText,
  jsonDocs,
  jsonlDocs,
  pdfText,
  SUPPORTED_EXTENSIONS,
  type ExtractOptions,
  type ExtractedDoc,
  type Format,
} from './extract.ts';
import { normaliseForDedupe, sha256Hex } from './hash.ts';
import { dropRepeatedLines, dropRunningLines, markdownToText } from './boilerplate.ts';
import { readAll, readHead, type SourceFile } from './source.ts';
import { throwIfAborted, type LongRunning } from '../util/progress.ts';

export interface IngestOptions extends ExtractOptions, LongRunning {
  /** Files larger than this are skipped (default 1 GiB for text, 200 MiB for docx/pdf which load whole). */
  maxBytes?: number;
  /** Read files with unknown extensions as plain text when they do not look binary (default false: skip them). */
  unknownAsText?: boolean;
  /** Extracts a .docx/.pdf elsewhere (Node: a memory-limited thread); default: here, with docxText/pdfText. */
  extractBinary?: (format: 'docx' | 'pdf', bytes: Uint8Array) => Promise<string>;
}

export interface IngestedDoc {
  /** File path relative to the root, plus '#n' for a record of a .json/.jsonl/.csv file. */
  source: string;
  /** Decoded text: CRLF → LF, NFC. Chunk offsets index into this string. */
  text: string;
  format: Format;
  encoding?: TextEncodingName;
  /** SHA-256 of the whitespace-normalised text (exact-duplicate key). */
  hash: string;
}

export type IngestStatus = 'ok' | 'skipped' | 'failed';

export interface IngestFileReport {
  path: string;
  status: IngestStatus;
  /** Why a file was skipped or failed, or notes (lossy decoding, bad records) for an ok file. */
  reason?: string;
  format?: Format;
  encoding?: TextEncodingName;
  bytes: number;
  documents: number;
  chars: number;
}

export interface IngestReport {
  files: IngestFileReport[];
  ok: number;
  skipped: number;
  failed: number;
  documents: number;
  chars: number;
  /** Skip/failure reasons with how many files each. */
  reasons: Record<string, number>;
}

export interface IngestResult {
  docs: IngestedDoc[];
  report: IngestReport;
}

const BINARY_FORMATS: ReadonlySet<Format> = new Set(['docx', 'pdf']);

function tidy(text: string): string {
  return text.replace(/\r\n?/g, '\n').normalize('NFC');
}

async function extract(src: SourceFile, format: Format, opts: IngestOptions): Promise<{ docs: ExtractedDoc[]; encoding?: TextEncodingName; notes: string[]; raw?: string }> {
  if (format === 'docx') return { docs: [{ suffix: '', text: opts.extractBinary ? await opts.extractBinary('docx', await readAll(src)) : await docxText(await readAll(src)) }], notes: [] };
  if (format === 'pdf') {
    const text = dropRunningLines(opts.extractBinary ? await opts.extractBinary('pdf', await readAll(src)) : await pdfText(await readAll(src))).text;
    return { docs: [{ suffix: '', text }], notes: text ? [] : ['no text layer (scanned PDF? run OCR first)'] };
  }
  const head = await readHead(src);
  const bin = binaryReason(head);
  if (bin) throw new SkipError(bin);
  const dec = await decodeSource(src, head, opts.signal);
  const notes = dec.lossy ? ['bytes valid in no supported encoding were replaced with U+FFFD'] : [];
  const text = dec.text;
  let out: { docs: ExtractedDoc[]; problems: string[] };
  switch (format) {
    case 'html':
      out = { docs: [{ suffix: '', text: htmlToText(text) }], problems: [] };
      break;
    case 'markdown':
      out = { docs: [{ suffix: '', text: markdownToText(text) }], problems: [] };
      break;
    case 'json':
      out = jsonDocs(text, opts.jsonField ?? 'text');
      break;
    case 'jsonl':
      out = jsonlDocs(text, opts.jsonField ?? 'text');
      break;
    case 'csv':
      out = csvDocs(text, opts.csvColumn ?? 'text');
      break;
    default:
      out = { docs: [{ suffix: '', text }], problems: [] };
  }
  return { docs: out.docs, encoding: dec.encoding, notes: [...notes, ...out.problems], raw: text };
}

class SkipError extends Error {}

/** Lines that recur across the web pages and Markdown files of one ingest (menus, footers) leave their documents. */
function dropSiteBoilerplate(docs: IngestedDoc[], files: IngestFileReport[]): void {
  const web = docs.filter((d) => d.format === 'html' || d.format === 'markdown');
  const texts = web.map((d) => d.text);
  const removed = dropRepeatedLines(texts);
  web.forEach((d, i) => {
    if (!removed[i]) return;
    const entry = files.find((f) => f.path === d.source);
    if (entry) {
      entry.chars += texts[i].length - d.text.length;
      entry.reason = [entry.reason, `${removed[i]} boilerplate line(s) repeated across pages removed`].filter(Boolean).join('; ');
    }
    d.text = texts[i];
  });
}

function reasonKey(reason: string): string {
  return reason.replace(/ \(.*$/, '').replace(/ of .*$/, '');
}

/** Ingests every source, in order. Progress counts bytes so one huge file still moves the bar. */
export async function ingest(sources: readonly SourceFile[], opts: IngestOptions = {}): Promise<IngestResult> {
  const docs: IngestedDoc[] = [];
  const files: IngestFileReport[] = [];
  const seen = new Map<string, string>(); // dedupe hash → first source
  const totalBytes = sources.reduce((s, f) => s + f.size, 0);
  let doneBytes = 0;
  for (const src of sources) {
    throwIfAborted(opts.signal);
    opts.onProgress?.({ stage: 'ingest', done: doneBytes, total: totalBytes, detail: src.path });
    const entry: IngestFileReport = { path: src.path, status: 'ok', bytes: src.size, documents: 0, chars: 0 };
    files.push(entry);
    const skip = (reason: string, status: IngestStatus = 'skipped') => {
      entry.status = status;
      entry.reason = reason;
    };
    if (src.problem) {
      skip(src.problem.reason, src.problem.status);
      continue;
    }
    try {
      let format = formatOf(src.path);
      if (!format) {
        if (!opts.unknownAsText) {
          skip(`unsupported extension (supported: ${SUPPORTED_EXTENSIONS.join(', ')})`);
          continue;
        }
        format = 'text';
      }
      entry.format = format;
      const limit = opts.maxBytes ?? (BINARY_FORMATS.has(format) ? 200 << 20 : 1 << 30);
      if (src.size === 0) {
        skip('empty file');
        continue;
      }
      if (src.size > limit) {
        skip(`too large (${src.size} bytes > ${limit}; raise maxBytes to include it)`);
        continue;
      }
      const { docs: parts, encoding, notes, raw } = await extract(src, format, opts);
      entry.encoding = encoding;
      const dupes: string[] = [];
      // a whole file is also known by its decoded text before extraction: the same bytes as a .md and a .txt are one
      // document even though Markdown loses its marks
      const rawHash = raw !== undefined && parts.length === 1 && parts[0].suffix === '' ? await sha256Hex(normaliseForDedupe(tidy(raw))) : undefined;
      for (const part of parts) {
        const text = tidy(part.text);
        const norm = normaliseForDedupe(text);
        if (!norm) continue;
        const hash = await sha256Hex(norm);
        const first = seen.get(hash) ?? (rawHash ? seen.get(rawHash) : undefined);
        const source = src.path + part.suffix;
        if (first !== undefined) {
          dupes.push(first);
          continue;
        }
        seen.set(hash, source);
        if (rawHash) seen.set(rawHash, source);
        docs.push({ source, text, format, encoding, hash });
        entry.documents++;
        entry.chars += text.length;
      }
      if (entry.documents === 0) {
        if (dupes.length) skip(`duplicate of ${dupes[0]}`);
        else skip(notes.length ? `no text: ${notes.join('; ')}` : 'empty (no text after extraction)');
      } else {
        const extra = [...(src.note ? [src.note] : []), ...notes];
        if (dupes.length) extra.push(`${dupes.length} duplicate record(s) dropped`);
        if (extra.length) entry.reason = extra.join('; ');
      }
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      if (e instanceof SkipError || e instanceof ExtractSkip) skip(e.message);
      else skip(`could not read: ${(e as Error).message}`, 'failed');
    } finally {
      doneBytes += src.size;
    }
  }
  opts.onProgress?.({ stage: 'ingest', done: totalBytes, total: totalBytes });
  dropSiteBoilerplate(docs, files);
  const reasons: Record<string, number> = {};
  for (const f of files) if (f.status !== 'ok' && f.reason) reasons[reasonKey(f.reason)] = (reasons[reasonKey(f.reason)] ?? 0) + 1;
  return {
    docs,
    report: {
      files,
      ok: files.filter((f) => f.status === 'ok').length,
      skipped: files.filter((f) => f.status === 'skipped').length,
      failed: files.filter((f) => f.status === 'failed').length,
      documents: docs.length,
      chars: docs.reduce((s, d) => s + d.text.length, 0),
      reasons,
    },
  };
}
