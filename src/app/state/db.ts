// Persistence in this browser: a key-value store in IndexedDB (database 'rerank-lab-state') for the corpus,
// chunks, queries, dataset, settings and results; OPFS for the model folder (large binary files).
// The query cache (database 'rerank-lab') and the training worker's checkpoints (OPFS) live beside it; clearAll()
// removes all of them.

const DB = 'rerank-lab-state';
const STORE = 'kv';

let opening: Promise<IDBDatabase> | undefined;

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function db(): Promise<IDBDatabase> {
  opening ??= new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
    open.onblocked = () => reject(new Error('The lab is open in another tab that blocks its storage; close the other tab.'));
  });
  opening.catch(() => (opening = undefined));
  return opening;
}

export async function load<T>(key: string): Promise<T | undefined> {
  const d = await db();
  return (await req(d.transaction(STORE, 'readonly').objectStore(STORE).get(key))) as T | undefined;
}

export async function save(key: string, value: unknown): Promise<void> {
  const d = await db();
  await req(d.transaction(STORE, 'readwrite').objectStore(STORE).put(value, key));
}

export async function remove(key: string): Promise<void> {
  const d = await db();
  await req(d.transaction(STORE, 'readwrite').objectStore(STORE).delete(key));
}

async function opfsRoot(): Promise<FileSystemDirectoryHandle | undefined> {
  try {
    return await navigator.storage.getDirectory();
  } catch {
    return undefined; // OPFS unavailable (old browser, private mode)
  }
}

/** Stores the base model folder's files in OPFS under models/base/. */
export async function saveModelFiles(files: Record<string, Uint8Array>): Promise<void> {
  const root = await opfsRoot();
  if (!root) return;
  const models = await root.getDirectoryHandle('models', { create: true });
  await models.removeEntry('base', { recursive: true }).catch(() => {});
  const dir = await models.getDirectoryHandle('base', { create: true });
  for (const [name, bytes] of Object.entries(files)) {
    const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
    await w.write(bytes as Uint8Array<ArrayBuffer>);
    await w.close();
  }
}

export async function loadModelFiles(): Promise<Record<string, Uint8Array> | undefined> {
  const root = await opfsRoot();
  if (!root) return undefined;
  try {
    const dir = await (await root.getDirectoryHandle('models')).getDirectoryHandle('base');
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
  const d = await opening?.catch(() => undefined);
  d?.close();
  opening = undefined;
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
