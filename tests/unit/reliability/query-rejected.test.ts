// Issue 10, item 7: an answer the query filters reject (empty, copied from the chunk, too long) is not cached, so a
// rerun asks again for that chunk; a rejected answer found in an older cache counts as a miss.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chunk } from '../../../src/data/chunk.ts';
import { MemoryCache, queryCacheKey } from '../../../src/data/query-cache.ts';
import { filterQueries } from '../../../src/data/query-filter.ts';
import { generateQueries } from '../../../src/data/query-generate.ts';
import { DEFAULT_QUERY_PROMPT } from '../../../src/data/query-prompt.ts';
import { type ChatServer, startChatServer } from './support/chat-server.ts';

let server: ChatServer;
beforeAll(async () => (server = await startChatServer()));
afterAll(() => server.close());

const texts = ['燃气管理条例规定改动市政燃气设施的建设单位应当制定安全保护方案', '户籍办理需要携带身份证和户口簿到派出所窗口', '图书馆每周一闭馆其余时间上午九点开放'];
const chunks: Chunk[] = texts.map((text, i) => ({ id: `c${i}`, text, source: 'a.txt', start: 0, end: text.length }));
const endpoint = () => ({ url: server.url, model: 'm', retries: 0 });

describe('rejected answers', () => {
  it('are returned for the filters to count but not cached; a rerun asks again', async () => {
    server.requests.length = 0;
    // c0: an empty answer, c1: the chunk copied back, c2: a real question
    server.handle = (r) => ({ content: r.prompt.includes(texts[0]) ? '  ' : r.prompt.includes(texts[1]) ? texts[1] : '图书馆星期几闭馆？' });
    const cache = new MemoryCache();
    const first = await generateQueries(chunks, { endpoint: endpoint(), cache });
    expect(first.stats).toMatchObject({ generated: 3, rejected: 2 });
    expect(cache.map.size).toBe(1);
    expect(filterQueries(first.queries, chunks).counts).toMatchObject({ empty: 1, copied: 1 });
    const again = await generateQueries(chunks, { endpoint: endpoint(), cache });
    expect(server.requests).toHaveLength(5); // c0 and c1 asked again, c2 from the cache
    expect(again.stats).toMatchObject({ fromCache: 1, generated: 2 });
  });

  it('a rejected answer already in a cache (from an older build) is asked again', async () => {
    server.requests.length = 0;
    server.handle = () => ({ content: '燃气设施改动要做什么？' });
    const cache = new MemoryCache();
    await cache.set(await queryCacheKey(texts[0], DEFAULT_QUERY_PROMPT, 'm'), texts[0]); // a copied answer
    const r = await generateQueries(chunks.slice(0, 1), { endpoint: endpoint(), cache });
    expect(server.requests).toHaveLength(1);
    expect(r.queries[0].query).toBe('燃气设施改动要做什么？');
  });
});
