// Node only: a checkpoint folder that a kill at any moment leaves usable. A save is a swap:
//   1. write the new checkpoint into `.checkpoint.tmp-<pid>-<n>/`, every file flushed, trainer_state.json last
//   2. rename `checkpoint/` → `.checkpoint.old-<pid>-<n>/`          (rename-old)
//   3. rename the temporary → `checkpoint/`                        (install-new)
//   4. delete the old one                                          (delete-old)
// A kill between 1 and 2 leaves the previous checkpoint in place and a complete new one beside it; between 2 and 3
// the old one and the new one beside an empty place; between 3 and 4 the new one in place. recoverCheckpointFolder()
// (run before every load and save) puts the newest complete one in place and removes the rest, so --resume never says "no checkpoint" while a complete
// one lies beside it, and no temporary is left in the model folder. A temporary is complete when its
// trainer_state.json exists (written, through its own temporary, only after every tensor file was flushed).

import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readFolderNode } from '../model/hf-folder.ts';
import { OutputError, ioError, writeFileAtomic, writeFilesAtomic } from '../util/atomic-file.ts';
import { testPoint } from '../util/test-point.ts';
import { CHECKPOINT_FILES, type Checkpoint, CheckpointError, checkpointFromFiles, checkpointToFiles } from './checkpoint.ts';

let counter = 0;

interface Candidate {
  path: string;
  kind: 'current' | 'new (interrupted save)' | 'previous (interrupted save)';
  step: number;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

async function stateStep(dir: string): Promise<number | undefined> {
  try {
    const s = JSON.parse(await readFile(join(dir, CHECKPOINT_FILES.state), 'utf8')) as { step?: unknown };
    return typeof s.step === 'number' ? s.step : undefined;
  } catch {
    return undefined;
  }
}

/** Temporaries and old copies of `dir` beside it: this build's hidden names and the older `checkpoint.tmp-<time>`. */
async function sideFolders(dir: string): Promise<{ temps: string[]; olds: string[] }> {
  const parent = dirname(dir);
  const name = basename(dir);
  let entries: string[] = [];
  try {
    entries = await readdir(parent);
  } catch {
    /* no parent yet */
  }
  const pick = (...prefixes: string[]) => entries.filter((e) => prefixes.some((p) => e.startsWith(p))).map((e) => join(parent, e));
  return { temps: pick(`.${name}.tmp-`, `${name}.tmp-`), olds: pick(`.${name}.old-`) };
}

function writerAlive(path: string): boolean {
  const m = /\.(?:tmp|old)-(\d+)-\d+$/.exec(path);
  if (!m) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface Recovery {
  /** What is now in place: nothing, the checkpoint that was there, or one recovered from an interrupted save. */
  found: 'none' | Candidate['kind'];
  step?: number;
  /** A sentence for the user when something was recovered or cleaned. */
  note?: string;
}

/**
 * Makes `dir` hold the newest complete checkpoint there is, by step: the one in place, or a complete new or old copy
 * an interrupted save left beside it (a kill right after the new copy was flushed leaves it newer than the one in
 * place), and removes every other copy. Folders of a process still running are left alone.
 */
export async function recoverCheckpointFolder(dir: string): Promise<Recovery> {
  const { temps, olds } = await sideFolders(dir);
  const side: Candidate[] = [];
  const stale: string[] = [];
  for (const [list, kind] of [[temps, 'new (interrupted save)'], [olds, 'previous (interrupted save)']] as const) {
    for (const p of list) {
      if (writerAlive(p)) continue;
      const step = await stateStep(p);
      if (step === undefined) stale.push(p);
      else side.push({ path: p, kind, step });
    }
  }
  let result: Recovery;
  const inPlace = await exists(join(dir, CHECKPOINT_FILES.state));
  const currentStep = inPlace ? await stateStep(dir) : undefined;
  // newest first; at the same step the one in place wins, then a new copy over an old one (written later)
  side.sort((a, b) => b.step - a.step || (a.kind < b.kind ? -1 : 1));
  const newer = side[0] && (!inPlace || (currentStep !== undefined && side[0].step > currentStep)) ? side[0] : undefined;
  if (newer) {
    const aside = join(dirname(dir), `.${basename(dir)}.old-${process.pid}-r${++counter}`);
    try {
      if (await exists(dir)) await rename(dir, aside); // an incomplete or older folder: removed below
      await rename(newer.path, dir);
    } catch (e) {
      throw ioError(dir, e, 'recover the checkpoint into');
    }
    stale.push(aside, ...side.slice(1).map((c) => c.path));
    result = { found: newer.kind, step: newer.step, note: `recovered the checkpoint of step ${newer.step} that an interrupted save left complete (${basename(newer.path)}) into ${dir}` };
  } else {
    // the one in place (even when its state cannot be parsed: loading it says why; it is never silently replaced)
    stale.push(...side.map((c) => c.path));
    result = inPlace ? { found: 'current', step: currentStep } : { found: 'none' };
  }
  for (const p of stale) await rm(p, { recursive: true, force: true });
  if (stale.length && !result.note) result.note = `removed ${stale.length} leftover folder(s) of an interrupted checkpoint save`;
  return result;
}

/** Writes `c` into `dir` by the swap described above; returns the bytes written. */
export async function saveCheckpointFolder(dir: string, c: Checkpoint): Promise<number> {
  const files = checkpointToFiles(c);
  await recoverCheckpointFolder(dir); // also removes what a killed save left
  const parent = dirname(dir);
  const name = basename(dir);
  const tag = `${process.pid}-${++counter}`;
  const tmp = join(parent, `.${name}.tmp-${tag}`);
  const old = join(parent, `.${name}.old-${tag}`);
  try {
    const tensors = new Map([...files].filter(([n]) => n !== CHECKPOINT_FILES.state));
    await writeFilesAtomic(tmp, tensors);
    testPoint('checkpoint:tensors-written');
    await writeFileAtomic(join(tmp, CHECKPOINT_FILES.state), files.get(CHECKPOINT_FILES.state)!);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (e instanceof OutputError) throw new OutputError(`${e.message.replace(/\.$/, '')}; the previous checkpoint in ${dir} is kept.`, e.path, e.code);
    throw e;
  }
  testPoint('checkpoint:written');
  const hadOld = await exists(dir);
  try {
    if (hadOld) await rename(dir, old);
    testPoint('checkpoint:old-moved');
    await rename(tmp, dir);
    testPoint('checkpoint:installed');
  } catch (e) {
    throw ioError(dir, e, 'install the new checkpoint in', 'run again with --resume: the complete checkpoint beside it is recovered');
  }
  if (hadOld) await rm(old, { recursive: true, force: true });
  let bytes = 0;
  for (const b of files.values()) bytes += b.byteLength;
  return bytes;
}

export { saveCheckpointFolder as saveCheckpointNode };

/** Reads the checkpoint in `dir` (after recovering an interrupted save); checksums and finiteness are checked. */
export async function loadCheckpointFolder(dir: string, onNote?: (note: string) => void): Promise<Checkpoint> {
  const r = await recoverCheckpointFolder(dir);
  if (r.note) onNote?.(r.note);
  if (r.found === 'none') throw new CheckpointError(`there is no checkpoint in ${dir}`);
  const files = await readFolderNode(dir);
  try {
    return checkpointFromFiles(files);
  } catch (e) {
    if (e instanceof CheckpointError) throw new CheckpointError(`${dir}: ${e.message}`);
    throw e;
  }
}

/** The step and total of the checkpoint in `dir` without reading its tensors, or undefined when there is none. */
export async function peekCheckpointFolder(dir: string): Promise<{ step: number; totalSteps?: number; savedAt: Date } | undefined> {
  const r = await recoverCheckpointFolder(dir);
  if (r.found === 'none') return undefined;
  const state = join(dir, CHECKPOINT_FILES.state);
  let s: { step?: number; totalSteps?: number } = {};
  try {
    s = JSON.parse(await readFile(state, 'utf8'));
  } catch {
    /* unreadable: loading it says why */
  }
  return { step: s.step ?? NaN, totalSteps: s.totalSteps, savedAt: (await stat(state)).mtime };
}

/** Removes `dir` and every leftover of an interrupted save beside it (a finished run needs none of them). */
export async function removeCheckpointFolder(dir: string): Promise<void> {
  const { temps, olds } = await sideFolders(dir);
  for (const p of [dir, ...temps, ...olds]) if (p === dir || !writerAlive(p)) await rm(p, { recursive: true, force: true });
}

export { loadCheckpointFolder as loadCheckpointNode };
