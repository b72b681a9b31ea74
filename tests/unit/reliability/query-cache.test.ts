// Issue 10, item 5: the query run never pays for what it cannot keep. A cache write that fails stops the run at once
// (a full disk kept calling the endpoint: 625 requests paid, 135 kept); the file cache has one writer, so concurrent
// large answers never interleave into two corrupt records; a torn last line (a kill mid-append) is repaired when the
// cache opens instead of swallowing the next record; a reply larger than the cap is refused for its chunk alone.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Chunk } from '../../../src/data/chunk.ts';
import { MemoryCache, type QueryCache } from '../../../src/data/query-cache.ts';
import { FileCache } from '../../../src/data/query-cache-node.ts';
import { generateQueries } from '../../../src/data/query-generate.ts';
import { type ChatServer, startChatServer } from './support/chat-server.ts';
import { disk } from './support/full-disk.ts';
import { chunkTexts } from './support/make-data.ts';

vi.mock('node:fs/promises', async (orig) => (await import('./support/full-disk.ts')).fullDiskFs(await orig()));
afterEach(() => void (disk.full = false));

let server: ChatServer;
beforeAll(async () => (server = await startChatServer()));
afterAll(() => server.close());

const chunks = (n: number): Chunk[] => chunkTexts(n).map((text, i) => ({ id: `c${i}`, text, source: 'a.txt', start: 0, end: text.length }));
const endpoint = () => ({ url: server.url, model: 'm', timeoutMs: 5000, retries: 0, backoffMs: 1 });
const fresh = () => mkdtempSync(join(tmpdir(), 'rl-qcache-'));

describe('the query cache', () => {
  it('a failed cache write stops the run: no more requests are paid for', async () => {
    server.requests.length = 0;
    server.handle = (r) => ({ content: `第${r.prompt.length % 97}条要带什么材料？` });
    let writes = 0;
    const full: QueryCache = {
      get: async () => undefined,
      set: async () => {
        if (++writes > 3) throw Object.assign(new Error('cannot write /data/q.cache.jsonl: the disk is full (ENOSPC). Free some space and run again.'), { code: 'ENOSPC' });
      },
    };
    await expect(generateQueries(chunks(60), { endpoint: endpoint(), concurrency: 4, cache: full })).rejects.toThrow(
      /query cache could not be written: cannot write \/data\/q\.cache\.jsonl: the disk is full .*Stopped so that no more answers are paid for/,
    );
    // 3 kept, the 4th failed to be kept, at most the 3 others already in flight: never the remaining 50+
    expect(server.requests.length).toBeLessThanOrEqual(4 + 3);
  });

  it('a full disk under the file cache: the run stops, the file cache names its file, what was cached is kept', async () => {
    server.requests.length = 0;
    server.handle = (r) => ({ content: `第${r.prompt.length % 97}条要带什么材料？` });
    const path = join(fresh(), 'q.cache.jsonl');
    const cache = await FileCache.open(path);
    await generateQueries(chunks(2), { endpoint: endpoint(), cache });
    disk.full = true;
    await expect(generateQueries(chunks(60), { endpoint: endpoint(), concurrency: 4, cache })).rejects.toThrow(
      /query cache could not be written: cannot write the query cache .*q\.cache\.jsonl: the disk is full \(ENOSPC\)/,
    );
    disk.full = false;
    expect(server.requests.length).toBeLessThanOrEqual(2 + 1 + 3);
    await cache.close();
    const reopened = await FileCache.open(path); // the torn 3 bytes are repaired away, the 2 answers kept
    expect(reopened.size).toBe(2);
    await reopened.close();
  });

  it('one writer: concurrent multi-megabyte answers stay two whole records', async () => {
    const path = join(fresh(), 'cache.jsonl');
    const c = await FileCache.open(path);
    const a = '甲'.repeat(3 << 20);
    const b = '乙'.repeat(3 << 20);
    await Promise.all([c.set('ka', a), c.set('kb', b)]);
    await c.close();
    const again = await FileCache.open(path);
    expect(again.notes).toEqual([]);
    expect(await again.get('ka')).toBe(a);
    expect(await again.get('kb')).toBe(b);
    await again.close();
  });

  it('repairs a torn last line on open, so the next record is not glued onto it', async () => {
    const path = join(fresh(), 'cache.jsonl');
    writeFileSync(path, JSON.stringify({ key: 'k1', value: '好问题' }) + '\n' + '{"key":"k2","val');
    const c = await FileCache.open(path);
    expect(c.notes.join()).toMatch(/repaired the query cache .*dropped 1 torn or unreadable line.*cut off by an interrupted run.*1 cached answer\(s\) kept/);
    await c.set('k3', '新问题');
    await c.close();
    const again = await FileCache.open(path);
    expect([await again.get('k1'), await again.get('k3')]).toEqual(['好问题', '新问题']);
    expect(readFileSync(path, 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
    await again.close();
  });

  it('a write error names the cache file, and every later write fails too', async () => {
    const path = join(fresh(), 'cache.jsonl');
    const c = await FileCache.open(path);
    await c.close(); // its handle is gone: the next write fails (EBADF), as a vanished disk would
    await expect(c.set('k', 'v')).rejects.toThrow(/cannot write the query cache .*cache\.jsonl/);
    await expect(c.set('k2', 'v2')).rejects.toThrow(/cannot write the query cache/);
  });

  it('a reply larger than the cap fails its chunk alone, unread and uncached', async () => {
    server.requests.length = 0;
    server.handle = (r) => ({ content: r.prompt.includes('第2条') ? '长'.repeat(2 << 20) : '窗口几点开门？' });
    const cache = new MemoryCache();
    const r = await generateQueries(chunks(4), { endpoint: endpoint(), concurrency: 2, cache });
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toMatchObject({ chunk_id: 'c1' });
    expect(r.failures[0].error).toMatch(/reply is larger than 1048576 bytes/);
    expect(r.queries).toHaveLength(3);
    expect(cache.map.size).toBe(3);
  });
});
