// Encoding and binary detection for text files, reading in pieces so a large file never sits in memory twice.
// Order: UTF-8 BOM, UTF-16 LE/BE BOM, then strict UTF-8, then strict GB18030 (a superset of GBK and GB2312:
// Chinese government files are often GBK). Only when no decoding fits the bytes does the output contain U+FFFD,
// and then the result says so.

import type { SourceFile } from './source.ts';
import { throwIfAborted } from '../util/progress.ts';

export type TextEncodingName = 'utf-8' | 'utf-8-bom' | 'utf-16le' | 'utf-16be' | 'gb18030' | 'utf-8-lossy';

export interface DecodedText {
  text: string;
  encoding: TextEncodingName;
  /** True when bytes had no valid decoding and were replaced with U+FFFD. */
  lossy: boolean;
}

// Magic numbers of common binary formats a user drops in by mistake (or renames to .txt).
const MAGIC: [string, number[]][] = [
  ['PNG image', [0x89, 0x50, 0x4e, 0x47]],
  ['JPEG image', [0xff, 0xd8, 0xff]],
  ['GIF image', [0x47, 0x49, 0x46, 0x38]],
  ['ZIP archive', [0x50, 0x4b, 0x03, 0x04]],
  ['PDF document', [0x25, 0x50, 0x44, 0x46, 0x2d]],
  ['gzip archive', [0x1f, 0x8b]],
  ['ELF executable', [0x7f, 0x45, 0x4c, 0x46]],
  ['Windows executable', [0x4d, 0x5a]],
  ['OLE2 (old Office) file', [0xd0, 0xcf, 0x11, 0xe0]],
  ['WebP/RIFF file', [0x52, 0x49, 0x46, 0x46]],
  ['7-Zip archive', [0x37, 0x7a, 0xbc, 0xaf]],
];

export function bomOf(head: Uint8Array): 'utf-8-bom' | 'utf-16le' | 'utf-16be' | undefined {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return 'utf-8-bom';
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  return undefined;
}

/** Why the first bytes of a file look binary, or undefined when they look like text. */
export function binaryReason(head: Uint8Array): string | undefined {
  if (bomOf(head)) return undefined; // UTF-16 text is full of NUL bytes
  for (const [name, sig] of MAGIC) {
    // 'MZ' alone is too weak for text; require it only with a NUL nearby
    if (sig.every((b, i) => head[i] === b) && (sig.length > 2 || head.subarray(0, 256).includes(0))) {
      return `binary file (${name})`;
    }
  }
  let control = 0;
  const n = Math.min(head.length, 8192);
  for (let i = 0; i < n; i++) {
    const c = head[i];
    if (c === 0) return 'binary file (NUL bytes)';
    if (c < 0x09 || (c > 0x0d && c < 0x20 && c !== 0x1b)) control++;
  }
  if (n > 0 && control / n > 0.1) return 'binary file (control characters)';
  return undefined;
}

async function decodeWith(
  source: SourceFile,
  label: string,
  fatal: boolean,
  skipBytes: number,
  signal?: AbortSignal,
): Promise<string> {
  const dec = new TextDecoder(label, { fatal, ignoreBOM: true });
  const parts: string[] = [];
  let skip = skipBytes;
  for await (const piece of source.chunks()) {
    throwIfAborted(signal);
    let p = piece;
    if (skip > 0) {
      const s = Math.min(skip, p.length);
      p = p.subarray(s);
      skip -= s;
    }
    parts.push(dec.decode(p, { stream: true }));
  }
  parts.push(dec.decode());
  return parts.join('');
}

/** Decodes a text file, trying encodings in order; reads the file again (in pieces) only when one fails. */
export async function decodeSource(source: SourceFile, head: Uint8Array, signal?: AbortSignal): Promise<DecodedText> {
  const bom = bomOf(head);
  if (bom === 'utf-8-bom') return { text: await decodeWith(source, 'utf-8', false, 3, signal), encoding: bom, lossy: false };
  if (bom) return { text: await decodeWith(source, bom, false, 2, signal), encoding: bom, lossy: false };
  for (const [label, name] of [
    ['utf-8', 'utf-8'],
    ['gb18030', 'gb18030'],
  ] as const) {
    try {
      return { text: await decodeWith(source, label, true, 0, signal), encoding: name, lossy: false };
    } catch (e) {
      if (!(e instanceof TypeError)) throw e; // a fatal decoder throws TypeError; anything else is real
    }
  }
  return { text: await decodeWith(source, 'utf-8', false, 0, signal), encoding: 'utf-8-lossy', lossy: true };
}

/** Decodes bytes already in memory (same rules as decodeSource). */
export function decodeBytes(bytes: Uint8Array): DecodedText {
  const bom = bomOf(bytes);
  if (bom === 'utf-8-bom') return { text: new TextDecoder('utf-8').decode(bytes.subarray(3)), encoding: bom, lossy: false };
  if (bom) return { text: new TextDecoder(bom, { ignoreBOM: true }).decode(bytes.subarray(2)), encoding: bom, lossy: false };
  for (const label of ['utf-8', 'gb18030'] as const) {
    try {
      return { text: new TextDecoder(label, { fatal: true, ignoreBOM: true }).decode(bytes), encoding: label, lossy: false };
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
    }
  }
  return { text: new TextDecoder('utf-8').decode(bytes), encoding: 'utf-8-lossy', lossy: true };
}
