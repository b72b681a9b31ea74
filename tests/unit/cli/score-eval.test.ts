// `rerank-lab score` and `rerank-lab eval` on the GPU (SwiftShader here): score gives transformers' logits for the
// fixture folders (made by transformers, tests/python/dump_model_folders.py) and the declared activation applied to
// them; eval prints and writes the page's report (src/eval) for two models.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as evalRun } from '../../../src/cli/commands/eval.ts';
import { run as scoreRun } from '../../../src/cli/commands/score.ts';
import { buildRerankSet } from '../../../src/eval/candidates.ts';
import { rerankMetrics } from '../../../src/eval/ranking.ts';
import { gpu } from '../helpers/gpu.ts';

const ROOT = fileURLToPath(new URL('../../fixtures/hf-folders/', import.meta.url));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
  return { out, err };
}

afterEach(() => vi.restoreAllMocks());

async function pairsFile(folder: string): Promise<{ file: string; logits: number[][] }> {
  const e = JSON.parse(await readFile(`${ROOT}${folder}/expected.json`, 'utf8'));
  const dir = await mkdtemp(join(tmpdir(), 'rl-score-'));
  const file = join(dir, 'pairs.jsonl');
  await writeFile(file, e.pairs.map((p: unknown) => JSON.stringify(p)).join('\n') + '\n');
  return { file, logits: e.logits };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('rerank-lab score', () => {
  it.each([
    ['bert-vocab', 'sigmoid'],
    ['xlmr-spm', 'sigmoid'],
    ['bert-bin-bf16-legacy', 'sigmoid'],
    ['ce-identity', 'identity'],
    ['bert-2labels', 'softmax of the 2-label original'],
  ])('%s: one line per pair in order, transformers\' logit within 1e-5, score = %s', async (folder, act) => {
    const rt = await gpu();
    const { file, logits } = await pairsFile(folder);
    const { out, err } = capture();
    const code = await scoreRun(['--model', ROOT + folder, '--pairs', file, '--max-length', '40'], { runtime: rt });
    vi.restoreAllMocks();
    expect(code, err.join('\n')).toBe(0);
    const lines = out.join('').trim().split('\n').map((l) => JSON.parse(l));
    const pairs = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.query, l.document])).toEqual(pairs.map((p) => [p.query, p.document]));
    lines.forEach((l, i) => {
      const row = logits[i];
      const want = row.length === 2 ? row[1] - row[0] : row[0];
      expect(Math.abs(l.logit - want)).toBeLessThan(1e-5);
      if (act === 'identity') expect(l.score).toBe(l.logit);
      else if (act === 'sigmoid') expect(l.score).toBeCloseTo(sigmoid(l.logit), 12);
      else expect(Math.abs(l.score - Math.exp(row[1]) / (Math.exp(row[0]) + Math.exp(row[1])))).toBeLessThan(1e-5);
    });
  });

  it('defaults to the folder\'s model_max_length and refuses a longer --max-length than the positions allow', async () => {
    const rt = await gpu();
    const { file } = await pairsFile('xlmr-spm');
    let c = capture();
    expect(await scoreRun(['--model', ROOT + 'xlmr-spm', '--pairs', file], { runtime: rt })).toBe(0);
    expect(c.err.join('\n')).toMatch(/max length 64/); // tokenizer_config.json model_max_length
    vi.restoreAllMocks();
    c = capture();
    expect(await scoreRun(['--model', ROOT + 'xlmr-spm', '--pairs', file, '--max-length', '100'], { runtime: rt })).toBe(2);
    expect(c.err.join('\n')).toMatch(/--max-length 100 is longer than this model's position table allows \(64 tokens\)/);
  });

  it('scores nothing and exits 2 when a line is bad, naming the line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rl-score-'));
    const file = join(dir, 'pairs.jsonl');
    await writeFile(file, '{"query": "q", "document": "d"}\n{"query": "q", "doc": "d"}\nnot json\n');
    const { out, err } = capture();
    expect(await scoreRun(['--model', ROOT + 'bert-vocab', '--pairs', file])).toBe(2);
    expect(out.join('')).toBe('');
    expect(err.join('\n')).toMatch(/pairs\.jsonl:2: bad line: field "document" must be a string[\s\S]*pairs\.jsonl:3: bad line: not valid JSON[\s\S]*2 bad line\(s\).*Nothing was scored/);
  });
});

describe('rerank-lab eval', () => {
  it('reranks BM25\'s top --candidates of the validation documents, prints BM25 beside, the cases and conclusions, and writes HTML and CSV', async () => {
    const rt = await gpu();
    const e = JSON.parse(await readFile(`${ROOT}bert-vocab/expected.json`, 'utf8'));
    const docs: string[] = e.pairs.map((p: { document: string }) => p.document);
    const val = [
      { query: e.pairs[0].query, pos: [docs[0]], neg: [docs[1], docs[3]] },
      { query: e.pairs[2].query, pos: [docs[2]], neg: [docs[3], docs[5]] },
      { query: e.pairs[4].query, pos: [docs[4]], neg: [docs[0]] },
    ];
    const dir = await mkdtemp(join(tmpdir(), 'rl-eval-'));
    await writeFile(join(dir, 'val.jsonl'), val.map((x) => JSON.stringify(x)).join('\n') + '\n');
    const { out, err } = capture();
    const code = await evalRun(['--base', ROOT + 'bert-vocab', '--tuned', ROOT + 'bert-f16', '--data', join(dir, 'val.jsonl'), '--candidates', '2', '--html', join(dir, 'r.html'), '--csv', join(dir, 'r.csv'), '--max-length', '40'], { runtime: rt });
    vi.restoreAllMocks();
    expect(code, err.join('\n')).toBe(0);
    const text = out.join('\n');
    const set = await buildRerankSet(val, { depth: 2 });
    expect(set.corpus).toBeGreaterThan(2); // depth 2 is a real cut of the corpus
    expect(text).toMatch(new RegExp(`Reranking metrics 重排指标 \\(3 queries, each reranking BM25's top 2 of ${set.corpus} documents plus its positives`));
    const row = (name: string) => text.split('\n').find((l) => l.trim().startsWith(name))!.trim().split(/\s+/).slice(1);
    // BM25's own figures on the same lists, beside both models
    expect(row('NDCG@10')[0]).toBe(set.bm25.ndcg10.toFixed(3));
    expect(row('Recall@10')[0]).toBe(set.bm25.recall10.toFixed(3));
    expect(text).toMatch(/Per case 逐例 .*3 cases/);
    expect(text).toMatch(/(排序错误|危险|尚可) .*(翻车|优秀|改善|持平|变差)/);
    expect(text).toMatch(/Conclusions 结论/);
    const csv = await readFile(join(dir, 'r.csv'), 'utf8');
    expect(csv.trim().split('\r\n')).toHaveLength(4);
    expect(await readFile(join(dir, 'r.html'), 'utf8')).toMatch(/<h2>Reranking metrics 重排指标 \(3 queries, each reranking BM25&#39;s top 2 of \d+ documents/);

    // The base model's figures equal the metrics of `score`'s logits on the same BM25 lists.
    const pf = join(dir, 'pairs.jsonl');
    const pairs = set.lists.flatMap((l) => l.docs.map((d) => ({ query: l.query, document: d })));
    await writeFile(pf, pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
    const c = capture();
    expect(await scoreRun(['--model', ROOT + 'bert-vocab', '--pairs', pf, '--max-length', '40'], { runtime: rt })).toBe(0);
    vi.restoreAllMocks();
    const logits = c.out.join('').trim().split('\n').map((l) => JSON.parse(l).logit as number);
    let at = 0;
    const m = rerankMetrics(set.lists.map((l) => ({ scores: logits.slice(at, (at += l.docs.length)), relevant: l.relevant })));
    expect(row('NDCG@10')[1]).toBe(m.ndcg10.toFixed(3));
    expect(row('MRR@10')[1]).toBe(m.mrr10.toFixed(3));
    expect(row('Hit@1')[1]).toBe(m.hit1.toFixed(3));
  });

  it('refuses a bad --candidates, saying what it must be', async () => {
    const { err } = capture();
    expect(await evalRun(['--base', 'x', '--data', 'y', '--candidates', '0'])).toBe(2);
    expect(err.join('\n')).toMatch(/--candidates must be a positive integer, got '0'/);
  });
});
