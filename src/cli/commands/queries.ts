// `rerank-lab queries chunks.jsonl --out queries.jsonl`: one query per chunk from an OpenAI-compatible endpoint, a
// local GGUF model file (the page's "Model in this page" generator, on the CPU), or imported pairs; then filters and
// an optional BM25 round-trip check.

import { openAsBlob } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
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
import { abortOnSigint, createProgressBar } from '../progress-bar.ts';

export const help = `rerank-lab queries chunks.jsonl --out queries.jsonl (--endpoint URL --model NAME [--key K] | --model-file M.gguf | --import pairs.jsonl)
  Writes {"query","chunk_id"} lines: one generated question per chunk, or imported pairs.
  --endpoint URL       OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8000/v1 (vLLM)
  --model NAME         model name the endpoint serves
  --key K              API key (or set RERANK_LAB_API_KEY)
  --model-file FILE    a local GGUF instruct model (e.g. Qwen2.5-0.5B-Instruct-Q4_K_M.gguf) run in this process by
                       llama.cpp in WebAssembly on the CPU: no server needed (slow: ~1 question per 10-60 s)
  --prompt-file FILE   prompt template; {chunk} marks where the chunk goes (default: a Chinese one-question prompt)
  --concurrency N      requests in flight (default 4)
  --timeout S          seconds per request (default 60)
  --retries N          retries on 429/5xx/timeouts (default 4)
  --cache FILE         query cache (default <out>.cache.jsonl); reruns never pay twice
  --limit N            only the first N chunks (try a prompt cheaply)
  --import FILE        pairs as JSONL or CSV: query + chunk_id or positive text; unmatched positives are written
                       to <out>.new-chunks.jsonl (pass it to mine as a second --chunks)
  --max-chars N        drop longer queries (default 200)
  --round-trip K       keep a query only if BM25 ranks its chunk in the top K`;

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
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      endpoint: { type: 'string' },
      model: { type: 'string' },
      key: { type: 'string' },
      'model-file': { type: 'string' },
      'prompt-file': { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      timeout: { type: 'string', default: '60' },
      retries: { type: 'string', default: '4' },
      cache: { type: 'string' },
      limit: { type: 'string' },
      import: { type: 'string' },
      'max-chars': { type: 'string', default: '200' },
      'round-trip': { type: 'string' },
    },
  });
  const chunksPath = positionals[0];
  const out = values.out;
  if (!chunksPath || !out || (!values.import && !values['model-file'] && !(values.endpoint && values.model))) {
    console.error(`queries needs a chunks file, --out, and one of --endpoint with --model, --model-file or --import.\n\n${help}`);
    return 2;
  }
  const parsed = await readJsonlFile(chunksPath, checkChunk, { show: 5 });
  let chunks = parsed.items;
  if (values.limit) chunks = chunks.slice(0, Number(values.limit));
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
        timeoutMs: Number(values.timeout) * 1000,
        retries: Number(values.retries),
      },
      prompt,
      concurrency: Number(values.concurrency),
      cache,
      filter: { maxChars: Number(values['max-chars']) },
      onProgress: bar.onProgress,
      signal: ac.signal,
    }).finally(() => cache.close().catch(() => undefined));
    queries = r.queries;
    const s = r.stats;
    lines.push(`Generated ${s.generated} (${s.rejected} rejected by the filters, not cached), from cache ${s.fromCache}, failed ${s.failed}, retries ${s.retries} in ${s.seconds.toFixed(1)} s (cache: ${cache.path})`);
    for (const f of r.failures.slice(0, 5)) lines.push(`  failed ${f.chunk_id}: ${f.error}`);
  }
  const f = filterQueries(queries, chunks, { maxChars: Number(values['max-chars']) });
  queries = f.kept;
  lines.push(`Filters dropped: ${JSON.stringify(f.counts)}`);
  if (values['round-trip']) {
    const rt = await roundTripFilter(queries, chunks, { k: Number(values['round-trip']), onProgress: bar.onProgress, signal: ac.signal });
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
