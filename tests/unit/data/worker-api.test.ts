import * as Comlink from 'comlink';
import { afterAll, describe, expect, it } from 'vitest';
import { createDataApi, type DataWorkerApi } from '../../../src/workers/data/api.ts';
import { MemoryCache } from '../../../src/data/query-cache.ts';
import type { Progress } from '../../../src/util/progress.ts';

// The worker's API over a real comlink channel (a MessageChannel in this process), as the page uses it.
const { port1, port2 } = new MessageChannel();
Comlink.expose(createDataApi({ cache: async () => new MemoryCache() }), port1 as unknown as Comlink.Endpoint);
const api = Comlink.wrap<DataWorkerApi>(port2 as unknown as Comlink.Endpoint);
afterAll(() => {
  port1.close();
  port2.close();
});

const text = (i: number) => `第${i}号文件。燃气设施第${i}条规定，改动燃气设施应当报批。城市道路第${i % 7}段的占用许可由主管部门审批。`;
// In-memory files cross a Node MessagePort intact (Node clones a File as a nameless Blob; browsers keep File)
const docs = Array.from({ length: 40 }, (_, i) => ({ path: `d${i}.txt`, data: i % 2 ? text(i) : new TextEncoder().encode(text(i)) }));

describe('data worker API over comlink', () => {
  it('ingests, then mines with progress events; results arrive as data', async () => {
    const events: Progress[] = [];
    const ing = await api.ingest('j1', docs, { size: 40, overlap: 0 }, Comlink.proxy((p: Progress) => void events.push(p)));
    if (!ing.ok) throw new Error(ing.error.message);
    if (!ing.ok) return;
    expect(ing.value.report.ok).toBe(40);
    const chunks = ing.value.chunks;
    const queries = chunks.filter((_, i) => i % 3 === 0).map((c) => ({ query: '燃气设施改动要报批吗', chunk_id: c.id }));
    const mined = await api.mine('j2', chunks, queries, { negatives: 3, topK: 10, valRatio: 0.2 }, Comlink.proxy((p: Progress) => void events.push(p)));
    expect(mined.ok).toBe(true);
    if (!mined.ok) return;
    expect(mined.value.train.length + mined.value.val.length).toBe(queries.length);
    await new Promise((r) => setTimeout(r, 20)); // let the last progress messages cross the channel
    expect(new Set(events.map((e) => e.stage))).toEqual(new Set(['ingest', 'chunk', 'tokenise', 'tokenise queries', 'index', 'mine']));
  });

  it('reads File objects as a drop or directory picker gives them (direct call, no clone)', async () => {
    const direct = createDataApi({ cache: async () => new MemoryCache() });
    const files = [new File([text(1)], 'a.txt'), new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0])], 'b.txt')];
    const r = await direct.ingest('f', files, {});
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.report.files.map((f) => [f.path, f.status])).toEqual([
      ['a.txt', 'ok'],
      ['b.txt', 'skipped'],
    ]);
    expect(r.value.chunks[0].text).toBe(text(1));
  });

  it('sends errors as data, not as rejections', async () => {
    const r = await api.mine('j3', [], [], {});
    expect(r).toEqual({ ok: false, error: { name: 'Error', message: expect.stringMatching(/No chunks/) } });
  });

  it('cancels a running job by id', async () => {
    const big = Array.from({ length: 6000 }, (_, i) => ({ id: `c${i}`, text: `第${i}段：燃气设施改动应当报批，城市道路占用需要许可。`, source: `s${i % 50}`, start: 0, end: 20 }));
    const p = api.mine('slow', big, big.map((c) => ({ query: '燃气设施改动', chunk_id: c.id })), { negatives: 5 });
    await new Promise((r) => setTimeout(r, 30));
    expect(await api.cancel('slow')).toBe(true);
    const r = await p;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.name).toBe('AbortError');
    expect(await api.cancel('slow')).toBe(false);
  });
});
