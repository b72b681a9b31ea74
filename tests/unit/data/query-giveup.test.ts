import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Chunk } from '../../../src/data/chunk.ts';
import { MemoryCache } from '../../../src/data/query-cache.ts';
import { freshEta, generateQueries, testEndpoint, type ChunkOutcome } from '../../../src/data/query-generate.ts';
import { createDataApi, type QueryBatch } from '../../../src/workers/data/api.ts';

// Issue 8 items 7 and 8: an endpoint that dies mid-run stops the run after N failures in a row with the reason
// (it used to crawl on with a 22-minute ETA, since give-up only fired when nothing had ever succeeded); every
// answer reaches the caller as it arrives; the ETA counts fresh requests only.

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A chat server that answers `alive` requests (each after `delayMs`), then fails every one (503). */
async function dyingServer(alive: number, delayMs = 0): Promise<{ url: string; count: () => number }> {
  let n = 0;
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      if (n > alive) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('model unloaded');
      const k = n;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ message: { content: `问题${k}？` } }] }));
      }, delayMs);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, count: () => n };
}

const chunks: Chunk[] = Array.from({ length: 200 }, (_, i) => ({ id: `c${i}`, text: `第${i}条：燃气设施。`, source: 'a.txt', start: i, end: i + 1 }));

describe('an endpoint that dies mid-run', () => {
  it('stops after N failures in a row with the reason, having handed over every answer as it came', async () => {
    const s = await dyingServer(5);
    const got: ChunkOutcome[] = [];
    const t0 = performance.now();
    const run = generateQueries(chunks, {
      endpoint: { url: s.url, model: 'm', retries: 1, backoffMs: 1, timeoutMs: 2000 },
      concurrency: 1,
      giveUpAfter: 4,
      onResult: (r) => got.push(r),
    });
    await expect(run).rejects.toThrow(/Stopped: 4 requests in a row failed \(last: HTTP 503: model unloaded\).*after 5 queries; those are kept/);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(got.filter((r) => r.query)).toHaveLength(5);
    expect(got.filter((r) => r.error)).toHaveLength(4);
    expect(s.count()).toBeLessThan(5 + 4 * 2 + 2); // 4 chunks × (1 try + 1 retry), not 195 × 2
  });

  it('a single failing chunk among good ones does not stop the run', async () => {
    const s = await dyingServer(1000);
    const res = await generateQueries(chunks.slice(0, 10), { endpoint: { url: s.url, model: 'm', retries: 0 }, giveUpAfter: 2 });
    expect(res.queries).toHaveLength(10);
  });

  it('counts fresh and cached answers apart, and estimates time from fresh requests only', async () => {
    const s = await dyingServer(1000);
    const cache = new MemoryCache();
    await generateQueries(chunks.slice(0, 50), { endpoint: { url: s.url, model: 'm' }, cache });
    const last: { stats?: { generated: number; fromCache: number; freshMs: number } } = {};
    const res = await generateQueries(chunks.slice(0, 60), { endpoint: { url: s.url, model: 'm' }, cache, concurrency: 1, onResult: (_, st) => (last.stats = { ...st }) });
    expect(res.stats.fromCache).toBe(50);
    expect(res.stats.generated).toBe(10);
    expect(last.stats!.freshMs).toBeGreaterThan(0);
    // 10 fresh answers took freshMs: 100 more take 10× as long, whatever the 50 instant cache hits did to the average
    expect(freshEta({ generated: 10, freshMs: 2000 }, 100)).toBeCloseTo(20, 9);
    expect(freshEta({ generated: 0, freshMs: 0 }, 100)).toBeUndefined();
    expect(freshEta({ generated: 3, freshMs: 10 }, 0)).toBe(0);
  });
});

describe('the data worker hands answers to the page as they arrive', () => {
  it('in batches during the run, and the last ones when the run is cancelled', async () => {
    const s = await dyingServer(1000, 30);
    const cache = new MemoryCache();
    const api = createDataApi({ cache: async () => cache });
    const batches: QueryBatch[] = [];
    const run = api.generateQueries('q1', chunks.slice(0, 40), { endpoint: { url: s.url, model: 'm' }, concurrency: 2 }, undefined, (b) => void batches.push(b));
    await expect.poll(() => batches.reduce((n, b) => n + b.queries.length, 0), { timeout: 10_000 }).toBeGreaterThan(3);
    const beforeCancel = batches.length;
    expect(await api.cancel('q1')).toBe(true);
    const r = await run;
    expect(r.ok).toBe(false);
    const got = batches.flatMap((b) => b.queries.map((q) => q.chunk_id));
    expect(new Set(got).size).toBe(got.length);
    expect(got.length).toBeGreaterThan(3);
    expect(got.length).toBeLessThan(40);
    expect(batches.length).toBeGreaterThanOrEqual(beforeCancel);
    expect(batches.at(-1)!.stats.generated).toBe(got.length);
    // every answer the endpoint gave (and the cache kept) reached the page, the last ones included
    expect(got.length).toBe(cache.map.size);
  });
});

describe('test connection', () => {
  it('answers with the time and the reply, or the reason', async () => {
    const s = await dyingServer(1);
    const ok = await testEndpoint({ url: s.url, model: 'm' });
    expect(ok.reply).toBe('问题1？');
    expect(ok.ms).toBeGreaterThan(0);
    await expect(testEndpoint({ url: s.url, model: 'm' })).rejects.toThrow(/HTTP 503/);
    await expect(testEndpoint({ url: 'http://127.0.0.1:9/v1', model: 'm' })).rejects.toThrow(/cannot reach/);
  });
});
