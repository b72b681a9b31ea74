// `rerank-lab export`: --onnx into the model folder (refusing to replace without --force) or a separate folder,
// --recipe with settings from a train run plus flags, teacher scores from the engine matching transformers, and
// clear usage errors.
import { cp, mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../../src/cli/commands/export.ts';
import { writeExportFolder } from '../../../src/export/write-node.ts';
import { fixtureDir } from '../model/fixture.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
  return { out, err };
}

afterEach(() => vi.restoreAllMocks());

async function fixtureCopy(name: string): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'rl-export-')), name);
  await mkdir(dir);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) await cp(join(fixtureDir(name), f), join(dir, f));
  return dir;
}

async function trainJsonl(dir: string): Promise<string> {
  // The fixture batch's four query groups (1 positive + 3 negatives each) as FlagEmbedding examples.
  const b = JSON.parse(await readFile(join(fixtureDir('bert-tiny'), 'batch.json'), 'utf8')) as { queries: string[]; documents: string[] };
  const lines = [0, 4, 8, 12].map((g) => JSON.stringify({ query: b.queries[g], pos: [b.documents[g]], neg: b.documents.slice(g + 1, g + 4) }));
  const file = join(dir, 'train.jsonl');
  await writeFile(file, lines.join('\n') + '\n');
  return file;
}

describe('rerank-lab export --onnx', () => {
  it('writes onnx/model.onnx into the model folder, adds transformers.js_config, and refuses to replace it without --force', async () => {
    const dir = await fixtureCopy('bert-tiny');
    const before = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    const { out, err } = capture();
    expect(await run(['--model', dir, '--onnx']), err.join('\n')).toBe(0);
    expect(out.join('\n')).toMatch(/inputs input_ids, attention_mask, token_type_ids/);
    expect((await readdir(join(dir, 'onnx'))).sort()).toEqual(['model.onnx']);
    const after = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(after['transformers.js_config']).toEqual({ dtype: 'fp32' });
    delete after['transformers.js_config'];
    expect(after).toEqual(before);

    expect(await run(['--model', dir, '--onnx'])).toBe(1);
    expect(err.join('\n')).toMatch(/exists already; add --force/);
    expect(await run(['--model', dir, '--onnx', '--force'])).toBe(0);
  });

  it('writes a separate serving folder with --out, external data on request', async () => {
    const dir = await fixtureCopy('xlmr-tiny');
    const outDir = join(dir, '..', 'served');
    const { err } = capture();
    expect(await run(['--model', dir, '--onnx', '--out', outDir, '--external-data']), err.join('\n')).toBe(0);
    expect((await readdir(outDir)).sort()).toEqual(['config.json', 'onnx', 'tokenizer.json', 'tokenizer_config.json']);
    expect((await readdir(join(outDir, 'onnx'))).sort()).toEqual(['model.onnx', 'model.onnx_data']);
    expect(JSON.parse(await readFile(join(outDir, 'config.json'), 'utf8'))['transformers.js_config']).toEqual({ dtype: 'fp32', use_external_data_format: true });
  });

  it('never writes outside the output folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rl-export-'));
    for (const bad of ['../escape.txt', 'onnx/../../escape.txt', '/etc/escape.txt', 'a//b']) {
      await expect(writeExportFolder(join(dir, 'out'), new Map([[bad, new Uint8Array([1])]]))).rejects.toThrow(/must stay inside the output folder/);
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('says what is missing', async () => {
    const { err } = capture();
    expect(await run([])).toBe(2);
    expect(err.join('\n')).toMatch(/export what\?/);
    expect(await run(['--onnx'])).toBe(2);
    expect(err.join('\n')).toMatch(/--onnx needs --model DIR/);
    expect(await run(['--onnx', '--recipe', 'x', '--model', 'y'])).toBe(2);
    expect(err.join('\n')).toMatch(/not both/);
  });
});

describe('rerank-lab export --recipe', () => {
  it('takes the settings of a train run, lets flags override them, and refuses a non-empty folder without --force', async () => {
    const root = await mkdtemp(join(tmpdir(), 'rl-recipe-'));
    const data = await trainJsonl(root);
    const runDir = join(root, 'run');
    await mkdir(runDir);
    await writeFile(join(runDir, 'rerank_lab_train.json'), JSON.stringify({ options: { loss: 'bce', batchSize: 12, groupSize: 4, epochs: 3, lr: 5e-5, warmupRatio: 0.2, maxLength: 128, seed: 9 } }));
    const recipe = join(root, 'recipe');
    const { err } = capture();
    expect(await run(['--recipe', recipe, '--data', data, '--model', 'BAAI/bge-reranker-base', '--from-run', runDir, '--epochs', '1']), err.join('\n')).toBe(0);
    const s = JSON.parse(await readFile(join(recipe, 'recipe.json'), 'utf8'));
    expect(s).toMatchObject({ base_model: 'BAAI/bge-reranker-base', loss: 'bce', per_device_batch_groups: 12, group_size: 4, epochs: 1, learning_rate: 5e-5, warmup_ratio: 0.2, max_length: 128, seed: 9, teacher_scores: false });
    expect(await readFile(join(recipe, 'README.md'), 'utf8')).toMatch(/--epochs 1/);

    expect(await run(['--recipe', recipe, '--data', data, '--model', 'BAAI/bge-reranker-base'])).toBe(1);
    expect(err.join('\n')).toMatch(/is not empty; add --force/);
    expect(await run(['--recipe', join(root, 'r2'), '--data', data, '--model', 'x/y', '--batch', 'many'])).toBe(2);
    expect(err.join('\n')).toMatch(/--batch must be an integer, got 'many'/);
    expect(await run(['--recipe', join(root, 'r3'), '--data', data, '--model', 'x/y', '--from-run', root])).toBe(2);
    expect(err.join('\n')).toMatch(/--from-run: cannot read .*rerank_lab_train\.json/);
  });

  it('adds the base model\'s logits as teacher scores, equal to transformers\' (within 1e-4)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'rl-recipe-'));
    const data = await trainJsonl(root);
    const recipe = join(root, 'recipe');
    const { err } = capture();
    const code = await run(['--recipe', recipe, '--data', data, '--model', fixtureDir('bert-tiny'), '--teacher-scores', '--group-size', '4', '--max-length', '48']);
    expect(code, err.join('\n')).toBe(0);
    const rows = (await readFile(join(recipe, 'data/train.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { pos_scores: number[]; neg_scores: number[] });
    const got = rows.flatMap((r) => [...r.pos_scores, ...r.neg_scores]);
    const want = (JSON.parse(await readFile(join(fixtureDir('bert-tiny'), 'expected.json'), 'utf8')) as { logits: number[] }).logits;
    const d = Math.max(...got.map((g, i) => Math.abs(g - want[i])));
    vi.restoreAllMocks();
    console.log(`[recipe teacher scores] ${got.length} pairs, max |engine − transformers| ${d.toExponential(2)}`);
    expect(got.length).toBe(16);
    expect(d).toBeLessThan(1e-4);
  });
});
