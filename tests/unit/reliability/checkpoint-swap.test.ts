// Issue 10, item 2: a checkpoint save is a swap (write new → rename old aside → install new → delete old); a kill at
// any of its moments leaves a complete checkpoint that the next load finds (the newest one), and no leftover folder
// stays beside it. Each kill runs a child process that saves checkpoints 1 and 2 and is SIGKILLed (via
// RERANK_LAB_KILL_AT) during the second save.
import { mkdtempSync, readdirSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkpointToFiles } from '../../../src/train/checkpoint.ts';
import { loadCheckpointFolder, removeCheckpointFolder, saveCheckpointFolder } from '../../../src/train/checkpoint-node.ts';
import { runTs } from './support/child.ts';
import { fakeCheckpoint } from './support/fake-checkpoint.ts';

const SAVER = fileURLToPath(new URL('./support/save-checkpoints.ts', import.meta.url));
const fresh = () => mkdtempSync(join(tmpdir(), 'rl-ckswap-'));

describe('checkpoint swap survives a kill at every moment', () => {
  // point (its passage in the second save) → the step the next load must find
  const cases: [string, number][] = [
    ['checkpoint:tensors-written#2', 1], // the new one's tensor files flushed, its state not yet written
    ['checkpoint:written#2', 2], // the new one complete beside the old one
    ['checkpoint:old-moved#2', 2], // the old one moved aside, the new one not installed: the window
    ['checkpoint:installed#2', 2], // installed, the old one not yet deleted
  ];
  for (const [point, step] of cases) {
    it(`killed at ${point}: the next load finds step ${step} and cleans up`, async () => {
      const out = fresh();
      const dir = join(out, 'checkpoint');
      const r = runTs(SAVER, [dir, '2'], { killAt: point });
      expect(r.signal, r.stdout + r.stderr).toBe('SIGKILL');
      expect(readdirSync(out).length).toBeGreaterThan(1); // the kill did leave a second folder
      const c = await loadCheckpointFolder(dir);
      expect(c.step).toBe(step);
      expect(c.params.get('a.weight')![0]).toBe(step);
      expect(readdirSync(out)).toEqual(['checkpoint']); // nothing left beside it
    });
  }

  it('killed while the new checkpoint\'s files are written: the previous one is found and the partial one removed', async () => {
    const out = fresh();
    const dir = join(out, 'checkpoint');
    await saveCheckpointFolder(dir, fakeCheckpoint(1));
    // what a kill between the tensor files and the state file leaves: a temporary without trainer_state.json
    const partial = join(out, '.checkpoint.tmp-999999999-1');
    mkdirSync(partial);
    for (const [n, b] of checkpointToFiles(fakeCheckpoint(2))) if (n !== 'trainer_state.json') writeFileSync(join(partial, n), b);
    const c = await loadCheckpointFolder(dir);
    expect(c.step).toBe(1);
    expect(readdirSync(out)).toEqual(['checkpoint']);
  });

  it('resume finds a complete temporary when no checkpoint is in place (the folder names of older builds too)', async () => {
    const out = fresh();
    const dir = join(out, 'checkpoint');
    await saveCheckpointFolder(dir, fakeCheckpoint(3));
    renameSync(dir, join(out, 'checkpoint.tmp-1712345678901')); // what the old save left between rm and rename
    const notes: string[] = [];
    const c = await loadCheckpointFolder(dir, (n) => notes.push(n));
    expect(c.step).toBe(3);
    expect(notes.join()).toMatch(/recovered the checkpoint of step 3/);
    expect(readdirSync(out)).toEqual(['checkpoint']);
  });

  it('a finished run leaves no checkpoint and no temporary in the model folder', async () => {
    const out = fresh();
    const dir = join(out, 'checkpoint');
    writeFileSync(join(out, 'model.safetensors'), 'x');
    await saveCheckpointFolder(dir, fakeCheckpoint(1));
    mkdirSync(join(out, '.checkpoint.tmp-999999999-7')); // a killed save's leftover
    mkdirSync(join(out, 'checkpoint.tmp-1712345678901'));
    await removeCheckpointFolder(dir);
    expect(readdirSync(out)).toEqual(['model.safetensors']);
  });

  it('a save leaves only the checkpoint folder, and the saved one is what loads', async () => {
    const out = fresh();
    const dir = join(out, 'checkpoint');
    for (const s of [1, 2, 3]) await saveCheckpointFolder(dir, fakeCheckpoint(s));
    expect(readdirSync(out)).toEqual(['checkpoint']);
    expect(readdirSync(dir).sort()).toEqual(['adam_m.safetensors', 'adam_v.safetensors', 'params.safetensors', 'trainer_state.json']);
    expect((await loadCheckpointFolder(dir)).step).toBe(3);
  });
});
