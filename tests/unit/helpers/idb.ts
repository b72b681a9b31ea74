// IndexedDB in Node for the page's stores: fake-indexeddb installs the globals (indexedDB, IDBObjectStore, …).
import 'fake-indexeddb/auto';
import { vi } from 'vitest';

/**
 * Makes every put of the running test succeed and then aborts its transaction, as a quota error does in a browser
 * (the request reports success; the commit fails). A store that resolved a write on the request alone would
 * report the write as saved.
 */
export function abortWritesAfterPut(): void {
  const put = IDBObjectStore.prototype.put;
  vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
    const req = put.apply(this, args);
    req.addEventListener('success', () => this.transaction.abort());
    return req;
  });
}

/** Opens a database at version 1 with one object store, as the hand-written stores before idb-keyval did. */
export function openOldStyle(name: string, store: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(store);
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}
