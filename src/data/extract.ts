// Turns a file's bytes or decoded text into plain text, by format. Records of .json/.jsonl/.csv become separate
// documents (`path#n`) so that the train/validation split can keep each record whole.

import { Unzip, UnzipInflate } from 'fflate';
import { Parser } from 'htmlparser2';
import Papa from 'papaparse';

export type Format = 'text' | 'markdown' | 'html' | 'json' | 'jsonl' | 'csv' | 'docx' | 'pdf';

export interface ExtractOptions {
  /** Field holding the text in .json/.jsonl records; dotted paths ('body.text') work. Default 'text'. */
  jsonField?: string;
  /** Column holding the text in .csv files (header name or 0-based index). Default 'text'. */
  csvColumn?: string | number;
}

export interface ExtractedDoc {
  /** Suffix for the source path of a record ('#3'); empty for whole-file documents. */
  suffix: string;
  text: string;
}

const EXT: Record<string, Format> = {
  txt: 'text',
  text: 'text',
  md: 'markdown',
  markdown: 'markdown',
  html: 'html',
  htm: 'html',
  json: 'json',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  csv: 'csv',
  docx: 'docx',
  pdf: 'pdf',
};

export function formatOf(path: string): Format | undefined {
  const m = /\.([A-Za-z0-9]+)$/.exec(path);
  return m ? EXT[m[1].toLowerCase()] : undefined;
}

export const SUPPORTED_EXTENSIONS = Object.keys(EXT);

// ---- HTML (htmlparser2: a real tokenizer, so `a < b` in text, `>` inside attributes, nested or unclosed elements
// and all HTML5 entities come out as a browser would read them) ----

/** Elements whose content is not text, or is site chrome (menus and footers are not content). */
// Not <form>: ASP.NET WebForms pages (most government sites) wrap the whole body in one; its controls go instead.
const SKIPPED = new Set(['script', 'style', 'noscript', 'template', 'svg', 'head', 'nav', 'footer', 'aside', 'menu', 'button', 'select', 'textarea', 'iframe']);
const BLOCKS = new Set(['p', 'div', 'section', 'article', 'li', 'ul', 'ol', 'tr', 'table', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'header', 'title', 'dd', 'dt']);

/**
 * Text of an HTML page without a DOM (works in Node and workers): block elements become line breaks, table cells
 * tabs. Site chrome (<nav>, <footer>, <aside>, <menu>, form controls, and <header> outside an <article>) is dropped; lines
 * every page repeats go later (dropRepeatedLines in boilerplate.ts).
 */
export function htmlToText(html: string): string {
  let text = '';
  let skipDepth = 0; // elements open inside a skipped one (the parser closes every element it opens)
  let articles = 0; // a <header> inside an <article> is the article's heading, not the site's
  // Only tags written in the page break lines (as before: an implied </p> or </li> adds none).
  const breakFor = (name: string) => (name === 'td' || name === 'th' ? '\t' : BLOCKS.has(name) ? '\n' : '');
  const parser = new Parser({
    onopentag(name) {
      if (skipDepth || SKIPPED.has(name) || (name === 'header' && !articles)) return void skipDepth++;
      if (name === 'article') articles++;
      text += name === 'br' ? '\n' : breakFor(name);
    },
    onclosetag(name, implied) {
      if (skipDepth) return void skipDepth--;
      if (name === 'article') articles--;
      if (!implied) text += breakFor(name);
    },
    ontext(t) {
      if (!skipDepth) text += t;
    },
  });
  parser.end(html);
  return text
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

// ---- JSON / JSONL ----

function pick(obj: unknown, field: string): unknown {
  let cur = obj;
  for (const k of field.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function recordText(rec: unknown, field: string): string | undefined {
  if (typeof rec === 'string') return rec;
  const v = pick(rec, field);
  return typeof v === 'string' ? v : undefined;
}

export function jsonDocs(text: string, field: string): { docs: ExtractedDoc[]; problems: string[] } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`not valid JSON (${(e as Error).message}); for one record per line name the file .jsonl`);
  }
  const list = Array.isArray(data) ? data : [data];
  const docs: ExtractedDoc[] = [];
  let missing = 0;
  list.forEach((rec, i) => {
    const t = recordText(rec, field);
    if (t === undefined) missing++;
    else docs.push({ suffix: list.length > 1 ? `#${i}` : '', text: t });
  });
  const problems = missing ? [`${missing} record(s) without a string field '${field}' (set the JSON field option)`] : [];
  return { docs, problems };
}

export function jsonlDocs(text: string, field: string): { docs: ExtractedDoc[]; problems: string[] } {
  const docs: ExtractedDoc[] = [];
  const problems: string[] = [];
  let missing = 0;
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const t = recordText(JSON.parse(line), field);
      if (t === undefined) missing++;
      else docs.push({ suffix: `#L${i + 1}`, text: t });
    } catch {
      problems.push(`line ${i + 1}: not valid JSON`);
    }
  });
  if (missing) problems.push(`${missing} line(s) without a string field '${field}' (set the JSON field option)`);
  return { docs, problems: problems.slice(0, 20) };
}

// ---- CSV (papaparse: RFC 4180 quotes, doubled quotes, line breaks inside quotes) ----

/** Tab-separated when the first line has more tabs than commas. */
function sniffDelimiter(text: string): ',' | '\t' {
  const firstLine = text.slice(0, text.indexOf('\n') >>> 0);
  return firstLine.split('\t').length > firstLine.split(',').length ? '\t' : ',';
}

/** Rows of a CSV/TSV file (blank lines dropped); malformed quoting is listed in `problems` by row. */
export function parseCsv(text: string, delimiter = sniffDelimiter(text)): { rows: string[][]; problems: string[] } {
  const { data, errors } = Papa.parse<string[]>(text, { delimiter, skipEmptyLines: true });
  const problems = errors.map((e) => `${e.row === undefined ? '' : `row ${e.row + 1}: `}${e.message}`);
  return { rows: data, problems: problems.slice(0, 20) };
}

export function csvDocs(text: string, column: string | number): { docs: ExtractedDoc[]; problems: string[] } {
  const { rows, problems } = parseCsv(text);
  if (!rows.length) return { docs: [], problems };
  let col = typeof column === 'number' ? column : rows[0].indexOf(column);
  let start = typeof column === 'number' ? 0 : 1;
  if (col < 0) {
    // no such header: a one-column file is still usable
    if (rows[0].length === 1) {
      col = 0;
      start = 0;
    } else {
      throw new Error(`no column '${column}' (columns: ${rows[0].slice(0, 10).join(', ')}); set the CSV column option`);
    }
  }
  const docs: ExtractedDoc[] = [];
  for (let r = start; r < rows.length; r++) {
    const t = rows[r][col];
    if (t && t.trim()) docs.push({ suffix: `#${r + 1}`, text: t });
  }
  return { docs, problems };
}

// ---- DOCX (mammoth) and PDF (pdfjs-dist) ----

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** An input extraction refuses by rule (not a failure of ours): the ingest report lists it as skipped. */
export class ExtractSkip extends Error {
  override name = 'ExtractSkip';
}

/** Inflated-size limits for a .docx's parts: mammoth holds several copies of the XML (100 MB of XML took 4.4 GB). */
export interface DocxLimits {
  /** Largest part after inflation (default 32 MiB: the document.xml of a 500-page report is ~10 MB). */
  maxPartBytes?: number;
  /** All parts together (default 64 MiB). */
  maxTotalBytes?: number;
}

/**
 * Inflates every part of a .docx (a zip) only to count its bytes, in 64 KiB input slices so a zip bomb is stopped
 * after at most ~64 MiB of output, whatever the sizes its headers claim. Throws ExtractSkip naming the part.
 */
export function checkDocxSizes(bytes: Uint8Array, limits: DocxLimits = {}): void {
  const maxPart = limits.maxPartBytes ?? 32 << 20;
  const maxTotal = limits.maxTotalBytes ?? 64 << 20;
  const mb = (n: number) => `${(n / (1 << 20)).toFixed(0)} MB`;
  let total = 0;
  const uz = new Unzip((file) => {
    let size = 0;
    if (file.originalSize !== undefined && file.originalSize > maxPart) {
      throw new ExtractSkip(`.docx part ${file.name} declares ${mb(file.originalSize)} uncompressed, more than the ${mb(maxPart)} limit (a zip bomb, or a document too large for one file: split it or save it as .txt)`);
    }
    file.ondata = (err, chunk) => {
      if (err) throw err;
      size += chunk.length;
      total += chunk.length;
      if (size > maxPart) throw new ExtractSkip(`.docx part ${file.name} inflates to more than ${mb(maxPart)} (a zip bomb, or a document too large for one file: split it or save it as .txt)`);
      if (total > maxTotal) throw new ExtractSkip(`.docx parts inflate to more than ${mb(maxTotal)} in all (a zip bomb, or a document too large for one file: split it or save it as .txt)`);
    };
    file.start();
  });
  uz.register(UnzipInflate);
  const SLICE = 64 << 10;
  for (let at = 0; at < bytes.length; at += SLICE) uz.push(bytes.subarray(at, Math.min(bytes.length, at + SLICE)), at + SLICE >= bytes.length);
}

export async function docxText(bytes: Uint8Array, limits?: DocxLimits): Promise<string> {
  checkDocxSizes(bytes, limits);
  const mammoth = (await import('mammoth')).default as {
    extractRawText(input: { buffer?: Uint8Array; arrayBuffer?: ArrayBuffer }): Promise<{ value: string }>;
  };
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  // mammoth's Node build reads `buffer`, its browser build `arrayBuffer`
  const res = await mammoth.extractRawText(isNode ? { buffer: bytes } : { arrayBuffer: ab });
  return res.value.replace(/\n{3,}/g, '\n\n').trim();
}

interface PdfTextItem {
  str?: string;
  hasEOL?: boolean;
}
interface PdfJs {
  getDocument(src: { data: Uint8Array; isEvalSupported?: boolean; useSystemFonts?: boolean; verbosity?: number }): {
    promise: Promise<{ numPages: number; getPage(n: number): Promise<{ getTextContent(): Promise<{ items: PdfTextItem[] }> }>; destroy(): Promise<void> }>;
  };
  GlobalWorkerOptions: { workerSrc: string };
}

let pdfjs: Promise<PdfJs> | undefined;

/** pdfjs-dist: the legacy build in Node (no DOM needed), the modern build with its worker URL in the page. */
function loadPdfjs(): Promise<PdfJs> {
  pdfjs ??= (async () => {
    if (isNode) {
      const spec = 'pdfjs-dist/legacy/build/pdf.mjs';
      return (await import(/* @vite-ignore */ spec)) as PdfJs;
    }
    const mod = (await import('pdfjs-dist')) as unknown as PdfJs;
    if (!mod.GlobalWorkerOptions.workerSrc) {
      mod.GlobalWorkerOptions.workerSrc = new URL('pdfjs-dist/build/pdf.worker.min.mjs', import.meta.url).href;
    }
    return mod;
  })();
  return pdfjs;
}

export async function pdfText(bytes: Uint8Array): Promise<string> {
  const lib = await loadPdfjs();
  // pdfjs may transfer (detach) the buffer it is given, so hand it a copy
  const doc = await lib.getDocument({ data: bytes.slice(), isEvalSupported: false, verbosity: 0 }).promise;
  const pages: string[] = [];
  try {
    for (let i = 1; i <= doc.numPages; i++) {
      const page = await doc.getPage(i);
      const content = await page.getTextContent();
      pages.push(content.items.map((it) => (it.str ?? '') + (it.hasEOL ? '\n' : '')).join(''));
    }
  } finally {
    await doc.destroy();
  }
  return pages.join('\n\n').trim();
}
