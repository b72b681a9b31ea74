// `rerank-lab queries chunks.jsonl --out queries.jsonl`: one query per chunk from an OpenAI-compatible endpoint, a
// local GGUF model file (the page's "Model in this page" generator, on the CPU), or imported pairs; then filters and
// an optional BM25 round-trip check.

import { openAsBlob } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Chunk } from '../../data/chunk.ts';
import { describeGguf } from '../../data/gguf.ts';
import { checkChunk, decodeJsonl, type DecodedJsonl, type QueryRecord } from '../../data/jsonl.ts';
import { ioError, jsonlPieces, writeFileAtomic } from '../../util/atomic-file.ts';
import { readJsonlFile } from '../read-jsonl.ts';
import { FileCache } from '../../data/query-cache-node.ts';
import { filterQueries, roundTripFilter } from '../../data/query-filter.ts';
import { generateQueries } from '../../data/query-generate.ts';
import { loadGgufGenerator } from '../../data/query-gguf.ts';
import { importPairs } from '../../data/query-import.ts';
import { generateQueriesInPage, type InPageGenerateOptions } from '../../data/query-inpage.ts';
import { createNodeWllama } from '../../data/wllama-node.ts';
import { defineCommand, helpText, parseCommand } from '../args.ts';
import { abortOnSigint, createProgressBar } from '../progress-bar.ts';

export const command = defineCommand({
  name: 'queries',
  usage: 'chunks.jsonl --out queries.jsonl (--endpoint URL --model NAME [--key K] | --model-file M.gguf | --import pairs.jsonl)',
  positionals: true,
  about: 'Writes {"query","chunk_id"} lines: one generated question per chunk, or imported pairs.',
  options: {
    out: { value: 'FILE', help: 'queries file to write (required)' },
    endpoint: { value: 'URL', help: 'OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8000/v1 (vLLM)' },
    model: { value: 'NAME', help: 'model name the endpoint serves' },
    key: { value: 'K', help: 'API key (or set RERANK_LAB_API_KEY)' },
    'model-file': { value: 'FILE', help: 'a local GGUF instruct model (e.g. Qwen2.5-0.5B-Instruct-Q4_K_M.gguf) run in this process by\nllama.cpp in WebAssembly on the CPU: no server needed (slow: ~1 question per 10-60 s)' },
    'prompt-file': { value: 'FILE', help: 'prompt template; {chunk} marks where the chunk goes', defaultText: 'a Chinese one-question prompt' },
    concurrency: { kind: 'positive', default: 4, help: 'requests in flight' },
    timeout: { kind: 'number', value: 'S', default: 60, help: 'seconds per request' },
    retries: { kind: 'int', default: 4, help: 'retries on 429/5xx/timeouts' },
    cache: { value: 'FILE', defaultText: '<out>.cache.jsonl', help: 'query cache; reruns never pay twice' },
    limit: { kind: 'positive', help: 'only the first N chunks (try a prompt cheaply)' },
    import: { value: 'FILE', help: 'pairs as JSONL or CSV: query + chunk_id or positive text; unmatched positives are written\nto <out>.new-chunks.jsonl (pass it to mine as a second --chunks)' },
    'max-chars': { kind: 'positive', default: 200, help: 'drop longer queries' },
    'round-trip': { kind: 'positive', value: 'K', help: 'keep a query only if BM25 ranks its chunk in the top K' },
  },
});

/** A text input (prompt, pairs to import), its encoding detected like JSON Lines; errors name the file. */
async function readDecoded(path: string): Promise<DecodedJsonl> {
  try {
    return decodeJsonl(new Uint8Array(await readFile(path)));
  } catch (e) {
    throw ioError(path, e, 'read');
  }
}

async function readText(path: string): Promise<string> {
  const d = await readDecoded(path);
  for (const [line, why] of d.badLines) console.error(`${path}:${line}: skipped: ${why}`);
  return d.text;
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(command, argv);
  if (typeof args === 'number') return args;
  const { values, positionals } = args;
  const chunksPath = positionals[0];
  const out = values.out;
  if (!chunksPath || !out || (!values.import && !values['model-file'] && !(values.endpoint && values.model))) {
    console.error(`queries needs a chunks file, --out, and one of --endpoint with --model, --model-file or --import.\n\n${helpText(command)}`);
    return 2;
  }
  const parsed = await readJsonlFile(chunksPath, checkChunk, { show: 5 });
  let chunks = parsed.items;
  if (values.limit) chunks = chunks.slice(0, values.limit);
  if (!chunks.length) {
    console.error(`No chunks in ${chunksPath}; run 'rerank-lab ingest' first.`);
    return 1;
  }
  const ac = abortOnSigint();
  const bar = createProgressBar();
  let queries: QueryRecord[];
  const lines: string[] = [];
  if (values.import) {
    const r = importPairs(await readDecoded(values.import), values.import, chunks);
    for (const e of r.errors.slice(0, 10)) console.error(`${values.import}:${e.line}: ${e.message}`);
    queries = r.queries;
    chunks = [...chunks, ...r.newChunks];
    lines.push(`Imported ${r.queries.length} pairs (${r.errors.length} bad lines): ${JSON.stringify(r.matched)}`);
    if (r.newChunks.length) {
      const p = out.replace(/\.jsonl$/, '') + '.new-chunks.jsonl';
      await writeFileAtomic(p, jsonlPieces(r.newChunks));
      lines.push(`${r.newChunks.length} positives matched no chunk → ${p} (pass it to mine as a second --chunks)`);
    }
  } else if (values['model-file']) {
    const prompt = values['prompt-file'] ? await readText(values['prompt-file']) : undefined;
    const cache = await FileCache.open(values.cache ?? out.replace(/\.jsonl$/, '') + '.cache.jsonl');
    for (const n of cache.notes) console.error(n);
    const r = await generateWithModelFile(values['model-file'], chunks, { prompt, cache, onProgress: bar.onProgress, signal: ac.signal }, lines).finally(() =>
      cache.close().catch(() => undefined),
    );
    if (!r) return 1;
    queries = r.queries;
  } else {
    const prompt = values['prompt-file'] ? await readText(values['prompt-file']) : undefined;
    const cache = await FileCache.open(values.cache ?? out.replace(/\.jsonl$/, '') + '.cache.jsonl');
    for (const n of cache.notes) console.error(n);
    const r = await generateQueries(chunks, {
      endpoint: {
        url: values.endpoint!,
        model: values.model!,
        key: values.key ?? process.env.RERANK_LAB_API_KEY,
        timeoutMs: values.timeout * 1000,
        retries: values.retries,
      },
      prompt,
      concurrency: values.concurrency,
      cache,
      filter: { maxChars: values['max-chars'] },
      onProgress: bar.onProgress,
      signal: ac.signal,
    }).finally(() => cache.close().catch(() => undefined));
    queries = r.queries;
    const s = r.stats;
    lines.push(`Generated ${s.generated} (${s.rejected} rejected by the filters, not cached), from cache ${s.fromCache}, failed ${s.failed}, retries ${s.retries} in ${s.seconds.toFixed(1)} s (cache: ${cache.path})`);
    for (const f of r.failures.slice(0, 5)) lines.push(`  failed ${f.chunk_id}: ${f.error}`);
  }
  const f = filterQueries(queries, chunks, { maxChars: values['max-chars'] });
  queries = f.kept;
  lines.push(`Filters dropped: ${JSON.stringify(f.counts)}`);
  if (values['round-trip']) {
    const rt = await roundTripFilter(queries, chunks, { k: values['round-trip'], onProgress: bar.onProgress, signal: ac.signal });
    queries = rt.kept;
    lines.push(`Round-trip (top ${values['round-trip']}) dropped ${rt.counts.roundTrip}`);
  }
  bar.stop();
  await writeFileAtomic(out, jsonlPieces(queries));
  console.log(['', ...lines, `Queries: ${queries.length} → ${out}`].join('\n'));
  return queries.length ? 0 : 1;
}

/** The in-page generator in Node: the GGUF file is checked, loaded by llama.cpp (WASM, CPU) and run chunk by chunk. */
async function generateWithModelFile(path: string, chunks: Chunk[], opts: InPageGenerateOptions & { cache: FileCache }, lines: string[]) {
  let gen;
  try {
    gen = await loadGgufGenerator(await openAsBlob(path), path, createNodeWllama, { device: 'wasm', onProgress: opts.onProgress });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    console.error(err.code === 'ENOENT' ? `No model file at ${path}.` : err.message);
    return undefined;
  }
  try {
    const r = await generateQueriesInPage(chunks, gen, opts);
    const s = r.stats;
    const tps = s.tokensPerSecond === undefined ? '' : `, ${s.tokensPerSecond.toFixed(1)} tokens/s`;
    lines.push(`Model: ${describeGguf(gen.info)} (CPU, WASM)`);
    lines.push(`Generated ${s.generated} (${s.rejected} rejected by the filters, not cached), from cache ${s.fromCache}, failed ${s.failed} in ${s.seconds.toFixed(1)} s${tps} (cache: ${opts.cache.path})`);
    for (const f of r.failures.slice(0, 5)) lines.push(`  failed ${f.chunk_id}: ${f.error}`);
    return r;
  } finally {
    await gen.dispose();
  }
}
