// The ONNX export run by onnxruntime-web (wasm backend, in Node) against the engine (WebGPU through Dawn) and against
// Hugging Face's logits, on the tiny BERT and XLM-R fixtures: full batch, other batch sizes and lengths (dynamic
// axes), and weights in an external data file.
import * as ort from 'onnxruntime-web';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { PairBatch } from '../../../src/model/tokenize.ts';
import { exportOnnx, OnnxExportError } from '../../../src/export/onnx.ts';
import { ONNX_LOGITS_TOLERANCE, maxAbsDiff, onnxLogits, openOnnx } from '../../../src/export/onnx-run.ts';
import { GpuModel } from '../../../src/train/gpu-model.ts';
import { gpu } from '../helpers/gpu.ts';
import { FIXTURES, fixtureDir, loadFixture } from '../model/fixture.ts';

type Batch = Pick<PairBatch, 'input_ids' | 'attention_mask' | 'token_type_ids' | 'batch' | 'length'>;

/** batch.json's ids as a batch; `rows` picks rows, and the length shrinks to their longest real row. */
function fixtureBatch(name: string, rows?: number[]): Batch {
  const b = JSON.parse(readFileSync(`${fixtureDir(name)}batch.json`, 'utf8')) as Record<'input_ids' | 'attention_mask' | 'token_type_ids', number[][]>;
  const pick = rows ?? b.input_ids.map((_, i) => i);
  const length = Math.max(...pick.map((r) => b.attention_mask[r].reduce((s, m) => s + m, 0)));
  const flat = (k: keyof typeof b) => Int32Array.from(pick.flatMap((r) => b[k][r].slice(0, length)));
  return { input_ids: flat('input_ids'), attention_mask: flat('attention_mask'), token_type_ids: flat('token_type_ids'), batch: pick.length, length };
}

const scorers: GpuModel[] = [];
afterAll(() => scorers.forEach((s) => s.release()));

async function engineLogits(name: string, batch: Batch): Promise<Float32Array> {
  const f = await loadFixture(name);
  const gm = await GpuModel.create(await gpu(), f.model.config, f.model.params);
  scorers.push(gm);
  return gm.score({ ...batch, truncatedDocuments: 0, truncatedQueries: 0 });
}

describe.each(FIXTURES)('ONNX export of %s', (name) => {
  it('declares the inputs Hugging Face exports declare and one logits output', async () => {
    const f = await loadFixture(name);
    const r = exportOnnx(f.model.config, f.model.params);
    const s = await openOnnx(ort, r.model);
    expect(s.inputNames).toEqual(name === 'bert-tiny' ? ['input_ids', 'attention_mask', 'token_type_ids'] : ['input_ids', 'attention_mask']);
    expect(s.outputNames).toEqual(['logits']);
    expect(r.externalData).toBeUndefined();
  });

  it('scores the fixture batch like the engine and like transformers (within 1e-4)', async () => {
    const f = await loadFixture(name);
    const r = exportOnnx(f.model.config, f.model.params);
    const batch = fixtureBatch(name);
    const got = await onnxLogits(ort, await openOnnx(ort, r.model), batch);
    const engine = await engineLogits(name, batch);
    const vsEngine = maxAbsDiff(got, engine);
    const vsHf = maxAbsDiff(got, f.expected.logits);
    console.log(`[onnx ${name}] ${batch.batch}×${batch.length}: max |onnxruntime-web − engine| ${vsEngine.toExponential(2)}, max |onnxruntime-web − transformers| ${vsHf.toExponential(2)}, ${r.bytes} bytes`);
    expect(got.length).toBe(batch.batch);
    expect(vsEngine).toBeLessThan(ONNX_LOGITS_TOLERANCE);
    expect(vsHf).toBeLessThan(ONNX_LOGITS_TOLERANCE);
  });

  it('takes any batch size and length (dynamic axes)', async () => {
    const f = await loadFixture(name);
    const s = await openOnnx(ort, exportOnnx(f.model.config, f.model.params).model);
    const full = await onnxLogits(ort, s, fixtureBatch(name));
    // Rows with padding, so the padded positions (and XLM-R's padding_idx positions) are exercised.
    const b = JSON.parse(readFileSync(`${fixtureDir(name)}batch.json`, 'utf8')) as { attention_mask: number[][] };
    const padded = b.attention_mask.map((m, i) => [i, m.indexOf(0)] as const).filter(([, z]) => z > 0).map(([i]) => i);
    expect(padded.length, 'the fixture should have padded rows').toBeGreaterThan(0);
    for (const rows of [[0], [padded[0]], [padded[0], 1, 2]]) {
      const sub = fixtureBatch(name, rows);
      const got = await onnxLogits(ort, s, sub);
      const engine = await engineLogits(name, sub);
      console.log(`[onnx ${name}] rows ${rows} (${sub.batch}×${sub.length}): vs full batch ${maxAbsDiff(got, rows.map((r) => full[r])).toExponential(2)}, vs engine ${maxAbsDiff(got, engine).toExponential(2)}`);
      expect(maxAbsDiff(got, rows.map((r) => full[r]))).toBeLessThan(1e-5);
      expect(maxAbsDiff(got, engine)).toBeLessThan(ONNX_LOGITS_TOLERANCE);
    }
  });

  it('puts the weights in model.onnx_data when asked, with the same scores', async () => {
    const f = await loadFixture(name);
    const inline = exportOnnx(f.model.config, f.model.params);
    const ext = exportOnnx(f.model.config, f.model.params, { externalData: true });
    expect(ext.externalData).toBeDefined();
    const modelBytes = ext.model.reduce((s, c) => s + c.byteLength, 0);
    expect(modelBytes).toBeLessThan(inline.bytes / 4);
    const batch = fixtureBatch(name);
    const a = await onnxLogits(ort, await openOnnx(ort, inline.model), batch);
    const b = await onnxLogits(ort, await openOnnx(ort, ext.model, ext.externalData), batch);
    expect(maxAbsDiff(a, b)).toBe(0);
  });
});

describe('ONNX export refuses a broken model', () => {
  it('names a missing tensor and a non-finite one', async () => {
    const f = await loadFixture('bert-tiny');
    const params = new Map(f.model.params);
    params.delete('classifier.bias');
    const w = Float32Array.from(params.get('bert.pooler.dense.weight')!);
    w[3] = NaN;
    params.set('bert.pooler.dense.weight', w);
    expect(() => exportOnnx(f.model.config, params)).toThrow(OnnxExportError);
    expect(() => exportOnnx(f.model.config, params)).toThrow(/missing classifier\.bias/);
    expect(() => exportOnnx(f.model.config, params)).toThrow(/bert\.pooler\.dense\.weight holds NaN/);
  });
});
