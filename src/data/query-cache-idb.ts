// Page: a query cache in IndexedDB (database 'rerank-lab', store 'query-cache'), which survives reloads.
// Untested in Node (no IndexedDB there); the page's end-to-end tests cover it.

import type { QueryCache } from './query-cache.ts';

const req = <T>(r: IDBRequest<T>) =>
  new Promise<T>((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

export class IndexedDbCache implements QueryCache {
  private constructor(private readonly db: IDBDatabase) {}

  static async open(name = 'rerank-lab', store = 'query-cache'): Promise<IndexedDbCache> {
    if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available here; use MemoryCache (or FileCache in Node).');
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => {
      if (!open.result.objectStoreNames.contains(store)) open.result.createObjectStore(store);
    };
    const db = await req(open);
    const cache = new IndexedDbCache(db);
    cache.store = store;
    return cache;
  }

  private store = 'query-cache';

  async get(key: string): Promise<string | undefined> {
    const v = await req(this.db.transaction(this.store, 'readonly').objectStore(this.store).get(key));
    return typeof v === 'string' ? v : undefined;
  }

  /** Resolves once the write has committed: a quota error aborts the transaction after the put itself succeeded,
   * and query generation must hear it (it stops rather than pay for answers it cannot keep). */
  async set(key: string, value: string): Promise<void> {
    const tx = this.db.transaction(this.store, 'readwrite');
    tx.objectStore(this.store).put(value, key);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(new Error(`the query cache in this browser could not be written (${tx.error?.message ?? 'aborted'}): free some space`));
      tx.onerror = () => reject(new Error(`the query cache in this browser could not be written (${tx.error?.message ?? 'failed'})`));
    });
  }
}
