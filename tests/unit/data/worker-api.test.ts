import * as Comlink from 'comlink';
import { unzipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { createDataApi, type DataWorkerApi } from '../../../src/workers/data/api.ts';
import { Bm25Index } from '../../../src/data/bm25.ts';
import { chunkDocuments, chunkText, type Chunk } from '../../../src/data/chunk.ts';
import { MemoryCache } from '../../../src/data/query-cache.ts';
import { createTokenizer } from '../../../src/data/tokenize.ts';
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

  it('returns the decoded documents with the chunks, and keeps the path of a file given with one', async () => {
    const files = [
      { file: new Blob([text(1)]), path: 'folder/sub/a.txt' },
      { file: new Blob([new TextEncoder().encode(text(2))]), path: 'folder/b.md' },
    ];
    const r = await api.ingest('pathed', files, { size: 30, overlap: 0 });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.docs.map((d) => [d.source, d.text])).toEqual([
      ['folder/sub/a.txt', text(1)],
      ['folder/b.md', text(2)],
    ]);
    expect(r.value.documents).toBe(2);
    expect(r.value.report.files.map((f) => f.path)).toEqual(['folder/sub/a.txt', 'folder/b.md']);
    expect(r.value.chunks).toEqual(chunkDocuments(r.value.docs, { size: 30, overlap: 0 }));
    expect(new Set(r.value.chunks.map((c) => c.source))).toEqual(new Set(['folder/sub/a.txt', 'folder/b.md']));
  });

  it('rechunks stored documents with new settings, with progress, and previews one document', async () => {
    const ing = await api.ingest('ing', docs.slice(0, 6), {});
    if (!ing.ok) throw new Error(ing.error.message);
    const stored = ing.value.docs.map((d) => ({ source: d.source, text: d.text }));
    const events: Progress[] = [];
    const r = await api.chunk('rechunk', stored, { size: 20, overlap: 5 }, Comlink.proxy((p: Progress) => void events.push(p)));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value).toEqual(chunkDocuments(stored, { size: 20, overlap: 5 }));
    expect(r.value.length).toBeGreaterThan(ing.value.chunks.length); // smaller chunks, more of them
    const p = await api.chunkPreview(stored[2], { size: 20, overlap: 5 });
    if (!p.ok) throw new Error(p.error.message);
    expect(p.value).toEqual(chunkText(stored[2].source, stored[2].text, { size: 20, overlap: 5 }));
    expect(p.value).toEqual(r.value.filter((c) => c.source === stored[2].source));
    await new Promise((res) => setTimeout(res, 20));
    expect(events.map((e) => e.stage)).toContain('chunk');
  });

  it('scores mined examples by BM25 over all chunks (NaN for a text that is no chunk), and reports errors as data', async () => {
    const chunks: Chunk[] = [
      '燃气设施改动应当报批，由燃气主管部门审批。',
      '城市道路占用需要许可，由市政部门审批。',
      '供水管道维修应当提前公告。',
      '燃气表的安装由燃气公司负责。',
    ].map((t, i) => ({ id: `c${i}`, text: t, source: `s${i}`, start: 0, end: t.length }));
    const examples = [
      { query: '燃气设施改动要报批吗', pos: [chunks[0].text], neg: [chunks[3].text, chunks[1].text, 'not a chunk'] },
      { query: '占用城市道路', pos: [chunks[1].text], neg: [chunks[2].text] },
    ];
    const events: Progress[] = [];
    const r = await api.bm25Scores('bm25', chunks, examples, 'default', Comlink.proxy((p: Progress) => void events.push(p)));
    if (!r.ok) throw new Error(r.error.message);
    const tok = await createTokenizer('default');
    const index = Bm25Index.build(chunks.map((c) => tok.tokenize(c.text)));
    const want = (q: string, ids: number[]) => ids.map((i) => index.scores(tok.tokenize(q))[i]);
    expect(r.value[0].pos).toEqual(want(examples[0].query, [0]));
    expect(r.value[0].neg.slice(0, 2)).toEqual(want(examples[0].query, [3, 1]));
    expect(r.value[0].neg[2]).toBeNaN();
    expect(r.value[1]).toEqual({ pos: want(examples[1].query, [1]), neg: want(examples[1].query, [2]) });
    expect(r.value[0].pos[0]).toBeGreaterThan(r.value[0].neg[1]); // the relevant chunk outscores the unrelated one
    await new Promise((res) => setTimeout(res, 20));
    expect(events.map((e) => e.stage)).toContain('BM25 index');
    // other chunks: the kept index is not reused
    const other = chunks.slice(1);
    const r2 = await api.bm25Scores('bm25b', other, [{ query: '燃气表', pos: [other[2].text], neg: [] }], 'default');
    if (!r2.ok) throw new Error(r2.error.message);
    const index2 = Bm25Index.build(other.map((c) => tok.tokenize(c.text)));
    expect(r2.value[0].pos).toEqual([index2.scores(tok.tokenize('燃气表'))[2]]);
    const empty = await api.bm25Scores('bm25c', [], examples, 'default');
    expect(empty).toEqual({ ok: false, error: { name: 'Error', message: expect.stringMatching(/empty/) } });
  });

  it('cancels a BM25 scoring job by id while it builds the index', async () => {
    const big = Array.from({ length: 20000 }, (_, i) => ({ id: `b${i}`, text: `第${i}段：燃气设施改动应当报批，城市道路占用需要许可。`, source: `s${i % 50}`, start: 0, end: 20 }));
    const p = api.bm25Scores('slow-bm25', big, [{ query: '燃气', pos: [big[0].text], neg: [] }], 'seed');
    await new Promise((r) => setTimeout(r, 30));
    expect(await api.cancel('slow-bm25')).toBe(true);
    const r = await p;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.name).toBe('AbortError');
  });

  it('builds the realistic validation lists (BM25 top N of the validation documents plus the positives) as data', async () => {
    const val = [
      { query: '燃气设施改动要报批吗', pos: ['改动燃气设施应当报主管部门批准。'], neg: ['城市道路占用需要许可。', '图书馆周一闭馆。'] },
      { query: '图书馆哪天闭馆', pos: ['图书馆周一闭馆。'], neg: ['公积金提取需要身份证。'] },
    ];
    const events: Progress[] = [];
    const r = await api.rerankSet('lists', val, 2, Comlink.proxy((p: Progress) => void events.push(p)));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value).toMatchObject({ depth: 2, corpus: 4, positivesRetrieved: 1 });
    expect(r.value.lists.map((l) => l.query)).toEqual(val.map((v) => v.query));
    expect(r.value.lists[0].docs[0]).toBe(val[0].pos[0]); // BM25 ranks the positive first
    expect(r.value.lists[0].docs).toHaveLength(2);
    await new Promise((res) => setTimeout(res, 20));
    expect(events.map((e) => e.stage)).toContain('validation candidates (BM25)');
    const bad = await api.rerankSet('lists-bad', val, 0);
    expect(bad).toEqual({ ok: false, error: { name: 'Error', message: expect.stringMatching(/integer ≥ 1/) } });
  });

  it('cancels building the validation lists by id', async () => {
    const val = Array.from({ length: 3000 }, (_, i) => ({ query: `第${i}段燃气设施改动`, pos: [`第${i}段：燃气设施改动应当报批，城市道路占用需要许可。`], neg: [`第${i}条：图书馆周一闭馆，公积金提取需要身份证。`] }));
    const p = api.rerankSet('slow-lists', val, 30);
    await new Promise((r) => setTimeout(r, 30));
    expect(await api.cancel('slow-lists')).toBe(true);
    const r = await p;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.name).toBe('AbortError');
  });

  it('zips the export, storing the named files uncompressed', async () => {
    const weights = new Uint8Array(4096).map((_, i) => (i * 7) % 256);
    const card = new TextEncoder().encode('# model\n'.repeat(200));
    const r = await api.zip({ 'model/model.safetensors': weights, 'model/README.md': card }, ['model/model.safetensors']);
    if (!r.ok) throw new Error(r.error.message);
    const methods: Record<string, number> = {};
    const out = unzipSync(r.value, { filter: (f) => ((methods[f.name] = f.compression), true) });
    expect(out['model/model.safetensors']).toEqual(weights);
    expect(out['model/README.md']).toEqual(card);
    expect(methods).toEqual({ 'model/model.safetensors': 0, 'model/README.md': 8 }); // 0 stored, 8 deflate
  });

  it('a large zip reports progress and can be cancelled (issue 8: export cancellable)', async () => {
    const big = new Uint8Array(40 << 20).map((_, i) => i & 255);
    const seen: Progress[] = [];
    const p = api.zip({ 'model/model.safetensors': big, 'data/train.jsonl': big.subarray(0, 1 << 20) }, ['model/model.safetensors'], 'zip-big', Comlink.proxy((e: Progress) => void seen.push(e)));
    await expect.poll(() => seen.length).toBeGreaterThan(1);
    expect(await api.cancel('zip-big')).toBe(true);
    const r = await p;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.name).toBe('AbortError');
    expect(seen[0]).toMatchObject({ stage: 'zip', total: (40 << 20) + (1 << 20) });
    expect(seen.at(-1)!.done).toBeLessThan((40 << 20) + (1 << 20));
  });
});
