// Persistence in this browser: a key-value store in IndexedDB (database 'rerank-lab-state') for the corpus,
// chunks, queries, dataset, settings and results; OPFS for the model folder (large binary files).
// The query cache (database 'rerank-lab') and the training worker's checkpoints (OPFS) live beside it; clearAll()
// removes all of them.
// Nothing is half-written: a save resolves only when its IndexedDB transaction has committed (a quota error aborts
// the transaction after the request itself succeeded, so waiting for the request alone reported success), and the
// model folder is written into a new OPFS folder that a pointer file switches to once it is complete.

import { createStore, del, get, set, type UseStore } from 'idb-keyval';

const DB = 'rerank-lab-state';
const STORE = 'kv';

// idb-keyval opens the database on first use and again after a failed open; set/del resolve on the transaction's
// commit and reject when it aborts (a quota error), which is the guarantee the page relies on.
let store: UseStore | undefined;
const kv = () => (store ??= createStore(DB, STORE));

/** A transaction aborted without an error (never by us) rejects with null: give the page a message to show. */
const asError = (e: unknown) => {
  throw e ?? new Error('the write was aborted by the browser; free some space and try again');
};

export const load = <T>(key: string): Promise<T | undefined> => get<T>(key, kv());
export const save = (key: string, value: unknown): Promise<void> => set(key, value, kv()).catch(asError);
export const remove = (key: string): Promise<void> => del(key, kv()).catch(asError);

async function opfsRoot(): Promise<FileSystemDirectoryHandle | undefined> {
  try {
    return await navigator.storage.getDirectory();
  } catch {
    return undefined; // OPFS unavailable (old browser, private mode)
  }
}

const MODEL_DIRS = ['base-a', 'base-b'];
const MODEL_POINTER = 'current';

async function readPointer(models: FileSystemDirectoryHandle): Promise<string | undefined> {
  try {
    return (await (await models.getFileHandle(MODEL_POINTER)).getFile().then((f) => f.text())).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stores the base model folder's files in OPFS under models/base-a/ or models/base-b/ (the one not in use), then
 * switches models/current to it and deletes the other: a reload mid-save keeps the previous model whole.
 */
export async function saveModelFiles(files: Record<string, Uint8Array>): Promise<void> {
  const root = await opfsRoot();
  if (!root) return;
  const models = await root.getDirectoryHandle('models', { create: true });
  const target = (await readPointer(models)) === MODEL_DIRS[0] ? MODEL_DIRS[1] : MODEL_DIRS[0];
  await models.removeEntry(target, { recursive: true }).catch(() => {});
  const dir = await models.getDirectoryHandle(target, { create: true });
  for (const [name, bytes] of Object.entries(files)) {
    const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
    try {
      await w.write(bytes as Uint8Array<ArrayBuffer>);
      await w.close();
    } catch (e) {
      await w.abort().catch(() => {});
      await models.removeEntry(target, { recursive: true }).catch(() => {});
      throw new Error(`Could not store the model file ${name} in this browser: ${(e as Error).message}. Free some space and try again; the previous model is kept.`);
    }
  }
  const p = await (await models.getFileHandle(MODEL_POINTER, { create: true })).createWritable();
  await p.write(target);
  await p.close();
  for (const other of [...MODEL_DIRS.filter((d) => d !== target), 'base']) await models.removeEntry(other, { recursive: true }).catch(() => {});
}

export async function loadModelFiles(): Promise<Record<string, Uint8Array> | undefined> {
  const root = await opfsRoot();
  if (!root) return undefined;
  try {
    const models = await root.getDirectoryHandle('models');
    // 'base': where builds before the pointer kept it
    const dir = await models.getDirectoryHandle((await readPointer(models)) ?? 'base');
    const out: Record<string, Uint8Array> = {};
    for await (const [name, h] of dir as unknown as AsyncIterable<[string, FileSystemHandle]>) {
      if (h.kind === 'file') out[name] = new Uint8Array(await (await (h as FileSystemFileHandle).getFile()).arrayBuffer());
    }
    return Object.keys(out).length ? out : undefined;
  } catch {
    return undefined;
  }
}

/** Deletes everything the lab stored in this browser: state, query cache, OPFS (model, checkpoints), local settings. */
export async function clearAll(): Promise<void> {
  // our own open connection would block the deletion
  await store?.('readonly', (s) => s.transaction.db.close()).catch(() => undefined);
  store = undefined;
  const del = (name: string) =>
    new Promise<void>((resolve) => {
      const r = indexedDB.deleteDatabase(name);
      r.onsuccess = r.onerror = r.onblocked = () => resolve();
    });
  await del(DB);
  await del('rerank-lab');
  const root = await opfsRoot();
  if (root) {
    for await (const [name] of root as unknown as AsyncIterable<[string, FileSystemHandle]>) {
      await root.removeEntry(name, { recursive: true }).catch(() => {});
    }
  }
  localStorage.clear();
}

export interface StorageInfo {
  usage?: number;
  quota?: number;
  persisted?: boolean;
}

/** Asks the browser to keep the lab's data under storage pressure, then reports usage. */
export async function storageInfo(askPersist: boolean): Promise<StorageInfo> {
  const out: StorageInfo = {};
  if (!navigator.storage) return out;
  try {
    out.persisted = askPersist && navigator.storage.persist ? await navigator.storage.persist() : await navigator.storage.persisted?.();
  } catch {
    /* some browsers refuse without a user gesture */
  }
  try {
    const e = await navigator.storage.estimate();
    out.usage = e.usage;
    out.quota = e.quota;
  } catch {
    /* estimate unsupported */
  }
  return out;
}
