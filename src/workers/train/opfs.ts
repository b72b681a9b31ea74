// The training worker's files in the browser's origin-private file system (OPFS): the latest checkpoint and the
// fine-tuned weights, so a reload (or a lost device) resumes instead of starting over. The page's "clear all"
// removes the whole OPFS, these included.
const DIR = 'train-worker';

/** The folder that holds `name` ('a/b' lives in train-worker/a), and the file's own name. */
async function dir(name: string): Promise<{ d: FileSystemDirectoryHandle; file: string } | undefined> {
  if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory) return undefined;
  let d = await (await navigator.storage.getDirectory()).getDirectoryHandle(DIR, { create: true });
  const parts = name.split('/');
  for (const p of parts.slice(0, -1)) d = await d.getDirectoryHandle(p, { create: true });
  return { d, file: parts[parts.length - 1] };
}

export async function opfsWrite(path: string, bytes: Uint8Array): Promise<void> {
  const at = await dir(path);
  if (!at) return;
  // A writable stream writes to a swap file that replaces the file only on close(), so a reload mid-write keeps the
  // previous version.
  const w = await (await at.d.getFileHandle(at.file, { create: true })).createWritable();
  await w.write(bytes as unknown as ArrayBuffer);
  await w.close();
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

/**
 * A checkpoint as several files (each tensor file stays under typed-array limits for large models). The state file is
 * removed first and written last, so a reload during a save finds either the previous complete checkpoint or none.
 */
export async function opfsWriteFolder(prefix: string, files: ReadonlyMap<string, Uint8Array>, stateFile: string): Promise<void> {
  await opfsDelete(`${prefix}/${stateFile}`);
  for (const [name, bytes] of files) if (name !== stateFile) await opfsWrite(`${prefix}/${name}`, bytes);
  const state = files.get(stateFile);
  if (state) await opfsWrite(`${prefix}/${stateFile}`, state);
}

export async function opfsReadFolder(prefix: string, names: readonly string[]): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const n of names) {
    const b = await opfsRead(`${prefix}/${n}`);
    if (b) out.set(n, b);
  }
  return out;
}
