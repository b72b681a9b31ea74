// `npm run check:inpage`: the in-page / --model-file query generator with real models on real Chinese paragraphs.
// For each model: load time, questions/s and tokens/s (wall clock and CPU time: this machine is shared, so the CPU
// figure is the steadier one), the share of questions that pass the page's filters and the top-5 BM25 round trip
// over all 256 CMRC 2018 trial paragraphs, and five examples beside their paragraphs.
// The engine is llama.cpp in WebAssembly on the CPU (wllama's compat build, one thread), as the CLI runs it.
// Options: --models smollm2,qwen (default both; fetch them with `bash scripts/fetch-models.sh all`),
//          --paragraphs N (30: the first N trial paragraphs), --offset N (0), --json FILE (all questions)

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cmrcChunks, loadModel, MODELS, prove, type Proof } from '../tests/unit/helpers/inpage-proof.ts';
import { describeGguf } from '../src/data/gguf.ts';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'smollm2,qwen' },
    paragraphs: { type: 'string', default: '30' },
    offset: { type: 'string', default: '0' },
    json: { type: 'string' },
  },
});

const corpus = cmrcChunks();
const offset = Number(values.offset);
const chunks = corpus.slice(offset, offset + Number(values.paragraphs));
const all: Record<string, unknown> = {};

for (const which of values.models.split(',') as (keyof typeof MODELS)[]) {
  if (!(which in MODELS)) throw new Error(`unknown model '${which}' (known: ${Object.keys(MODELS).join(', ')})`);
  const t0 = performance.now();
  const gen = await loadModel(which);
  const loadS = (performance.now() - t0) / 1000;
  console.log(`\n== ${describeGguf(gen.info)} (${MODELS[which]}), loaded in ${loadS.toFixed(1)} s; ${chunks.length} CMRC trial paragraphs (from #${offset})`);
  // batches of five, each reported as it ends, so a run stopped part-way still gives its figures
  const questions: Proof['questions'] = [];
  let passed = 0;
  let seconds = 0;
  let cpuSeconds = 0;
  for (let b = 0; b < chunks.length; b += 5) {
    const batch = chunks.slice(b, b + 5);
    const p = await prove(gen, batch, corpus);
    questions.push(...p.questions);
    passed += p.passed;
    seconds += p.seconds;
    cpuSeconds += p.cpuSeconds;
    for (const q of p.questions) console.log(`  [${q.dropped ?? 'pass'}] ${q.chunk_id}: ${q.question || '(none)'}`);
    const n = questions.length;
    const t = gen.throughput();
    console.log(
      `  -- ${n}/${chunks.length}: passed ${passed} (${((100 * passed) / n).toFixed(0)}%), ${(n / seconds).toFixed(3)} questions/s wall, ` +
        `${(n / cpuSeconds).toFixed(3)} per CPU-second, ${(t.tokens / t.seconds).toFixed(2)} tokens/s generating`,
    );
  }
  await gen.dispose();
  const n = chunks.length;
  const reasons: Record<string, number> = {};
  for (const q of questions) if (q.dropped) reasons[q.dropped] = (reasons[q.dropped] ?? 0) + 1;
  const t = gen.throughput();
  console.log(`questions/s: ${(n / seconds).toFixed(3)} wall (${seconds.toFixed(0)} s), ${(n / cpuSeconds).toFixed(3)} per CPU-second (${cpuSeconds.toFixed(0)} CPU s)`);
  console.log(`tokens/s while generating (llama.cpp's timing, prompt reading excluded): ${(t.tokens / t.seconds).toFixed(2)}`);
  console.log(`passed filters + top-5 round trip: ${passed}/${n} = ${((100 * passed) / n).toFixed(0)}%; dropped: ${JSON.stringify(reasons)}`);
  console.log('examples (question ⇐ paragraph):');
  for (const q of questions.slice(0, 5)) {
    console.log(`  [${q.dropped ?? 'pass'}] ${q.question || '(none)'}\n      ⇐ ${q.chunk_id}: ${q.paragraph.slice(0, 110)}…`);
  }
  all[which] = { model: describeGguf(gen.info), loadSeconds: loadS, passed, seconds, cpuSeconds, tokensPerSecond: t.tokens / t.seconds, questions };
}
if (values.json) writeFileSync(values.json, JSON.stringify(all, null, 1));
