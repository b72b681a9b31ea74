// Node: a query cache in a JSON Lines file ({"key","value"} per line), appended as results arrive so an
// interrupted run keeps what it paid for.

import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { QueryCache } from './query-cache.ts';

export class FileCache implements QueryCache {
  private constructor(
    readonly path: string,
    private readonly map: Map<string, string>,
  ) {}

  static async open(path: string): Promise<FileCache> {
    const map = new Map<string, string>();
    const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return '';
      throw e;
    });
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as { key?: unknown; value?: unknown };
        if (typeof r.key === 'string' && typeof r.value === 'string') map.set(r.key, r.value);
      } catch {
        // a torn last line from an interrupted run: ignore it
      }
    }
    await mkdir(dirname(path), { recursive: true });
    return new FileCache(path, map);
  }

  get size(): number {
    return this.map.size;
  }

  async get(key: string) {
    return this.map.get(key);
  }

  async set(key: string, value: string) {
    this.map.set(key, value);
    await appendFile(this.path, JSON.stringify({ key, value }) + '\n');
  }
}
