// Node only: walks a folder tree into SourceFiles. Kept apart from source.ts so the page never imports node:fs.
// Nothing found is dropped silently: an entry that cannot be read becomes a SourceFile with a `problem`, which the
// ingest report lists (an unreadable folder, a symbolic link to a folder or a broken one, a FIFO, socket or device).
// Names are read as raw bytes: a name that is not UTF-8 (GBK names from archives unzipped on Linux) is shown decoded
// as GB18030 (or with its bytes escaped) and noted, and the file is still read through its exact bytes.

import { createReadStream, type Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import { PIECE_BYTES, type SourceFile } from './source.ts';

type RawPath = Buffer;

export function fromPath(abs: string | RawPath, rel: string, size: number): SourceFile {
  return {
    path: rel,
    size,
    async *chunks() {
      for await (const b of createReadStream(abs, { highWaterMark: PIECE_BYTES })) {
        const buf = b as Buffer;
        yield new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      }
    },
  };
}

const strictDecode = (label: string, b: Uint8Array): string | undefined => {
  try {
    return new TextDecoder(label, { fatal: true }).decode(b);
  } catch {
    return undefined;
  }
};

/** A file name's bytes as text: UTF-8, else GB18030 (noted), else UTF-8 with each bad byte shown as \xNN (noted). */
export function nameOf(raw: Uint8Array): { name: string; note?: string } {
  const utf8 = strictDecode('utf-8', raw);
  if (utf8 !== undefined) return { name: utf8 };
  const gb = strictDecode('gb18030', raw);
  if (gb !== undefined) return { name: gb, note: 'its name is not UTF-8; shown decoded as GBK/GB18030' };
  let name = '';
  for (let i = 0; i < raw.length; ) {
    let n = 1;
    while (n <= 4 && i + n <= raw.length && strictDecode('utf-8', raw.subarray(i, i + n)) === undefined) n++;
    if (n <= 4 && i + n <= raw.length) {
      name += strictDecode('utf-8', raw.subarray(i, i + n));
      i += n;
    } else {
      name += `\\x${raw[i].toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return { name, note: 'its name is in no known encoding; its bad bytes are shown as \\xNN' };
}

const join = (dir: RawPath, name: Buffer): RawPath => Buffer.concat([dir, Buffer.from(sep), name]);

const problem = (path: string, status: 'skipped' | 'failed', reason: string): SourceFile => ({
  path,
  size: 0,
  problem: { status, reason },
  async *chunks() {},
});

function kindOf(e: Dirent<Buffer> | import('node:fs').Stats): string {
  if (e.isFIFO()) return 'a FIFO (named pipe)';
  if (e.isSocket()) return 'a socket';
  if (e.isCharacterDevice() || e.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

const errText = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM' ? `permission denied (${code})` : code ? `${code}: ${(e as Error).message}` : (e as Error).message;
};

/**
 * All regular files under `root` (or `root` itself when it is a file), sorted by name bytes; hidden entries skipped.
 * Symbolic links to files are followed; links to folders are reported (not followed: they can loop).
 */
export async function walkFolder(root: string): Promise<SourceFile[]> {
  const st = await stat(root).catch(() => {
    throw new Error(`Cannot read '${root}': no such file or folder. Pass the folder that holds your documents.`);
  });
  if (st.isFile()) return [fromPath(root, root.split(sep).pop() ?? root, st.size)];
  const out: SourceFile[] = [];
  const visit = async (dir: RawPath, rel: string) => {
    let entries: Dirent<Buffer>[];
    try {
      entries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
    } catch (e) {
      out.push(problem(rel ? `${rel}/` : './', 'failed', `cannot read this folder: ${errText(e)}; its files are not included`));
      return;
    }
    entries.sort((a, b) => Buffer.compare(a.name, b.name));
    for (const e of entries) {
      if (e.name[0] === 0x2e) continue; // '.': hidden
      const abs = join(dir, e.name);
      const { name, note } = nameOf(e.name);
      const path = rel ? `${rel}/${name}` : name;
      if (e.isDirectory()) await visit(abs, path);
      else if (e.isFile() || e.isSymbolicLink()) {
        let s;
        try {
          s = await stat(abs);
        } catch (err) {
          out.push(problem(path, 'failed', e.isSymbolicLink() ? 'broken symbolic link (its target does not exist)' : `cannot read: ${errText(err)}`));
          continue;
        }
        if (s.isFile()) out.push({ ...fromPath(abs, path, s.size), ...(note ? { note: `${note}${e.isSymbolicLink() ? '; read through a symbolic link' : ''}` } : e.isSymbolicLink() ? { note: 'read through a symbolic link' } : {}) });
        else if (s.isDirectory()) out.push(problem(path, 'skipped', 'symbolic link to a folder: not followed (links can loop); pass that folder itself to include it'));
        else out.push(problem(path, 'skipped', `symbolic link to ${kindOf(s)}: not a document`));
      } else out.push(problem(path, 'skipped', `${kindOf(e)}: not a document (never opened: reading it could block)`));
    }
  };
  await visit(Buffer.from(root), '');
  return out;
}
