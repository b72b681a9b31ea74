// `rerank-lab mine --chunks chunks.jsonl --queries queries.jsonl --out train.jsonl`: BM25 hard negatives with
// false-negative guards, split by source document, written as FlagEmbedding {"query","pos","neg"} lines.

import { checkChunk, checkQuery } from '../../data/jsonl.ts';
import { mine } from '../../data/mine.ts';
import { countPairTruncation, truncationMessage } from '../../train/truncation.ts';
import { jsonlPieces, writeFileAtomic } from '../../util/atomic-file.ts';
import { loadPairTokenizerNode } from '../tokenizer-source.ts';
import { readJsonlFile } from '../read-jsonl.ts';
import { defineCommand, helpText, parseCommand } from '../args.ts';
import { abortOnSigint, createProgressBar } from '../progress-bar.ts';

export const command = defineCommand({
  name: 'mine',
  usage: '--chunks chunks.jsonl --queries queries.jsonl --out train.jsonl [options]',
  options: {
    chunks: { value: 'FILE', multiple: true, help: 'chunks (repeatable, e.g. with the .new-chunks.jsonl from an import)' },
    queries: { value: 'FILE', help: '{"query","chunk_id"} lines' },
    out: { value: 'FILE', help: 'training set, FlagEmbedding {"query","pos":[..],"neg":[..]}' },
    'val-out': { value: 'FILE', help: 'validation set (needs --val-ratio); split by source document' },
    'val-ratio': { kind: 'number', value: 'R', defaultText: '0.1 with --val-out, else 0', help: 'fraction of source documents held out' },
    negatives: { kind: 'int', default: 15, help: 'negatives per query' },
    'top-k': { kind: 'int', default: 50, help: 'BM25 depth to take negatives from' },
    'near-dup': { kind: 'number', value: 'J', default: 0.8, help: 'token-set Jaccard at which a candidate counts as a near-duplicate of the positive (0 off)' },
    'seed-compatible': { kind: 'flag', help: "the seed's behaviour: verbatim jieba tokens, no guards" },
    seed: { kind: 'int', default: 42, help: 'seed for the split and random negatives' },
    model: { value: 'DIR', help: 'a model folder (tokenizer.json): count the pairs --max-length will cut in training' },
    'max-length': { kind: 'int', default: 256, help: 'tokens per pair for that count (as train)' },
  },
});

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(command, argv);
  if (typeof args === 'number') return args;
  const { values } = args;
  if (!values.chunks?.length || !values.queries || !values.out) {
    console.error(`mine needs --chunks, --queries and --out.\n\n${helpText(command)}`);
    return 2;
  }
  const valRatio = values['val-ratio'] ?? (values['val-out'] ? 0.1 : 0);
  if (valRatio > 0 && !values['val-out']) {
    console.error('--val-ratio needs --val-out (where the validation set goes).');
    return 2;
  }
  const maxLength = values['max-length'];
  if (maxLength < 4) {
    console.error(`--max-length must be an integer ≥ 4, got '${values['max-length']}'`);
    return 2;
  }
  // the tokenizer first: a wrong --model should fail before the mining work, not after it
  const tokenizer = values.model ? await loadPairTokenizerNode(values.model) : undefined;
  const chunks = [];
  for (const p of values.chunks) chunks.push(...(await readJsonlFile(p, checkChunk, { show: 5 })).items);
  const q = await readJsonlFile(values.queries, checkQuery, { show: 5 });
  const ac = abortOnSigint();
  const bar = createProgressBar();
  const res = await mine(chunks, q.items, {
    negatives: values.negatives,
    topK: values['top-k'],
    seedCompatible: values['seed-compatible'],
    guards: { nearDuplicate: values['near-dup'] },
    valRatio,
    seed: values.seed,
    onProgress: bar.onProgress,
    signal: ac.signal,
  });
  bar.stop();
  await writeFileAtomic(values.out, jsonlPieces(res.train));
  if (values['val-out']) await writeFileAtomic(values['val-out'], jsonlPieces(res.val));
  const s = res.stats;
  const cut = tokenizer && countPairTruncation(tokenizer, [...res.train, ...res.val], maxLength);
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
      cut ? `Truncation (${values.model}): ${cut.documents ? truncationMessage('mined', cut, maxLength) : `max length ${maxLength} cuts none of the ${cut.pairs} mined pairs`}` : '',
    ].filter(Boolean).join('\n'),
  );
  return s.examples.train + s.examples.val ? 0 : 1;
}
