import { describe, expect, it } from 'vitest';
import type { Chunk } from '../../../src/data/chunk.ts';
import type { IngestedDoc, IngestReport } from '../../../src/data/ingest.ts';
import { fileOf, fileRows, mergeDocs, mergeReports, outliers, selectChunks, spread } from '../../../src/app/lib/corpus.ts';

// Issue 8 item 9: a second folder adds to the corpus (replace on request); files are listed with their chunk counts,
// can be left out or capped; a file that would dominate the queries is flagged.

const doc = (source: string, text: string, hash = text): IngestedDoc => ({ source, text, format: 'text', hash });
const chunksOf = (source: string, n: number): Chunk[] => Array.from({ length: n }, (_, i) => ({ id: `${source}-${i}`, text: `${source} ${i}`, source, start: i, end: i + 1 }));
const report = (paths: string[]): IngestReport => ({
  files: paths.map((path) => ({ path, status: 'ok', bytes: 10, documents: 1, chars: 10 })),
  ok: paths.length, skipped: 0, failed: 0, documents: paths.length, chars: 10 * paths.length, reasons: {},
});

describe('adding a folder', () => {
  const first = [doc('a/燃气.txt', '燃气'), doc('a/供水.txt', '供水')];
  it('adds to the corpus by default, replaces a file dropped again under its path, skips duplicate texts', () => {
    const second = [doc('b/公交.txt', '公交'), doc('a/燃气.txt', '燃气 v2'), doc('b/copy.txt', '供水')];
    const m = mergeDocs(first, second, 'add');
    expect(m.docs.map((d) => d.source)).toEqual(['a/供水.txt', 'b/公交.txt', 'a/燃气.txt']);
    expect(m.replaced).toEqual(['a/燃气.txt']);
    expect(m.duplicates).toEqual([{ source: 'b/copy.txt', of: 'a/供水.txt' }]);
    const r = mergeReports(report(['a/燃气.txt', 'a/供水.txt']), report(['b/公交.txt', 'a/燃气.txt', 'b/copy.txt']), 'add', m.duplicates);
    expect(r.files.map((f) => f.path)).toEqual(['a/供水.txt', 'b/公交.txt', 'a/燃气.txt', 'b/copy.txt']);
    expect(r.ok).toBe(3);
    expect(r.files.at(-1)).toMatchObject({ status: 'skipped', reason: 'duplicate of a/供水.txt (already in the corpus)' });
  });
  it('replaces on request', () => {
    expect(mergeDocs(first, [doc('b/公交.txt', '公交')], 'replace').docs.map((d) => d.source)).toEqual(['b/公交.txt']);
    expect(mergeReports(report(['a/x.txt']), report(['b/y.txt']), 'replace').files.map((f) => f.path)).toEqual(['b/y.txt']);
  });
  it('records of a CSV belong to their file', () => {
    expect(fileOf('data/faq.csv#12')).toBe('data/faq.csv');
    expect(fileOf('a#b/c.txt')).toBe('a#b/c.txt');
  });
});

describe('choosing files', () => {
  const docs = [doc('big.txt', 'x'.repeat(1000)), doc('a.txt', 'a'), doc('b.txt', 'b'), doc('c.txt', 'c')];
  const all = [...chunksOf('big.txt', 3000), ...chunksOf('a.txt', 10), ...chunksOf('b.txt', 12), ...chunksOf('c.txt', 8)];

  it('lists files with their chunk counts and flags the one that would dominate', () => {
    const rows = fileRows(docs, all, { excluded: [], capPerFile: 0 });
    expect(rows.map((r) => [r.file, r.chunks, r.kept])).toEqual([['big.txt', 3000, 3000], ['a.txt', 10, 10], ['b.txt', 12, 12], ['c.txt', 8, 8]]);
    const o = outliers(rows);
    expect(o.map((x) => x.file)).toEqual(['big.txt']);
    expect(o[0].message).toContain('big.txt gives 3,000 of 3,030 chunks (99%');
    expect(o[0].message).toContain('50 min of query generation');
  });

  it('leaving a file out or capping chunks per file changes what goes on, and the warning goes away', () => {
    const left = { excluded: ['big.txt'], capPerFile: 0 };
    expect(selectChunks(all, left)).toHaveLength(30);
    expect(outliers(fileRows(docs, all, left))).toEqual([]);
    const capped = { excluded: [], capPerFile: 20 };
    const sel = selectChunks(all, capped);
    expect(sel).toHaveLength(20 + 10 + 12 + 8);
    // the cap samples the whole file, not its first 20 chunks
    const big = sel.filter((c) => c.source === 'big.txt').map((c) => c.start);
    expect(big[0]).toBe(0);
    expect(big.at(-1)).toBe(2850);
    expect(outliers(fileRows(docs, all, capped))).toEqual([]);
  });

  it('spread keeps order and picks evenly', () => {
    expect(spread([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 5)).toEqual([0, 2, 4, 6, 8]);
    expect(spread([1, 2], 5)).toEqual([1, 2]);
    expect(spread([1, 2, 3], 0)).toEqual([1, 2, 3]);
  });
});
