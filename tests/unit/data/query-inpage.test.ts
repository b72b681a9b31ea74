import { describe, expect, it } from 'vitest';
import { generateQueriesInPage, type InPageGenerator } from '../../../src/data/query-inpage.ts';
import { MemoryCache } from '../../../src/data/query-cache.ts';

// The generation loop with a fake model (loading a real one needs the network and a GPU: the page's e2e job).
function fake(): InPageGenerator & { calls: number } {
  return {
    model: 'fake',
    calls: 0,
    async complete(msg) {
      this.calls++;
      if (msg.includes('#boom')) throw new Error('out of memory');
      return `<think>x</think>问题：${msg.slice(-6)}是什么？`;
    },
    async dispose() {},
  };
}
const chunk = (id: string, text: string) => ({ id, text, source: 's', start: 0, end: text.length });

describe('in-page query generation loop', () => {
  it('cleans, caches, reports failures per chunk and cancels between chunks', async () => {
    const gen = fake();
    const cache = new MemoryCache();
    const chunks = [chunk('a', '燃气设施改动审批'), chunk('b', '#boom'), chunk('c', '户外广告设置许可')];
    const r = await generateQueriesInPage(chunks, gen, { cache });
    expect(r.queries.map((q) => [q.chunk_id, q.query])).toEqual([
      ['a', '设施改动审批是什么？'],
      ['c', '广告设置许可是什么？'],
    ]);
    expect(r.failures).toEqual([{ chunk_id: 'b', error: 'out of memory' }]);
    const again = await generateQueriesInPage(chunks, gen, { cache });
    expect(again.stats.fromCache).toBe(2);
    expect(gen.calls).toBe(4); // only the failed chunk was tried again
    const ac = new AbortController();
    ac.abort();
    await expect(generateQueriesInPage(chunks, gen, { signal: ac.signal })).rejects.toThrow(/Cancel|abort/i);
  });
});
