import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chunk } from '../../../src/data/chunk.ts';
import { generateQueries } from '../../../src/data/query-generate.ts';
import { chatUrl } from '../../../src/data/query-endpoint.ts';
import { MemoryCache } from '../../../src/data/query-cache.ts';
import { FileCache } from '../../../src/data/query-cache-node.ts';
import { cleanGeneratedQuery } from '../../../src/data/query-prompt.ts';
import { filterQueries, roundTripFilter } from '../../../src/data/query-filter.ts';
import { importPairs } from '../../../src/data/query-import.ts';

// A local OpenAI-style chat server. The chunk text carries a marker that picks its misbehaviour on the first try.
let server: Server;
let url: string;
const attempts = new Map<string, number>();
let inFlight = 0;
let maxInFlight = 0;
let requests = 0;
const stalled: ServerResponse[] = [];

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      requests++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      res.on('close', () => inFlight--);
      const msg = JSON.parse(body) as { model: string; messages: { content: string }[] };
      const text = msg.messages[0].content;
      const marker = /#(\w+)/.exec(text)?.[1] ?? 'ok';
      const n = (attempts.get(marker) ?? 0) + 1;
      attempts.set(marker, n);
      if (req.headers.authorization !== 'Bearer sk-test') return reply(res, 401, '{"error":"bad key"}');
      if (req.url !== '/v1/chat/completions') return reply(res, 404, '{"error":"no route"}');
      const answer = () =>
        reply(res, 200, JSON.stringify({ choices: [{ message: { role: 'assistant', content: `<think>hmm</think>问题：“${marker}相关的规定是什么？”` } }] }));
      if (n === 1 && marker === 'r429') return reply(res, 429, '{"error":"slow down"}', { 'retry-after': '0' });
      if (n === 1 && marker === 'r500') return reply(res, 500, 'internal error');
      if (n === 1 && marker === 'bad') return reply(res, 200, '{"choices": [ {"message": ');
      if (n === 1 && marker === 'stall') return void stalled.push(res); // never answers; the client must time out
      if (marker === 'always500') return reply(res, 503, 'down');
      setTimeout(answer, 20); // keep requests overlapping so the concurrency bound is visible
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  for (const r of stalled) r.destroy();
  await new Promise((r) => server.close(r));
});

const chunk = (id: string, text: string): Chunk => ({ id, text, source: `${id}.txt`, start: 0, end: text.length });
const endpoint = () => ({ url, model: 'tiny', key: 'sk-test', timeoutMs: 400, retries: 3, backoffMs: 10 });

describe('query generation against an OpenAI-compatible endpoint', () => {
  it('survives 429, 500, malformed JSON and a stall, with bounded concurrency, and caches every answer', async () => {
    const chunks = ['r429', 'r500', 'bad', 'stall', 'ok1', 'ok2', 'ok3', 'ok4'].map((m, i) => chunk(`c${i}`, `燃气设施第${i}条 #${m}`));
    const cache = new MemoryCache();
    const progress: number[] = [];
    const res = await generateQueries(chunks, { endpoint: endpoint(), concurrency: 3, cache, onProgress: (p) => progress.push(p.done) });
    expect(res.failures).toEqual([]);
    expect(res.queries.map((q) => q.chunk_id)).toEqual(chunks.map((c) => c.id));
    expect(res.queries[0].query).toBe('r429相关的规定是什么？'); // think block, label and quotes removed
    expect(res.stats.retries).toBe(4);
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(progress[progress.length - 1]).toBe(8);
    const before = requests;
    const again = await generateQueries(chunks, { endpoint: endpoint(), cache });
    expect(requests).toBe(before); // nothing paid twice
    expect(again.stats.fromCache).toBe(8);
    // another model or prompt is another key
    await generateQueries(chunks.slice(4, 5), { endpoint: { ...endpoint(), model: 'other' }, cache });
    expect(requests).toBe(before + 1);
  });

  it('reports a chunk that keeps failing as data and carries on with the rest', async () => {
    const res = await generateQueries([chunk('a', '#ok5'), chunk('b', '#always500'), chunk('c', '#ok6')], { endpoint: { ...endpoint(), retries: 2 } });
    expect(res.queries.map((q) => q.chunk_id)).toEqual(['a', 'c']);
    expect(res.failures).toHaveLength(1);
    expect(res.failures[0]).toMatchObject({ chunk_id: 'b' });
    expect(res.failures[0].error).toMatch(/HTTP 503/);
  });

  it('stops at once with a clear message on a wrong key or URL', async () => {
    await expect(generateQueries([chunk('a', '#ok7')], { endpoint: { ...endpoint(), key: 'wrong' } })).rejects.toThrow(/401 \(check the API key\)/);
    await expect(generateQueries([chunk('a', '#ok7')], { endpoint: { ...endpoint(), url: url.replace('/v1', '/v2') } })).rejects.toThrow(/404 \(check the URL/);
    await expect(generateQueries([chunk('a', 'x')], { endpoint: { ...endpoint(), url: 'http://127.0.0.1:9/v1', retries: 0 }, giveUpAfter: 1 })).rejects.toThrow(
      /Is the endpoint running/,
    );
    expect(() => chatUrl('localhost:11434')).toThrow(/http/);
    expect(chatUrl('http://h/v1/')).toBe('http://h/v1/chat/completions');
  });

  it('cancels in-flight requests', async () => {
    const ac = new AbortController();
    const chunks = Array.from({ length: 30 }, (_, i) => chunk(`s${i}`, `#slow${i}`));
    const p = generateQueries(chunks, { endpoint: { ...endpoint(), timeoutMs: 5000 }, concurrency: 2, signal: ac.signal, onProgress: (e) => e.done >= 2 && ac.abort() });
    await expect(p).rejects.toThrow(/Cancel|abort/i);
  });

  it('a file cache survives a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qcache-'));
    try {
      const path = join(dir, 'cache.jsonl');
      const c1 = await FileCache.open(path);
      await generateQueries([chunk('f', '#okfile')], { endpoint: endpoint(), cache: c1 });
      const before = requests;
      const c2 = await FileCache.open(path);
      expect(c2.size).toBe(1);
      const r = await generateQueries([chunk('f', '#okfile')], { endpoint: endpoint(), cache: c2 });
      expect(requests).toBe(before);
      expect(r.queries[0].query).toBe('okfile相关的规定是什么？');
      expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('query filters and import', () => {
  const chunks = [
    chunk('a', '小规模纳税人月销售额未超过10万元的，免征增值税。'),
    chunk('b', '城市道路占用挖掘许可由市政工程行政主管部门负责审批。'),
    chunk('c', '职工因工作遭受事故伤害或者患职业病进行治疗，享受工伤医疗待遇。'),
  ];
  it('drops empty, over-long, duplicate and copied queries, counting each', () => {
    const r = filterQueries(
      [
        { query: '小规模纳税人免征增值税的条件？', chunk_id: 'a' },
        { query: ' ？ ', chunk_id: 'a' },
        { query: '问'.repeat(300), chunk_id: 'a' },
        { query: '小规模纳税人免征增值税的条件', chunk_id: 'a' },
        { query: '城市道路占用挖掘许可由市政工程行政主管部门负责审批', chunk_id: 'b' },
        { query: '谁来审批挖路？', chunk_id: 'b' },
        { query: '工伤', chunk_id: 'zzz' },
      ],
      chunks,
    );
    expect(r.kept.map((q) => q.query)).toEqual(['小规模纳税人免征增值税的条件？', '谁来审批挖路？']);
    expect(r.counts).toMatchObject({ empty: 1, tooLong: 1, duplicate: 1, copied: 1, unknownChunk: 1 });
  });

  it('round-trip keeps a query only when BM25 ranks its chunk in the top k', async () => {
    const r = await roundTripFilter(
      [
        { query: '月销售额多少免征增值税', chunk_id: 'a' },
        { query: '月销售额多少免征增值税', chunk_id: 'c' },
      ],
      chunks,
      { k: 1 },
    );
    expect(r.kept.map((q) => q.chunk_id)).toEqual(['a']);
    expect(r.counts.roundTrip).toBe(1);
  });

  it('imports pairs from JSONL and CSV by chunk id, by text, by containment, or as new chunks', () => {
    const jsonl = [
      JSON.stringify({ query: 'q1', chunk_id: 'b' }),
      JSON.stringify({ question: 'q2', positive: chunks[0].text }),
      JSON.stringify({ query: 'q3', pos: ['享受工伤医疗待遇'] }),
      JSON.stringify({ query: 'q4', text: '一段全新的正文，不在任何分块里。', answers: ['全新'] }),
      'garbage',
      JSON.stringify({ query: 'q5', chunk_id: 'missing' }),
    ].join('\n');
    const r = importPairs(jsonl, 'pairs.jsonl', chunks);
    expect(r.queries.map((q) => [q.query, q.chunk_id])).toEqual([
      ['q1', 'b'],
      ['q2', 'a'],
      ['q3', 'c'],
      ['q4', r.newChunks[0].id],
    ]);
    expect(r.queries[3].answers).toEqual(['全新']);
    expect(r.matched).toEqual({ byId: 1, byText: 1, contained: 1, added: 1 });
    expect(r.errors.map((e) => e.line)).toEqual([5, 6]);
    const csv = importPairs('query,positive\n"谁审批挖路","城市道路占用挖掘许可由市政工程行政主管部门负责审批。"\n', 'p.csv', chunks);
    expect(csv.queries).toEqual([{ query: '谁审批挖路', chunk_id: 'b', origin: 'import' }]);
  });

  it('cleans model output into one query', () => {
    expect(cleanGeneratedQuery('<think>\nlong\n</think>\n\n1. “燃气设施改动要谁批准？”\n解释：...')).toBe('燃气设施改动要谁批准？');
  });
});
