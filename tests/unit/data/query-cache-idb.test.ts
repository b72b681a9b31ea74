// The page's query cache (IndexedDbCache) on fake-indexeddb: answers survive a new connection, a write that does not
// commit is an error that query generation hears (issue 10), and a missing IndexedDB says what to use instead.
import { abortWritesAfterPut } from '../helpers/idb.ts';
import { createStore, set } from 'idb-keyval';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IndexedDbCache } from '../../../src/data/query-cache-idb.ts';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe('IndexedDbCache', () => {
  it('keeps answers across connections; a key never written, or holding no string, is a miss', async () => {
    const a = await IndexedDbCache.open('cache-test-1');
    expect(await a.get('k')).toBeUndefined();
    await a.set('k', '["谁审批挖路"]');
    const b = await IndexedDbCache.open('cache-test-1');
    expect(await b.get('k')).toBe('["谁审批挖路"]');
    await set('n', 42, createStore('cache-test-1', 'query-cache'));
    expect(await b.get('n')).toBeUndefined();
  });

  it('a write whose transaction aborts after the put succeeded (quota) rejects, and nothing is kept', async () => {
    const c = await IndexedDbCache.open('cache-test-2');
    abortWritesAfterPut();
    await expect(c.set('k', 'v')).rejects.toThrow(/query cache in this browser could not be written.*free some space/);
    vi.restoreAllMocks();
    expect(await c.get('k')).toBeUndefined();
  });

  it('says to use another cache where there is no IndexedDB', async () => {
    vi.stubGlobal('indexedDB', undefined);
    await expect(IndexedDbCache.open('cache-test-3')).rejects.toThrow(/IndexedDB is not available here; use MemoryCache/);
  });
});
