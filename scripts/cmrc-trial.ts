// The CMRC 2018 trial set (tests/fixtures/data/cmrc2018-trial.json) through the product's own pipeline, for
// acceptance runs of `rerank-lab train` on real Chinese text with human-written questions:
//
//   npx tsx scripts/cmrc-trial.ts docs out/cmrc/docs          one .txt per article (its paragraph), named by id
//   rerank-lab ingest out/cmrc/docs --out out/cmrc/chunks.jsonl
//   npx tsx scripts/cmrc-trial.ts queries out/cmrc/chunks.jsonl out/cmrc/queries.jsonl
//                                                             each question → the chunk holding its answer span
//   rerank-lab mine --chunks out/cmrc/chunks.jsonl --queries out/cmrc/queries.jsonl --out out/cmrc/train.jsonl \
//     --val-out out/cmrc/val.jsonl --val-ratio 0.2            BM25 hard negatives, split by source document
//
// The questions stand in for the LLM-generated queries of the `queries` step (with their answers, which mine's
// answer-span guard uses).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Qa {
  question: string;
  answers: { text: string; answer_start: number }[];
}
interface Article {
  id: string;
  paragraphs: { id: string; context: string; qas: Qa[] }[];
}
interface Chunk {
  id: string;
  text: string;
  source: string;
  start: number;
  end: number;
}

const DATA = fileURLToPath(new URL('../tests/fixtures/data/cmrc2018-trial.json', import.meta.url));

async function articles(): Promise<Article[]> {
  return (JSON.parse(await readFile(DATA, 'utf8')) as { data: Article[] }).data;
}

async function docs(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const as = await articles();
  for (const a of as) await writeFile(join(dir, `${a.id}.txt`), a.paragraphs.map((p) => p.context).join('\n\n'));
  console.log(`${as.length} documents → ${dir}`);
}

async function queries(chunksFile: string, out: string): Promise<void> {
  const chunks = (await readFile(chunksFile, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Chunk);
  const bySource = new Map<string, Chunk[]>();
  for (const c of chunks) {
    const id = basename(c.source).replace(/\.txt$/, '');
    if (!bySource.has(id)) bySource.set(id, []);
    bySource.get(id)!.push(c);
  }
  const lines: string[] = [];
  let byOffset = 0;
  let byText = 0;
  let missing = 0;
  for (const a of await articles()) {
    const cs = bySource.get(a.id);
    if (!cs) {
      missing += a.paragraphs.reduce((n, p) => n + p.qas.length, 0);
      continue;
    }
    for (const p of a.paragraphs) {
      for (const q of p.qas) {
        const ans = q.answers[0];
        // the chunk whose [start, end) holds the whole answer span, else one whose text contains the answer
        let c = ans && cs.find((x) => x.start <= ans.answer_start && ans.answer_start + ans.text.length <= x.end);
        if (c) byOffset++;
        else if (ans && (c = cs.find((x) => x.text.includes(ans.text)))) byText++;
        else c = cs[0];
        lines.push(JSON.stringify({ query: q.question, chunk_id: c.id, answers: q.answers.map((x) => x.text), origin: 'import' }));
      }
    }
  }
  await writeFile(out, lines.join('\n') + '\n');
  console.log(`${lines.length} queries → ${out} (answer span located by offset ${byOffset}, by text ${byText}, else the first chunk; ${missing} without a document)`);
}

const [cmd, a, b] = process.argv.slice(2);
if (cmd === 'docs' && a) await docs(a);
else if (cmd === 'queries' && a && b) await queries(a, b);
else {
  console.error('usage: npx tsx scripts/cmrc-trial.ts docs DIR | queries CHUNKS.jsonl QUERIES.jsonl');
  process.exit(2);
}
