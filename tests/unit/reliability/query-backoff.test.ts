// Issue 10, item 6: without Retry-After, 429/5xx are retried after exponentially growing waits with jitter (Number(null)
// was 0: 5 tries in 23 ms); Retry-After as an HTTP date is honoured; a long Retry-After (3600 s) is capped and the
// wait is shown, instead of hanging silently for an hour.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chunk } from '../../../src/data/chunk.ts';
import { MemoryCache } from '../../../src/data/query-cache.ts';
import { chatComplete, parseRetryAfter, retryWait } from '../../../src/data/query-endpoint.ts';
import { generateQueries } from '../../../src/data/query-generate.ts';
import { type ChatServer, startChatServer } from './support/chat-server.ts';

let server: ChatServer;
beforeAll(async () => (server = await startChatServer()));
afterAll(() => server.close());

const gaps = () => server.requests.slice(1).map((r, i) => r.at - server.requests[i].at);
const chunk = (text: string): Chunk => ({ id: 'c0', text, source: 'a.txt', start: 0, end: text.length });

describe('retry waits', () => {
  it('429 without Retry-After backs off exponentially (with jitter), not at once', async () => {
    server.requests.length = 0;
    server.handle = () => ({ status: 429, raw: '{"error":"slow down"}' });
    const waits: number[] = [];
    await expect(
      chatComplete({ url: server.url, model: 'm', retries: 4, backoffMs: 40 }, [{ role: 'user', content: 'q' }], undefined, (_e, _n, w) => waits.push(w.waitMs)),
    ).rejects.toThrow(/HTTP 429/);
    expect(server.requests).toHaveLength(5);
    const g = gaps();
    console.log(`[backoff] waits ${waits.map((w) => w.toFixed(0)).join(', ')} ms; gaps between tries ${g.map((x) => x.toFixed(0)).join(', ')} ms`);
    waits.forEach((w, i) => {
      expect(w).toBeGreaterThanOrEqual(40 * 2 ** i * 0.75);
      expect(w).toBeLessThanOrEqual(40 * 2 ** i * 1.25);
    });
    g.forEach((x, i) => expect(x).toBeGreaterThanOrEqual(waits[i] - 5));
    expect(g.reduce((a, b) => a + b, 0)).toBeGreaterThan(40 * 15 * 0.75 - 20); // 40+80+160+320 ms at the least
  });

  it('jitter spreads the waits of clients that failed together', () => {
    const seq = [0, 0.5, 0.999];
    const w = seq.map((u) => retryWait({ backoffMs: 100 }, 2, undefined, () => u).waitMs);
    // 100 ms · 2² · (0.75 + u/2)
    expect(w[0]).toBeCloseTo(300, 9);
    expect(w[1]).toBeCloseTo(400, 9);
    expect(w[2]).toBeCloseTo(499.8, 9);
  });

  it('honours Retry-After as an HTTP date', async () => {
    server.requests.length = 0;
    let n = 0;
    server.handle = () => (n++ === 0 ? { status: 503, headers: { 'retry-after': new Date(Date.now() + 2000).toUTCString() }, raw: 'busy' } : { content: '几点开门？' });
    const t0 = performance.now();
    expect(await chatComplete({ url: server.url, model: 'm', retries: 2, backoffMs: 1 }, [{ role: 'user', content: 'q' }])).toBe('几点开门？');
    // the date has 1 s resolution: the wait is between 1 and 2 s
    expect(performance.now() - t0).toBeGreaterThan(900);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:30 GMT'))).toBe(30_000);
    expect(parseRetryAfter('120')).toBe(120_000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('caps a Retry-After of an hour and shows the wait', async () => {
    server.requests.length = 0;
    let n = 0;
    server.handle = () => (n++ === 0 ? { status: 429, headers: { 'retry-after': '3600' }, raw: 'quota' } : { content: '窗口几点开门？' });
    const details: string[] = [];
    const t0 = performance.now();
    const r = await generateQueries([chunk('窗口工作时间为上午九点')], {
      endpoint: { url: server.url, model: 'm', retries: 2, maxWaitMs: 300 },
      cache: new MemoryCache(),
      onProgress: (p) => p.detail && details.push(p.detail),
    });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(r.queries.map((q) => q.query)).toEqual(['窗口几点开门？']);
    expect(details.join('\n')).toMatch(/c0: retry 1 in 0\.3 s \(the endpoint asked for 3600 s\) after HTTP 429/);
  }, 20_000);
});
