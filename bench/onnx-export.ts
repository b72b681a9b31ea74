// `npm run bench:onnx [-- bge-base|bge-large|bert-base]`: time and memory of the ONNX export at real model shapes
// (random weights), with the file written to a temporary folder chunk by chunk and then run once by onnxruntime-web
// on a small batch (proof that the graph loads at that size). Prints figures; asserts nothing.
import * as ort from 'onnxruntime-web';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportOnnx } from '../src/export/onnx.ts';
import { onnxLogits, openOnnx } from '../src/export/onnx-run.ts';
import { writeExportFolder } from '../src/export/write-node.ts';
import { paramSpecs } from '../src/model/params.ts';
import { presetConfig } from '../src/model/presets.ts';
import { mulberry32 } from '../src/util/rng.ts';

const name = process.argv[2] ?? 'bge-base';
const cfg = presetConfig(name);
const rng = mulberry32(1);
const params = new Map<string, Float32Array>();
for (const s of paramSpecs(cfg)) {
  const a = new Float32Array(s.shape.reduce((x, y) => x * y, 1));
  const ln = s.name.includes('LayerNorm.weight');
  for (let i = 0; i < a.length; i++) a[i] = ln ? 1 : (rng() - 0.5) * 0.04;
  params.set(s.name, a);
}
const mb = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MB`;
const weights = [...params.values()].reduce((s, a) => s + a.byteLength, 0);
global.gc?.();
const rss0 = process.memoryUsage().rss;
let t = performance.now();
const r = exportOnnx(cfg, params);
const buildMs = performance.now() - t;
const rssBuilt = process.memoryUsage().rss;
const dir = await mkdtemp(join(tmpdir(), 'rl-bench-onnx-'));
t = performance.now();
await writeExportFolder(dir, new Map([['onnx/model.onnx', r.model], ...(r.externalData ? [['onnx/model.onnx_data', r.externalData] as const] : [])]));
const writeMs = performance.now() - t;
const size = (await stat(join(dir, 'onnx/model.onnx'))).size;
console.log(`${name}: ${mb(weights)} of weights → model.onnx ${mb(size)}${r.externalData ? ' + model.onnx_data' : ''}; graph built in ${buildMs.toFixed(0)} ms ` +
  `(RSS +${mb(rssBuilt - rss0)} over the weights: the transposed linear weights), written in ${writeMs.toFixed(0)} ms`);
t = performance.now();
const session = await openOnnx(ort, r.model, r.externalData);
const openMs = performance.now() - t;
const B = 2;
const L = 32;
const ids = Int32Array.from({ length: B * L }, (_, i) => 5 + (i % 100));
t = performance.now();
const logits = await onnxLogits(ort, session, { input_ids: ids, attention_mask: new Int32Array(B * L).fill(1), token_type_ids: new Int32Array(B * L), batch: B, length: L });
console.log(`onnxruntime-web (wasm, 1 thread): session created in ${openMs.toFixed(0)} ms, ${B}×${L} scored in ${(performance.now() - t).toFixed(0)} ms → ${Array.from(logits, (x) => x.toFixed(4)).join(', ')}`);
await rm(dir, { recursive: true, force: true });
