// Node only: the one way every output of the command line reaches the disk (chunks, queries, training sets, model
// files, reports, checkpoints). Each file is written to a temporary name beside it, flushed to the disk (fsync),
// then renamed over the target, so a kill or a full disk leaves either the previous file or the new one — never a
// torn or empty one. Every I/O error names its path and says what to do.
//
//   writeFileAtomic(path, data)     one file (data: bytes, text, or an iterable of pieces for large outputs)
//   writeFilesAtomic(dir, files)    several files of one folder: every temporary is written and flushed first, then
//                                   all are renamed (a failure while writing changes nothing in the folder)
//   ioError(path, e, doing)         the error every reader and writer throws: path, plain reason, what to do
//
// Temporaries are named `.<name>.tmp-<pid>-<n>`; ones left by a killed process (its pid no longer runs) are removed
// the next time that file is written.
// node:fs is imported lazily (as in hf-folder.ts) so modules the page also bundles may import this file.

import { testPoint } from './test-point.ts';

const fsp = () => import(/* @vite-ignore */ 'node:fs/promises');
const sep = (p: string) => Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
const dirname = (p: string) => (sep(p) < 0 ? '.' : sep(p) === 0 ? p.slice(0, 1) : p.slice(0, sep(p)));
const basename = (p: string) => p.slice(sep(p) + 1);
const join = (dir: string, name: string) => (dir.endsWith('/') || dir.endsWith('\\') ? dir + name : `${dir}/${name}`);

export class OutputError extends Error {
  override name = 'OutputError';
  constructor(
    message: string,
    readonly path: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

const REASONS: Record<string, [reason: string, advice: string]> = {
  ENOSPC: ['the disk is full', 'free some space (or choose another folder) and run again'],
  EDQUOT: ['the disk quota is exhausted', 'free some space (or choose another folder) and run again'],
  EACCES: ['permission denied', 'choose a folder you can write to, or fix its permissions'],
  EPERM: ['the operation is not permitted', 'choose a folder you can write to, or fix its permissions'],
  EROFS: ['the file system is read-only', 'choose a folder on a writable disk'],
  EISDIR: ['it is a folder', 'give a file name, not a folder'],
  ENOTDIR: ['a part of the path is a file, not a folder', 'check the path'],
  ENOENT: ['no such file or folder', 'check the path'],
  EMFILE: ['too many files are open', 'close other programs (or raise ulimit -n) and run again'],
  EIO: ['the disk reported an I/O error', 'check the disk (it may be failing or disconnected) and run again'],
  ENAMETOOLONG: ['the name is too long', 'choose a shorter path'],
};

/** An I/O error as the user should read it: `cannot <doing> <path>: <reason> (<CODE>). <advice>.` */
export function ioError(path: string, e: unknown, doing = 'write', after = ''): OutputError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const known = code ? REASONS[code] : undefined;
  const reason = known ? `${known[0]} (${code})` : (e as Error)?.message ?? String(e);
  const advice = known ? known[1] : 'check the path and the disk, then run again';
  return new OutputError(`cannot ${doing} ${path}: ${reason}. ${advice[0].toUpperCase()}${advice.slice(1)}${after ? `; ${after}` : ''}.`, path, code);
}

let counter = 0;

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `.<name>.tmp-<pid>-<n>` files (or folders) in `dir` whose writing process no longer runs. */
export async function removeStaleTemps(dir: string, name: string): Promise<string[]> {
  const prefix = `.${name}.tmp-`;
  const removed: string[] = [];
  const { readdir, rm } = await fsp();
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return removed;
  }
  for (const e of entries) {
    if (!e.startsWith(prefix)) continue;
    const pid = Number(e.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && isRunning(pid)) continue;
    await rm(join(dir, e), { recursive: true, force: true });
    removed.push(e);
  }
  return removed;
}

/** A fresh temporary name beside `path` (same folder, so the rename never crosses file systems). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${++counter}`);
}

type Data = string | Uint8Array | Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;

async function writeTemp(tmp: string, data: Data): Promise<void> {
  const fh = await (await fsp()).open(tmp, 'wx');
  try {
    const pieces: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array> = typeof data === 'string' || data instanceof Uint8Array ? [data] : data;
    // FileHandle.writeFile writes all of it from the current position (write() may write part of a buffer)
    for await (const p of pieces) await fh.writeFile(p);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Flushes a folder's entry list (the renames) to the disk; some file systems refuse, which is harmless. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await (await fsp()).open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* not supported here */
  }
}

async function ensureDir(dir: string): Promise<void> {
  try {
    await (await fsp()).mkdir(dir, { recursive: true });
  } catch (e) {
    throw ioError(dir, e, 'create the folder');
  }
}

/** Writes `data` to `path` through a flushed temporary and a rename: `path` is the old file or the new, never torn. */
export async function writeFileAtomic(path: string, data: Data): Promise<void> {
  const { rename, rm } = await fsp();
  const dir = dirname(path);
  await ensureDir(dir);
  await removeStaleTemps(dir, basename(path));
  const tmp = tempPathFor(path);
  try {
    await writeTemp(tmp, data);
    testPoint(`write:${basename(path)}`);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    if (e instanceof OutputError) throw e;
    throw ioError(path, e, 'write', 'the previous file, if any, is unchanged');
  }
  await syncDir(dir);
}

/**
 * Writes several files into `dir`: first every one to its flushed temporary, then the renames. A failure while
 * writing (a full disk) removes the temporaries and leaves the folder as it was.
 */
export async function writeFilesAtomic(dir: string, files: ReadonlyMap<string, Data>): Promise<void> {
  const { rename, rm } = await fsp();
  await ensureDir(dir);
  const temps: [tmp: string, path: string][] = [];
  try {
    for (const [name, data] of files) {
      if (name.includes('/') || name.includes('\\') || name === '..' || name === '.') throw new OutputError(`refusing to write '${name}' into ${dir}: file names must not contain a path`, join(dir, name), undefined);
      const path = join(dir, name);
      await removeStaleTemps(dir, name);
      const tmp = tempPathFor(path);
      temps.push([tmp, path]);
      try {
        await writeTemp(tmp, data);
      } catch (e) {
        throw ioError(path, e, 'write', `nothing in ${dir} was changed`);
      }
    }
    testPoint(`write-folder:${basename(dir)}`);
    for (const [tmp, path] of temps) {
      try {
        await rename(tmp, path);
      } catch (e) {
        throw ioError(path, e, 'write');
      }
    }
  } catch (e) {
    for (const [tmp] of temps) await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await syncDir(dir);
}

/** JSON Lines as pieces of about 1 MB, so a large output never becomes one giant string. */
export function* jsonlPieces(items: Iterable<unknown>): Generator<string> {
  let buf = '';
  for (const it of items) {
    buf += JSON.stringify(it) + '\n';
    if (buf.length > 1 << 20) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}
