// A file to ingest, independent of where it lives: a path on disk (Node, see source-node.ts) or a File from a
// drop or directory picker (page, see fromFiles below). Contents are read in pieces.

export interface SourceFile {
  /** Path relative to the ingested root, '/'-separated; becomes the chunk's `source`. */
  path: string;
  size: number;
  /** Yields the bytes in order, in pieces of about `PIECE_BYTES`. May be called more than once. */
  chunks(): AsyncIterable<Uint8Array>;
  /** Set when the entry cannot be read at all (an unreadable folder, a FIFO …): ingest reports it and moves on. */
  problem?: { status: 'skipped' | 'failed'; reason: string };
  /** Something the report should say about a file that is read (e.g. its name was not UTF-8). */
  note?: string;
}

export const PIECE_BYTES = 1 << 20;

/** Reads the first `n` bytes (or fewer) of a source. */
export async function readHead(src: SourceFile, n = 8192): Promise<Uint8Array> {
  const out = new Uint8Array(Math.min(n, src.size));
  let at = 0;
  for await (const piece of src.chunks()) {
    const take = Math.min(piece.length, out.length - at);
    out.set(piece.subarray(0, take), at);
    at += take;
    if (at >= out.length) break;
  }
  return out.subarray(0, at);
}

/** Reads a whole source into one buffer (docx/pdf need random access). */
export async function readAll(src: SourceFile): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const p of src.chunks()) {
    parts.push(p);
    total += p.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Any Blob (File) as a source, read with slice() so it works in workers and on the main thread alike. */
export function fromBlob(blob: Blob, path: string): SourceFile {
  return {
    path,
    size: blob.size,
    async *chunks() {
      for (let at = 0; at < blob.size; at += PIECE_BYTES) {
        yield new Uint8Array(await blob.slice(at, Math.min(blob.size, at + PIECE_BYTES)).arrayBuffer());
      }
    },
  };
}

/** Files from <input webkitdirectory> or a drop: keeps the folder-relative path when the browser gives one. */
export function fromFiles(files: Iterable<File>): SourceFile[] {
  const out: SourceFile[] = [];
  for (const f of files) out.push(fromBlob(f, (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name));
  return out;
}

/** In-memory text or bytes as a source (tests, pasted text). */
export function fromBytes(bytes: Uint8Array | string, path: string): SourceFile {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  return {
    path,
    size: data.length,
    async *chunks() {
      for (let at = 0; at < data.length; at += PIECE_BYTES) yield data.subarray(at, at + PIECE_BYTES);
    },
  };
}
