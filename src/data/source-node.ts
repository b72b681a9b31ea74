// Node only: walks a folder tree into SourceFiles. Kept apart from source.ts so the page never imports node:fs.

import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { PIECE_BYTES, type SourceFile } from './source.ts';

export function fromPath(abs: string, rel: string, size: number): SourceFile {
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

/** All regular files under `root` (or `root` itself when it is a file), sorted by path; hidden entries skipped. */
export async function walkFolder(root: string): Promise<SourceFile[]> {
  const st = await stat(root).catch(() => {
    throw new Error(`Cannot read '${root}': no such file or folder. Pass the folder that holds your documents.`);
  });
  if (st.isFile()) return [fromPath(root, root.split(sep).pop() ?? root, st.size)];
  const out: SourceFile[] = [];
  const visit = async (dir: string) => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const abs = join(dir, e.name);
      if (e.isDirectory()) await visit(abs);
      else if (e.isFile()) out.push(fromPath(abs, relative(root, abs).split(sep).join('/'), (await stat(abs)).size));
    }
  };
  await visit(root);
  return out;
}
