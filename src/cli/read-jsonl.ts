// The command line's one JSON Lines reader: reads the bytes (an error names the file and says what to do), detects
// the encoding (data/jsonl.ts decodeJsonl: BOM, UTF-16, UTF-8, GBK — or each undecodable line refused by number),
// checks every line, prints the first bad lines with their numbers and a count, and says when the file was not UTF-8.

import { readFile } from 'node:fs/promises';
import { decodeJsonl, parseJsonl, type LineError } from '../data/jsonl.ts';
import { ioError } from '../util/atomic-file.ts';

export interface JsonlRead<T> {
  items: T[];
  errors: LineError[];
  encoding: string;
}

export async function readJsonlFile<T>(path: string, check: (v: unknown) => T | string, opts: { show?: number; verb?: string } = {}): Promise<JsonlRead<T>> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw ioError(path, e, 'read');
  }
  const decoded = decodeJsonl(bytes);
  const r = parseJsonl(decoded, check);
  const show = opts.show ?? 10;
  if (decoded.encoding !== 'utf-8') console.error(`${path}: read as ${decoded.encoding === 'gb18030' ? 'GB18030 (GBK)' : decoded.encoding.toUpperCase()}`);
  for (const e of r.errors.slice(0, show)) console.error(`${path}:${e.line}: ${opts.verb ?? 'skipped'}: ${e.message}`);
  if (r.errors.length > show) console.error(`${path}: … and ${r.errors.length - show} more bad line(s) skipped`);
  if (r.errors.length && r.items.length) console.error(`${path}: ${r.items.length} line(s) read, ${r.errors.length} skipped`);
  return { ...r, encoding: decoded.encoding };
}

/**
 * What a command does with an error while reading its input: a problem the user can fix (a RangeError from the
 * checks, or a file that cannot be read) is printed and the command exits 2; anything else is a bug and is rethrown.
 */
export function inputErrorExit(e: unknown): 2 {
  if (e instanceof RangeError || (e as Error).name === 'OutputError') {
    console.error((e as Error).message);
    return 2;
  }
  throw e;
}
