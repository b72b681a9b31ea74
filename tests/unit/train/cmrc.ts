// CMRC 2018 trial data (tests/fixtures/data) as FlagEmbedding examples for the trainer tests: each question is a
// query, its own paragraph the positive, random other paragraphs of the same split the negatives. Split by paragraph,
// so no validation paragraph appears in training at all (not even as a negative).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../../src/util/rng.ts';
import type { TrainExample } from '../../../src/train/types.ts';

interface Paragraph {
  context: string;
  qas: { question: string }[];
}

export function cmrcParagraphs(): Paragraph[] {
  const path = fileURLToPath(new URL('../../fixtures/data/cmrc2018-trial.json', import.meta.url));
  const d = JSON.parse(readFileSync(path, 'utf8')) as { data: { paragraphs: Paragraph[] }[] };
  return d.data.flatMap((a) => a.paragraphs);
}

/** Every question and paragraph (the tiny model's vocabulary comes from these). */
export function cmrcCorpus(): string[] {
  return cmrcParagraphs().flatMap((p) => [p.context, ...p.qas.map((q) => q.question)]);
}

export function cmrcExamples(negatives: number, seed = 7): { train: TrainExample[]; val: TrainExample[] } {
  const ps = cmrcParagraphs();
  const r = mulberry32(seed);
  const train: TrainExample[] = [];
  const val: TrainExample[] = [];
  const isVal = (i: number) => i % 5 === 0;
  const side = [ps.filter((_, i) => !isVal(i)), ps.filter((_, i) => isVal(i))];
  ps.forEach((p, i) => {
    const pool = side[isVal(i) ? 1 : 0];
    for (const q of p.qas) {
      const neg: string[] = [];
      while (neg.length < negatives) {
        const other = pool[Math.floor(r() * pool.length)].context;
        if (other !== p.context && !neg.includes(other)) neg.push(other);
      }
      (isVal(i) ? val : train).push({ query: q.question, pos: [p.context], neg });
    }
  });
  return { train, val };
}
