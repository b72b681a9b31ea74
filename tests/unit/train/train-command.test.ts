// `rerank-lab train` end to end on a tiny char-level model: bad JSONL lines are reported with their numbers and
// skipped, a file with nothing valid stops with a clear error, and a run saves a model folder that loads again.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../../src/cli/commands/train.ts';
import { loadHfFolder, readFolderNode } from '../../../src/model/hf-folder.ts';
import { cmrcExamples } from './cmrc.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const w = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
  void w;
  return { out, err };
}

afterEach(() => vi.restoreAllMocks());

describe('rerank-lab train', () => {
  it('stops with a clear error when the data has no valid line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rl-train-'));
    await writeFile(join(dir, 'bad.jsonl'), '{"query": 3}\nnot json\n');
    const { err } = capture();
    const code = await run(['--tiny', '--data', join(dir, 'bad.jsonl'), '--out', join(dir, 'out')]);
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/bad\.jsonl:1: skipped: field "query" must be a string/);
    expect(err.join('\n')).toMatch(/bad\.jsonl:2: skipped: not valid JSON/);
    expect(err.join('\n')).toMatch(/has no valid example \(2 bad line\(s\)\)/);
  });

  it('refuses an unknown --select-by metric, naming the choices', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rl-train-'));
    await writeFile(join(dir, 'train.jsonl'), cmrcExamples(2).train.slice(0, 2).map((e) => JSON.stringify(e)).join('\n') + '\n');
    const { err } = capture();
    const code = await run(['--tiny', '--data', join(dir, 'train.jsonl'), '--out', join(dir, 'out'), '--select-by', 'map']);
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/--select-by must be one of ndcg@10, mrr@10, hit@1, recall@10, loss, got 'map'/);
  });

  it('trains, skipping a bad line, and saves a model folder that loads again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rl-train-'));
    const { train, val } = cmrcExamples(2);
    const lines = train.slice(0, 4).map((e) => JSON.stringify(e));
    lines.splice(2, 0, '{"query": "q", "pos": "not a list", "neg": []}');
    await writeFile(join(dir, 'train.jsonl'), lines.join('\n') + '\n');
    await writeFile(join(dir, 'val.jsonl'), val.slice(0, 2).map((e) => JSON.stringify(e)).join('\n') + '\n');
    const out = join(dir, 'model');
    const { out: stdout, err } = capture();
    const code = await run([
      '--tiny', '--data', join(dir, 'train.jsonl'), '--val', join(dir, 'val.jsonl'), '--out', out,
      '--loss', 'bce', '--batch', '2', '--group-size', '2', '--epochs', '1', '--lr', '1e-3', '--max-length', '24', '--seed', '3',
    ]);
    vi.restoreAllMocks();
    console.log(stdout.join('\n'));
    expect(code, err.join('\n')).toBe(0);
    expect(err.join('\n')).toMatch(/train\.jsonl:3: skipped: field "pos" must be a list of strings/);
    expect(stdout.join('\n')).toMatch(/step 2\/2 {2}epoch 1 {2}loss \d\.\d{4}/);
    // per epoch: the ranking metrics on the realistic lists with BM25's beside them, then loss and gap
    const num = '\\d\\.\\d{4}';
    for (const epoch of ['epoch 0 \\(base\\)', 'epoch 1']) {
      expect(stdout.join('\n')).toMatch(new RegExp(`${epoch}: NDCG@10 ${num} \\(BM25 ${num}\\) {2}MRR@10 ${num} \\(BM25 ${num}\\) {2}Hit@1 ${num} \\(BM25 ${num}\\) {2}Recall@10 ${num} \\(BM25 ${num}\\) {2}val loss ${num} {2}gap`));
    }
    expect(stdout.join('\n')).toMatch(/validation: 2 queries, built from validation documents only .*BM25's top 30 of the \d+ validation documents/);
    expect(stdout.join('\n')).toMatch(/BM25 alone \(the floor\): NDCG@10/);
    expect(stdout.join('\n')).toMatch(/Saved (best epoch \d by NDCG@10 \d\.\d{4}|the base model: no fine-tuned epoch beat epoch 0 on NDCG@10)/);
    const reloaded = await loadHfFolder(await readFolderNode(out));
    expect(reloaded.config.architecture).toBe('BertForSequenceClassification');
    const log = JSON.parse(await readFile(join(out, 'rerank_lab_train.json'), 'utf8'));
    expect(log.summary.stopped).toBe('finished');
    expect(log.summary.selectBy).toBe('ndcg@10');
    expect(log.summary.evals.map((e: { epoch: number }) => e.epoch)).toEqual([0, 1]);
  });
});
