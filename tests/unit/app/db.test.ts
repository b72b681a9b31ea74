// The page's key-value state (src/app/state/db.ts) on fake-indexeddb: what a save promises (issue 10: resolved only
// once committed), that state saved by earlier builds still loads, and that clearAll really deletes it.
import { abortWritesAfterPut, openOldStyle } from '../helpers/idb.ts';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clearAll, load, remove, save } from '../../../src/app/state/db.ts';

beforeEach(() => {
  vi.stubGlobal('localStorage', { clear: vi.fn() });
});

/** clearAll, failing fast when a connection of ours is left open (that blocks the deletion for ever). */
async function clearAllSoon(): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('clearAll did not finish in 5 s: an open connection blocks deleting the database')), 5000);
  });
  await Promise.race([clearAll(), late]).finally(() => clearTimeout(timer));
}

afterEach(async () => {
  vi.restoreAllMocks();
  await clearAllSoon();
  vi.unstubAllGlobals();
});

// A connection left open would make every later open wait for ever: fail within seconds instead.
describe('page state in IndexedDB', { timeout: 10_000 }, () => {
  it('loads what was saved (a structured clone), forgets what was removed', async () => {
    expect(await load('chunks')).toBeUndefined();
    const chunks = [{ id: 'a', text: '燃气设施', scores: new Float32Array([0.5, -1]) }];
    await save('chunks', chunks);
    const back = await load<typeof chunks>('chunks');
    expect(back).toEqual(chunks);
    expect(back).not.toBe(chunks);
    await remove('chunks');
    expect(await load('chunks')).toBeUndefined();
  });

  it('a save whose transaction aborts after the put succeeded (quota) rejects with a message, and keeps the old value', async () => {
    await save('queries', ['old']);
    abortWritesAfterPut();
    const err = await save('queries', ['new']).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/free some space/);
    vi.restoreAllMocks();
    expect(await load('queries')).toEqual(['old']);
  });

  it('reads state that the hand-written store of earlier builds saved (same database, store and keys)', async () => {
    await clearAllSoon(); // no connection of ours is open
    const db = await openOldStyle('rerank-lab-state', 'kv');
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('kv', 'readwrite');
      tx.objectStore('kv').put({ step: 3 }, 'settings');
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    db.close();
    expect(await load('settings')).toEqual({ step: 3 });
  });

  it('clearAll deletes the database and local settings, and saving works again afterwards', async () => {
    await save('step', 4);
    await clearAllSoon();
    expect((await indexedDB.databases()).map((d) => d.name)).not.toContain('rerank-lab-state');
    expect(localStorage.clear).toHaveBeenCalled();
    expect(await load('step')).toBeUndefined();
    await save('step', 5);
    expect(await load('step')).toBe(5);
  });
});
