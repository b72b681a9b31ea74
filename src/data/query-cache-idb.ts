// Page: a query cache in IndexedDB (database 'rerank-lab', store 'query-cache'), which survives reloads.
// Node has no IndexedDB: tests/unit/data/query-cache-idb.test.ts runs it on fake-indexeddb.

import { createStore, get, set, type UseStore } from 'idb-keyval';
import type { QueryCache } from './query-cache.ts';

export class IndexedDbCache implements QueryCache {
  private constructor(private readonly store: UseStore) {}

  static async open(name = 'rerank-lab', store = 'query-cache'): Promise<IndexedDbCache> {
    if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available here; use MemoryCache (or FileCache in Node).');
    const cache = new IndexedDbCache(createStore(name, store));
    await cache.get(''); // opens the database now, so that a browser refusing storage is heard here
    return cache;
  }

  async get(key: string): Promise<string | undefined> {
    const v = await get<unknown>(key, this.store);
    return typeof v === 'string' ? v : undefined;
  }

  /** Resolves once the write has committed (idb-keyval waits for the transaction): a quota error aborts the
   * transaction after the put itself succeeded, and query generation must hear it (it stops rather than pay for
   * answers it cannot keep). */
  async set(key: string, value: string): Promise<void> {
    await set(key, value, this.store).catch((e: unknown) => {
      throw new Error(`the query cache in this browser could not be written (${(e as Error | null)?.message ?? 'aborted'}): free some space`);
    });
  }
}
