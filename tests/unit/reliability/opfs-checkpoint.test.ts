// Issue 10, items 2 and 4 in the page: the training worker's checkpoint in OPFS is saved by a slot swap (complete new
// slot, then the pointer, then the old slot deleted), so a reload at any moment of a save finds a complete
// checkpoint — the one before, or the new one — never none (the old save deleted trainer_state.json first). OPFS is
// an in-memory stand-in here whose file writes commit on close() and whose n-th close "reloads the page".
import { afterEach, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILES, checkpointFromFiles, checkpointToFiles } from '../../../src/train/checkpoint.ts';
import { checkpointSlot, opfsDeleteCheckpoint, opfsLoadCheckpoint, opfsSaveCheckpoint, setOpfsRootForTests } from '../../../src/workers/train/opfs.ts';
import { fakeCheckpoint } from './support/fake-checkpoint.ts';
import { FakeOpfs } from './support/fake-opfs.ts';

afterEach(() => setOpfsRootForTests(undefined));

const NAMES = Object.values(CHECKPOINT_FILES);
const save = (step: number) => opfsSaveCheckpoint(checkpointToFiles(fakeCheckpoint(step)), CHECKPOINT_FILES.state);

describe('OPFS checkpoint swap', () => {
  // the second save makes 4 file writes (3 tensor files + state) and the pointer: a reload before each
  for (let n = 1; n <= 5; n++) {
    it(`a reload at write ${n} of a save leaves a complete checkpoint`, async () => {
      const fs = new FakeOpfs();
      setOpfsRootForTests(async () => fs.root as unknown as FileSystemDirectoryHandle);
      await save(1);
      fs.failAfter(n);
      await expect(save(2)).rejects.toThrow(/reloaded/);
      const files = await opfsLoadCheckpoint(NAMES, CHECKPOINT_FILES.state);
      expect(files).toBeDefined();
      const c = checkpointFromFiles(files!); // complete: every checksum holds
      expect(c.step).toBe(n <= 4 ? 1 : 2); // the new one counts once its state file is written
      // the next save goes through and leaves one slot
      await save(3);
      expect((await checkpointSlot(CHECKPOINT_FILES.state))!.step).toBe(3);
      expect(fs.root.list().filter((p) => p.startsWith('checkpoint-'))).toHaveLength(4);
    });
  }

  it('a finished run removes every slot and the pointer', async () => {
    const fs = new FakeOpfs();
    setOpfsRootForTests(async () => fs.root as unknown as FileSystemDirectoryHandle);
    await save(1);
    await save(2);
    await opfsDeleteCheckpoint();
    expect(fs.root.list()).toEqual([]);
    expect(await opfsLoadCheckpoint(NAMES, CHECKPOINT_FILES.state)).toBeUndefined();
  });

  it('reads a checkpoint of older builds (one folder named checkpoint)', async () => {
    const fs = new FakeOpfs();
    setOpfsRootForTests(async () => fs.root as unknown as FileSystemDirectoryHandle);
    const legacy = await fs.root.getDirectoryHandle('checkpoint', { create: true });
    for (const [n, b] of checkpointToFiles(fakeCheckpoint(7))) legacy.files.set(n, b);
    expect(checkpointFromFiles((await opfsLoadCheckpoint(NAMES, CHECKPOINT_FILES.state))!).step).toBe(7);
    await save(8);
    expect(fs.root.list().some((p) => p.startsWith('checkpoint/'))).toBe(false);
  });
});
