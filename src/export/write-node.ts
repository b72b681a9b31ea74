// Node only: writes an export (file name → chunks or bytes; names may have sub-folders, e.g. onnx/model.onnx or
// data/train.jsonl) into a directory through the atomic writer (src/util/atomic-file.ts): each sub-folder's files go
// to flushed temporaries and are then renamed into place, chunk by chunk, so a large model is never joined in memory
// and an interrupted export never leaves a torn model.onnx. Sub-folders are written before the top level, so a
// config.json that points at onnx/ only appears once onnx/ is complete.

import { writeFilesAtomic } from '../util/atomic-file.ts';

export class ExportWriteError extends Error {
  override name = 'ExportWriteError';
}

/** Splits a relative name into its folder and file name; refuses names that would land outside the output folder. */
function split(name: string): [folder: string, file: string] {
  const parts = name.split(/[\\/]/);
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name) || parts.some((p) => p === '..' || p === '.' || p === '')) {
    throw new ExportWriteError(`refusing to write ${name}: export file names must stay inside the output folder`);
  }
  return [parts.slice(0, -1).join('/'), parts[parts.length - 1]];
}

/** Writes every file under `dir`; returns the paths written. */
export async function writeExportFolder(dir: string, files: ReadonlyMap<string, Uint8Array | readonly Uint8Array[]>): Promise<string[]> {
  const byFolder = new Map<string, Map<string, Uint8Array | readonly Uint8Array[]>>();
  for (const [name, data] of files) {
    const [folder, file] = split(name);
    if (!byFolder.has(folder)) byFolder.set(folder, new Map());
    byFolder.get(folder)!.set(file, data);
  }
  const written: string[] = [];
  // Deepest folders first, the top level last.
  const depth = (f: string) => (f ? f.split('/').length : 0);
  for (const folder of [...byFolder.keys()].sort((a, b) => depth(b) - depth(a) || a.localeCompare(b))) {
    const target = folder ? `${dir}/${folder}` : dir;
    const group = byFolder.get(folder)!;
    await writeFilesAtomic(target, group);
    for (const file of group.keys()) written.push(`${target}/${file}`);
  }
  return written;
}
