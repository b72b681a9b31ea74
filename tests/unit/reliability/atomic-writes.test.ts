// Issue 10, item 4: every output is written to a temporary beside it, flushed, then renamed — a kill during the final
// write leaves the previous file whole (it left queries.jsonl at 0 bytes), a full disk leaves the previous file (or
// folder) unchanged and names the file it could not write (`ENOSPC … write` named none). The full disk is simulated
// by making node:fs/promises' file handles fail with ENOSPC after a few bytes (support/full-disk.ts).
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { writeFolderNode } from '../../../src/model/hf-folder.ts';
import { writeFileAtomic } from '../../../src/util/atomic-file.ts';
import { CLI, runTs } from './support/child.ts';
import { capture } from './support/capture.ts';
import { disk } from './support/full-disk.ts';
import { writeChunksAndPairs } from './support/make-data.ts';
import { tinyFiles } from './support/models.ts';

vi.mock('node:fs/promises', async (orig) => (await import('./support/full-disk.ts')).fullDiskFs(await orig()));
afterEach(() => {
  disk.full = false;
  vi.restoreAllMocks();
});

const fresh = () => mkdtempSync(join(tmpdir(), 'rl-atomic-'));

describe('a full disk', () => {
  it('leaves the previous file whole and names the file, with what to do', async () => {
    const dir = fresh();
    const path = join(dir, 'chunks.jsonl');
    writeFileSync(path, 'the previous 47 lines\n');
    disk.full = true;
    await expect(writeFileAtomic(path, 'x'.repeat(100_000))).rejects.toThrow(/^cannot write .*chunks\.jsonl: the disk is full \(ENOSPC\)\. Free some space .*the previous file, if any, is unchanged\.$/);
    disk.full = false;
    expect(readFileSync(path, 'utf8')).toBe('the previous 47 lines\n');
    expect(readdirSync(dir)).toEqual(['chunks.jsonl']); // no temporary left
  });

  it('never leaves a 0-byte model.safetensors in a complete-looking folder', async () => {
    const dir = fresh();
    const old = tinyFiles();
    await writeFolderNode(dir, old);
    const before = readdirSync(dir).sort();
    disk.full = true;
    await expect(writeFolderNode(dir, tinyFiles())).rejects.toThrow(/cannot write .*(config\.json|model\.safetensors|tokenizer\.json).*disk is full \(ENOSPC\).*nothing in .* was changed/);
    disk.full = false;
    expect(readdirSync(dir).sort()).toEqual(before);
    for (const [name, bytes] of old) expect(new Uint8Array(readFileSync(join(dir, name)))).toEqual(bytes);
  });

  it('`mine` stops with the output file named; the previous training set is kept', async () => {
    const dir = fresh();
    const { chunks, pairs } = writeChunksAndPairs(dir, 30);
    const out = join(dir, 'train.jsonl');
    writeFileSync(out, '{"previous": true}\n');
    const { run } = await import('../../../src/cli/commands/mine.ts');
    capture();
    disk.full = true;
    await expect(run(['--chunks', chunks, '--queries', pairs, '--out', out, '--negatives', '3'])).rejects.toThrow(/cannot write .*train\.jsonl: the disk is full \(ENOSPC\)/);
    disk.full = false;
    expect(readFileSync(out, 'utf8')).toBe('{"previous": true}\n');
  });
});

describe('a kill during the final write', () => {
  it('leaves the previous queries.jsonl whole; the next run replaces it and removes the stale temporary', () => {
    const dir = fresh();
    const { chunks, pairs } = writeChunksAndPairs(dir, 60);
    const out = join(dir, 'queries.jsonl');
    const previous = Array.from({ length: 47 }, (_, i) => JSON.stringify({ query: `旧问题${i}`, chunk_id: `c${i}` })).join('\n') + '\n';
    writeFileSync(out, previous);
    const killed = runTs(CLI, ['queries', chunks, '--out', out, '--import', pairs], { killAt: 'write:queries.jsonl' });
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    expect(readFileSync(out, 'utf8')).toBe(previous);
    expect(readdirSync(dir).some((n) => n.startsWith('.queries.jsonl.tmp-'))).toBe(true); // the flushed temporary, never renamed
    const again = runTs(CLI, ['queries', chunks, '--out', out, '--import', pairs]);
    expect(again.status, again.stderr).toBe(0);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(60);
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

describe('one writer', () => {
  it('no command-line or library module writes a file but through util/atomic-file.ts', async () => {
    const src = fileURLToPath(new URL('../../../src/', import.meta.url));
    const files = (await readdir(src, { recursive: true })).filter((f) => /\.(ts|mjs)$/.test(f)).map((f) => join(src, f));
    // the helper itself, and the query cache's append-only log (one flushed line per record, repaired on open)
    const allowed = new Set(['util/atomic-file.ts', 'data/query-cache-node.ts']);
    const offenders: string[] = [];
    for (const f of files) {
      const rel = relative(src, f).split('\\').join('/');
      if (allowed.has(rel)) continue;
      const text = await readFile(f, 'utf8');
      if (/\b(writeFile|writeFileSync|appendFile|appendFileSync|createWriteStream)\s*\(/.test(text)) offenders.push(rel);
    }
    expect(offenders).toEqual([]);
  });
});
