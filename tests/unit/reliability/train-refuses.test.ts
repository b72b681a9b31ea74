// Issue 10, item 1: `train` never replaces an unfinished run's checkpoint (or a model) in --out unless told to:
// without --resume or --restart it stops (exit 2) before loading anything and says how to go on. No GPU needed: the
// refusal comes first.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../../src/cli/commands/train.ts';
import { saveCheckpointFolder } from '../../../src/train/checkpoint-node.ts';
import { capture } from './support/capture.ts';
import { fakeCheckpoint } from './support/fake-checkpoint.ts';

afterEach(() => vi.restoreAllMocks());

async function outWithCheckpoint(): Promise<{ dir: string; out: string; data: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'rl-refuse-'));
  const out = join(dir, 'run');
  await saveCheckpointFolder(join(out, 'checkpoint'), fakeCheckpoint(4));
  const data = join(dir, 'train.jsonl');
  writeFileSync(data, JSON.stringify({ query: '燃气', pos: ['燃气管理条例'], neg: ['户籍办理'] }) + '\n');
  return { dir, out, data };
}

describe('train with an existing checkpoint in --out', () => {
  it('refuses without --resume or --restart, and the checkpoint is untouched', async () => {
    const { out, data } = await outWithCheckpoint();
    const before = readFileSync(join(out, 'checkpoint', 'params.safetensors'));
    const c = capture();
    const code = await run(['--tiny', '--data', data, '--out', out]);
    vi.restoreAllMocks();
    expect(code).toBe(2);
    expect(c.text()).toMatch(/checkpoint of an unfinished run \(step 4 of 10.*Continue it with --resume, or start over with --restart/);
    expect(readFileSync(join(out, 'checkpoint', 'params.safetensors'))).toEqual(before);
  });

  it('refuses to replace a model already in --out (a finished run, or the base model folder by mistake)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rl-refuse-'));
    writeFileSync(join(dir, 'model.safetensors'), 'weights');
    writeFileSync(join(dir, 'train.jsonl'), '');
    const c = capture();
    const code = await run(['--tiny', '--data', join(dir, 'train.jsonl'), '--out', dir]);
    vi.restoreAllMocks();
    expect(code).toBe(2);
    expect(c.text()).toMatch(/already holds a model \(model\.safetensors.*Choose another --out, or pass --restart/);
    expect(readFileSync(join(dir, 'model.safetensors'), 'utf8')).toBe('weights');
  });

  it('refuses --resume and --restart together, and --resume with nothing to resume', async () => {
    const { out, data } = await outWithCheckpoint();
    let c = capture();
    expect(await run(['--tiny', '--data', data, '--out', out, '--resume', '--restart'])).toBe(2);
    vi.restoreAllMocks();
    expect(c.text()).toMatch(/either --resume .* or --restart/);
    c = capture();
    expect(await run(['--tiny', '--data', data, '--out', join(out, 'elsewhere'), '--resume'])).toBe(2);
    vi.restoreAllMocks();
    expect(c.text()).toMatch(/--resume: there is no checkpoint in .*elsewhere/);
  });

  it('goes past the check with --restart (here to the next error: the data file is missing)', async () => {
    const { out } = await outWithCheckpoint();
    const c = capture();
    const code = await run(['--tiny', '--data', join(out, 'missing.jsonl'), '--out', out, '--restart']);
    vi.restoreAllMocks();
    expect(code).toBe(2);
    expect(c.text()).toMatch(/cannot read .*missing\.jsonl: no such file or folder \(ENOENT\)/);
    expect(existsSync(join(out, 'checkpoint', 'trainer_state.json'))).toBe(true); // given up only once the model and the GPU are ready
  });
});
