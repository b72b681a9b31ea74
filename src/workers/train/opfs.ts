// The training worker's files in the browser's origin-private file system (OPFS): the latest checkpoint and the
// fine-tuned weights, so a reload (or a lost device) resumes instead of starting over. The page's "clear all"
// removes the whole OPFS, these included.
const DIR = 'train-worker';

async function dir(): Promise<FileSystemDirectoryHandle | undefined> {
  if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory) return undefined;
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(DIR, { create: true });
}

export async function opfsWrite(name: string, bytes: Uint8Array): Promise<void> {
  const d = await dir();
  if (!d) return;
  // Write to a temporary name, then swap, so a reload in the middle of a write never leaves half a checkpoint.
  const tmp = await d.getFileHandle(`${name}.tmp`, { create: true });
  const w = await tmp.createWritable();
  await w.write(bytes as unknown as ArrayBuffer);
  await w.close();
  const file = await tmp.getFile();
  const target = await d.getFileHandle(name, { create: true });
  const w2 = await target.createWritable();
  await w2.write(file);
  await w2.close();
  await d.removeEntry(`${name}.tmp`);
}

export async function opfsRead(name: string): Promise<Uint8Array | undefined> {
  const d = await dir();
  if (!d) return undefined;
  try {
    const f = await (await d.getFileHandle(name)).getFile();
    return new Uint8Array(await f.arrayBuffer());
  } catch {
    return undefined;
  }
}

export async function opfsDelete(name: string): Promise<void> {
  const d = await dir();
  try {
    await d?.removeEntry(name);
  } catch {
    /* not there */
  }
}
