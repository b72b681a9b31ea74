// Node only: writes an export (files given as chunks, names with sub-folders such as onnx/model.onnx) into a
// directory, one chunk after another so a large model is never joined in memory. Each file is written under a
// temporary name and renamed into place, so an interrupted export never leaves a truncated model.onnx behind.

import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';

export class ExportWriteError extends Error {
  override name = 'ExportWriteError';
}

/** Refuses names that would land outside `dir` (absolute paths, '..'). */
function target(dir: string, name: string): string {
  const rel = normalize(name);
  if (rel.startsWith('..') || rel.startsWith(sep) || /^[a-zA-Z]:/.test(rel) || rel.split(/[\\/]/).includes('..')) {
    throw new ExportWriteError(`refusing to write ${name}: export file names must stay inside the output folder`);
  }
  return join(dir, rel);
}

export async function writeChunkedFile(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.partial-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    for (const c of chunks) await fh.write(c);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
}

/** Writes every file (name → chunks, or one buffer) under `dir`. */
export async function writeExportFolder(dir: string, files: ReadonlyMap<string, Uint8Array | readonly Uint8Array[]>): Promise<string[]> {
  const written: string[] = [];
  for (const [name, data] of files) {
    const path = target(dir, name);
    await writeChunkedFile(path, data instanceof Uint8Array ? [data] : data);
    written.push(path);
  }
  return written;
}
