// The training worker's files in the browser's origin-private file system (OPFS): the latest checkpoint and the
// fine-tuned weights, so a reload (or a lost device) resumes instead of starting over. The page's "clear all"
// removes the whole OPFS, these included.
//
// One file is written through createWritable(), whose swap file replaces the file only on close(): a reload mid-write
// keeps the previous version. A checkpoint is several files, and OPFS cannot rename folders, so it swaps slots as the
// Node store swaps folders (train/checkpoint-node.ts): it is written completely into the slot not in use
// (`checkpoint-a/` or `checkpoint-b/`, trainer_state.json last), then `checkpoint.current` is switched to it (one
// atomic file write), then the other slot is deleted. A reload at any moment finds a complete checkpoint: loading
// takes the newest complete slot (by its step), whichever `checkpoint.current` names.
const DIR = 'train-worker';
const SLOTS = ['checkpoint-a', 'checkpoint-b'] as const;
const POINTER = 'checkpoint.current';
/** Where builds before the slots kept the checkpoint (still read, removed on the next save). */
const LEGACY = 'checkpoint';

type Root = () => Promise<FileSystemDirectoryHandle | undefined>;

const browserRoot: Root = async () => {
  if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory) return undefined;
  return (await navigator.storage.getDirectory()).getDirectoryHandle(DIR, { create: true });
};
let root: Root = browserRoot;

/** Tests only: an in-memory directory in place of OPFS. */
export function setOpfsRootForTests(r: Root | undefined): void {
  root = r ?? browserRoot;
}

/** The folder that holds `name` ('a/b' lives in train-worker/a), and the file's own name. */
async function dir(name: string): Promise<{ d: FileSystemDirectoryHandle; file: string } | undefined> {
  let d = await root();
  if (!d) return undefined;
  const parts = name.split('/');
  for (const p of parts.slice(0, -1)) d = await d.getDirectoryHandle(p, { create: true });
  return { d, file: parts[parts.length - 1] };
}

export async function opfsWrite(path: string, bytes: Uint8Array): Promise<void> {
  const at = await dir(path);
  if (!at) return;
  // A writable stream writes to a swap file that replaces the file only on close(), so a reload mid-write keeps the
  // previous version; a failed write (quota) is aborted so the swap file does not linger.
  const w = await (await at.d.getFileHandle(at.file, { create: true })).createWritable();
  try {
    await w.write(bytes as unknown as ArrayBuffer);
    await w.close();
  } catch (e) {
    await w.abort().catch(() => undefined);
    throw new Error(`Could not save ${path} in this browser's storage: ${(e as Error).message}. Free some space (Clear all, or other sites' data) and try again; the previous version is kept.`);
  }
}

export async function opfsRead(path: string): Promise<Uint8Array | undefined> {
  const at = await dir(path);
  if (!at) return undefined;
  try {
    const f = await (await at.d.getFileHandle(at.file)).getFile();
    return new Uint8Array(await f.arrayBuffer());
  } catch {
    return undefined;
  }
}

export async function opfsDelete(path: string): Promise<void> {
  const at = await dir(path);
  try {
    await at?.d.removeEntry(at.file, { recursive: true });
  } catch {
    /* not there */
  }
}

export async function opfsReadFolder(prefix: string, names: readonly string[]): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const n of names) {
    const b = await opfsRead(`${prefix}/${n}`);
    if (b) out.set(n, b);
  }
  return out;
}

const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : '');

/** The step a slot's state file records, or undefined when the slot holds no complete checkpoint. */
async function slotStep(slot: string, stateFile: string): Promise<number | undefined> {
  const raw = await opfsRead(`${slot}/${stateFile}`);
  if (!raw) return undefined;
  try {
    const s = JSON.parse(text(raw)) as { step?: unknown };
    return typeof s.step === 'number' ? s.step : -1;
  } catch {
    return -1; // present but unreadable: loading it says why
  }
}

/**
 * Each run slot keeps its checkpoint under its own folder prefix: '' for the main training run (the paths above), e.g.
 * 'sweep/' for the hyper-parameter sweep's trials, so a trial never touches the main run's checkpoint.
 */
const at = (prefix: string) => ({ slots: SLOTS.map((s) => `${prefix}${s}`), pointer: `${prefix}${POINTER}`, legacy: `${prefix}${LEGACY}` });

/** The newest complete checkpoint's slot (and its step), or undefined when there is none. */
export async function checkpointSlot(stateFile: string, prefix = ''): Promise<{ slot: string; step: number } | undefined> {
  const { slots, pointer, legacy } = at(prefix);
  const current = text(await opfsRead(pointer)).trim();
  let best: { slot: string; step: number } | undefined;
  for (const slot of [current, ...slots, legacy].filter((s, i, all) => s && all.indexOf(s) === i)) {
    const step = await slotStep(slot, stateFile);
    if (step !== undefined && (!best || step > best.step)) best = { slot, step };
  }
  return best;
}

/** Saves a checkpoint (files by name; `stateFile` is written last) by the slot swap described above. */
export async function opfsSaveCheckpoint(files: ReadonlyMap<string, Uint8Array>, stateFile: string, prefix = ''): Promise<void> {
  const { slots, pointer, legacy } = at(prefix);
  const current = (await checkpointSlot(stateFile, prefix))?.slot;
  const target = current === slots[0] ? slots[1] : slots[0];
  await opfsDelete(target); // an interrupted save's partial slot, or the one before the current
  for (const [name, bytes] of files) if (name !== stateFile) await opfsWrite(`${target}/${name}`, bytes);
  const state = files.get(stateFile);
  if (state) await opfsWrite(`${target}/${stateFile}`, state);
  await opfsWrite(pointer, new TextEncoder().encode(target));
  for (const s of [...slots, legacy]) if (s !== target) await opfsDelete(s);
}

/** The newest complete checkpoint's files, or undefined when there is none. */
export async function opfsLoadCheckpoint(names: readonly string[], stateFile: string, prefix = ''): Promise<Map<string, Uint8Array> | undefined> {
  const found = await checkpointSlot(stateFile, prefix);
  return found ? opfsReadFolder(found.slot, names) : undefined;
}

/** Deletes every checkpoint slot (a new run, or a finished one). */
export async function opfsDeleteCheckpoint(prefix = ''): Promise<void> {
  const { slots, pointer, legacy } = at(prefix);
  for (const s of [...slots, legacy, pointer]) await opfsDelete(s);
}
