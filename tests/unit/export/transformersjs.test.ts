// The exported folder (config.json, tokenizer files, onnx/model.onnx) loaded by transformers.js — the page's own
// stack — running on onnxruntime-web's wasm backend (handed to transformers.js through its globalThis hook, as a
// page would have it), scoring the fixture pairs like the engine and like Hugging Face transformers.
import * as ort from 'onnxruntime-web';
import { copyFile, mkdtemp, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { onnxFolderFiles } from '../../../src/export/onnx-folder.ts';
import { ONNX_LOGITS_TOLERANCE, maxAbsDiff } from '../../../src/export/onnx-run.ts';
import { writeExportFolder } from '../../../src/export/write-node.ts';
import { readFolderNode } from '../../../src/model/hf-folder.ts';
import { GpuModel } from '../../../src/train/gpu-model.ts';
import { gpu } from '../helpers/gpu.ts';
import { FIXTURES, fixtureDir, loadFixture } from '../model/fixture.ts';

// onnxruntime-web from node_modules (no CDN): transformers.js would otherwise point its wasm paths at jsDelivr.
ort.env.wasm.wasmPaths = pathToFileURL(join(createRequire(import.meta.url).resolve('onnxruntime-web'), '..') + '/').href;
ort.env.wasm.numThreads = 1;
(globalThis as Record<symbol, unknown>)[Symbol.for('onnxruntime')] = ort;
const T = await import('@huggingface/transformers');

const scorers: GpuModel[] = [];
afterAll(() => scorers.forEach((s) => s.release()));

describe.each(FIXTURES)('transformers.js loads the exported %s folder', (name) => {
  it('scores like transformers and like the engine (within 1e-4), tokenising as we do, on onnxruntime-web', async () => {
    const src = fixtureDir(name);
    const root = await mkdtemp(join(tmpdir(), 'rl-tjs-'));
    const files = await readFolderNode(src);
    const f = await loadFixture(name);
    await writeExportFolder(join(root, name), onnxFolderFiles(f.model, files).files);
    for (const n of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join(src, n), join(root, name, n));
    const config = JSON.parse(await readFile(join(root, name, 'config.json'), 'utf8'));
    expect(config['transformers.js_config']).toEqual({ dtype: 'fp32' });

    T.env.allowRemoteModels = false;
    T.env.localModelPath = root;
    const tokenizer = await T.AutoTokenizer.from_pretrained(name);
    // 'auto': whatever backends the runtime handed over registers (here onnxruntime-web's wasm).
    const model = await T.AutoModelForSequenceClassification.from_pretrained(name, { device: 'auto' });
    const session = (model as unknown as { sessions: Record<string, unknown> }).sessions.model;
    expect(session).toBeInstanceOf(ort.InferenceSession);

    const batch = JSON.parse(await readFile(join(src, 'batch.json'), 'utf8')) as Record<'input_ids' | 'attention_mask' | 'token_type_ids', number[][]> & { queries: string[]; documents: string[] };
    const tensor = (rows: number[][]) => new T.Tensor('int64', BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [rows.length, rows[0].length]);
    const flat = (t: { tolist(): unknown }) => Int32Array.from((t.tolist() as bigint[][]).flat(), Number);
    const gm = await GpuModel.create(await gpu(), f.model.config, f.model.params);
    scorers.push(gm);

    // 1. Transformers' own ids (truncated to 48 tokens, document first): the model scores them like transformers.
    const feeds: Record<string, unknown> = { input_ids: tensor(batch.input_ids), attention_mask: tensor(batch.attention_mask) };
    if (name === 'bert-tiny') feeds.token_type_ids = tensor(batch.token_type_ids);
    const hfIds = Array.from((await model(feeds)).logits.data as Float32Array);
    const vsHf = maxAbsDiff(hfIds, f.expected.logits);

    // 2. Pairs short enough that nothing is cut: transformers.js tokenises them as we do, and scores them as the
    //    engine does. (transformers.js 4.3 truncates a pair by cutting the joined sequence, final separator
    //    included, so pairs that need cutting are tokenised by the caller; see README "Serving".)
    const queries = batch.queries;
    const docs = batch.documents.map((d) => d.slice(0, 16));
    const enc = tokenizer(queries, { text_pair: docs, padding: true });
    const ours = f.model.tokenizer.encodePairs(queries, docs, { maxLength: 512 });
    expect(ours.truncatedDocuments).toBe(0);
    expect(flat(enc.input_ids), 'transformers.js ids vs ours').toEqual(ours.input_ids);
    expect(flat(enc.attention_mask)).toEqual(ours.attention_mask);
    const logits = Array.from((await model(enc)).logits.data as Float32Array);
    const engine = await gm.score(ours);
    const vsEngine = maxAbsDiff(logits, engine);
    console.log(`[transformers.js ${name}] on onnxruntime-web: transformers' ${batch.input_ids.length}×${batch.input_ids[0].length} batch: max |transformers.js − transformers| ${vsHf.toExponential(2)}; its own tokens (${ours.batch}×${ours.length}): max |transformers.js − engine| ${vsEngine.toExponential(2)}`);
    expect(vsHf).toBeLessThan(ONNX_LOGITS_TOLERANCE);
    expect(vsEngine).toBeLessThan(ONNX_LOGITS_TOLERANCE);
  });
});
