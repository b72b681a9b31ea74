// Node: a query cache in a JSON Lines file ({"key","value"} per line), appended as results arrive so an
// interrupted run keeps what it paid for.
//   one writer   appends go through one queue, one whole line per write, flushed (fdatasync) before set() resolves:
//                concurrent large replies never interleave, and what set() confirmed survives a kill
//   repair       open() drops a torn last line (a kill mid-write) or any line that is not a record, rewriting the
//                file atomically with the good records, so the next append never glues onto a torn line
//   failure      a write that fails (full disk) rejects that set() and every later one, naming the file: the caller
//                stops instead of paying for answers it cannot keep

import type { FileHandle } from 'node:fs/promises';
import { open, readFile } from 'node:fs/promises';
import { ioError, writeFileAtomic } from '../util/atomic-file.ts';
import type { QueryCache } from './query-cache.ts';

export class FileCache implements QueryCache {
  private queue: Promise<void> = Promise.resolve();
  private failed: Error | undefined;

  private constructor(
    readonly path: string,
    private readonly map: Map<string, string>,
    private readonly fh: FileHandle,
    /** What open() repaired, for the user ("dropped a torn last line …"). */
    readonly notes: string[],
  ) {}

  static async open(path: string): Promise<FileCache> {
    const map = new Map<string, string>();
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(path, e, 'read the query cache');
    }
    let bad = 0;
    const lines = text.split('\n');
    const torn = text.length > 0 && !text.endsWith('\n');
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as { key?: unknown; value?: unknown };
        if (typeof r.key === 'string' && typeof r.value === 'string') map.set(r.key, r.value);
        else bad++;
      } catch {
        bad++;
      }
    }
    const notes: string[] = [];
    if (bad || torn) {
      await writeFileAtomic(path, [...map].map(([key, value]) => JSON.stringify({ key, value }) + '\n'));
      notes.push(`repaired the query cache ${path}: dropped ${bad} torn or unreadable line(s)${torn ? ' (the last one was cut off by an interrupted run)' : ''}; ${map.size} cached answer(s) kept`);
    }
    let fh: FileHandle;
    try {
      fh = await open(path, 'a');
    } catch (e) {
      throw ioError(path, e, 'open the query cache');
    }
    return new FileCache(path, map, fh, notes);
  }

  get size(): number {
    return this.map.size;
  }

  async get(key: string) {
    return this.map.get(key);
  }

  /** Appends one record; resolves once it is on the disk. After a failed write every call rejects. */
  set(key: string, value: string): Promise<void> {
    const line = JSON.stringify({ key, value }) + '\n';
    const write = async () => {
      if (this.failed) throw this.failed;
      try {
        await this.fh.writeFile(line);
        await this.fh.datasync();
      } catch (e) {
        this.failed = ioError(this.path, e, 'write the query cache', 'the answers cached so far are kept');
        throw this.failed;
      }
      this.map.set(key, value);
    };
    const p = this.queue.then(write);
    this.queue = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.fh.close();
  }
}
