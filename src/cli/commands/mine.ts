// `rerank-lab mine --chunks chunks.jsonl --queries queries.jsonl --out train.jsonl`: BM25 hard negatives with
// false-negative guards, split by source document, written as FlagEmbedding {"query","pos","neg"} lines.

import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { checkChunk, checkQuery, parseJsonl, toJsonl } from '../../data/jsonl.ts';
import { mine } from '../../data/mine.ts';
import { abortOnSigint, createProgressBar } from '../progress-bar.ts';

export const help = `rerank-lab mine --chunks chunks.jsonl --queries queries.jsonl --out train.jsonl [options]
  --chunks FILE        chunks (repeatable, e.g. with the .new-chunks.jsonl from an import)
  --queries FILE       {"query","chunk_id"} lines
  --out FILE           training set, FlagEmbedding {"query","pos":[..],"neg":[..]}
  --val-out FILE       validation set (needs --val-ratio); split by source document
  --val-ratio R        fraction of source documents held out (default 0.1 with --val-out, else 0)
  --negatives N        negatives per query (default 15)
  --top-k N            BM25 depth to take negatives from (default 50)
  --near-dup J         token-set Jaccard at which a candidate counts as a near-duplicate of the positive (default 0.8; 0 off)
  --seed-compatible    the seed's behaviour: verbatim jieba tokens, no guards
  --seed N             seed for the split and random negatives (default 42)`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      chunks: { type: 'string', multiple: true },
      queries: { type: 'string' },
      out: { type: 'string' },
      'val-out': { type: 'string' },
      'val-ratio': { type: 'string' },
      negatives: { type: 'string', default: '15' },
      'top-k': { type: 'string', default: '50' },
      'near-dup': { type: 'string', default: '0.8' },
      'seed-compatible': { type: 'boolean', default: false },
      seed: { type: 'string', default: '42' },
    },
  });
  if (!values.chunks?.length || !values.queries || !values.out) {
    console.error(`mine needs --chunks, --queries and --out.\n\n${help}`);
    return 2;
  }
  const valRatio = Number(values['val-ratio'] ?? (values['val-out'] ? 0.1 : 0));
  if (valRatio > 0 && !values['val-out']) {
    console.error('--val-ratio needs --val-out (where the validation set goes).');
    return 2;
  }
  const chunks = [];
  for (const p of values.chunks) {
    const r = parseJsonl(await readFile(p, 'utf8'), checkChunk);
    for (const e of r.errors.slice(0, 5)) console.error(`${p}:${e.line}: ${e.message}`);
    chunks.push(...r.items);
  }
  const q = parseJsonl(await readFile(values.queries, 'utf8'), checkQuery);
  for (const e of q.errors.slice(0, 5)) console.error(`${values.queries}:${e.line}: ${e.message}`);
  const ac = abortOnSigint();
  const bar = createProgressBar();
  const res = await mine(chunks, q.items, {
    negatives: Number(values.negatives),
    topK: Number(values['top-k']),
    seedCompatible: values['seed-compatible'],
    guards: { nearDuplicate: Number(values['near-dup']) },
    valRatio,
    seed: Number(values.seed),
    onProgress: bar.onProgress,
    signal: ac.signal,
  });
  bar.stop();
  await writeFile(values.out, toJsonl(res.train));
  if (values['val-out']) await writeFile(values['val-out'], toJsonl(res.val));
  const s = res.stats;
  console.log(
    [
      '',
      `Chunks: ${chunks.length}, queries: ${s.queries} (dropped: ${JSON.stringify(s.droppedQueries)})`,
      `Examples: ${s.examples.train} train → ${values.out}` + (values['val-out'] ? `, ${s.examples.val} validation → ${values['val-out']}` : ''),
      `Source documents: ${s.sources.train} train, ${s.sources.val} validation`,
      `Negatives: ${s.negatives.fromRanking} from BM25 top-${values['top-k']}, ${s.negatives.random} random top-up; ${s.short} queries short of ${values.negatives}`,
      `Removed by guard (ranking): ${JSON.stringify(s.removed)}`,
      `Removed by guard (random top-up): ${JSON.stringify(s.removedRandom)}`,
      `Time: tokenise ${s.seconds.tokenise.toFixed(1)} s, index ${s.seconds.index.toFixed(1)} s, mine ${s.seconds.mine.toFixed(1)} s`,
    ].join('\n'),
  );
  return s.examples.train + s.examples.val ? 0 : 1;
}
