// Running an exported model with onnxruntime-web (its wasm backend runs in Node and in the page without any
// download), to check the export against the engine. The runtime module is passed in, so nothing here pulls
// onnxruntime-web into a bundle that does not ask for it.

import type * as Ort from 'onnxruntime-web';
import type { PairBatch } from '../model/tokenize.ts';
import { EXTERNAL_DATA_FILE } from './onnx.ts';
import { concatChunks } from './protobuf.ts';

export type OrtModule = typeof Ort;

/** Opens an exported model (chunks as exportOnnx returns them; external data when the export has some). */
export async function openOnnx(ort: OrtModule, model: Uint8Array | Uint8Array[], externalData?: Uint8Array | Uint8Array[]): Promise<Ort.InferenceSession> {
  const join = (x: Uint8Array | Uint8Array[]) => (Array.isArray(x) ? concatChunks(x) : x);
  // One thread: Node's wasm backend would otherwise start worker threads that keep a short-lived process alive.
  ort.env.wasm.numThreads = 1;
  return ort.InferenceSession.create(join(model), {
    executionProviders: ['wasm'],
    externalData: externalData ? [{ path: EXTERNAL_DATA_FILE, data: join(externalData) }] : undefined,
  });
}

/** Logits [batch × numLabels] for a tokenised batch; feeds only the inputs the graph declares. */
export async function onnxLogits(ort: OrtModule, session: Ort.InferenceSession, batch: Pick<PairBatch, 'input_ids' | 'attention_mask' | 'token_type_ids' | 'batch' | 'length'>): Promise<Float32Array> {
  const int64 = (a: Int32Array) => new ort.Tensor('int64', BigInt64Array.from(a, (v) => BigInt(v)), [batch.batch, batch.length]);
  const all: Record<string, Int32Array> = { input_ids: batch.input_ids, attention_mask: batch.attention_mask, token_type_ids: batch.token_type_ids };
  const feeds: Record<string, Ort.Tensor> = {};
  for (const name of session.inputNames) {
    if (!all[name]) throw new Error(`the ONNX model wants an input named ${name}, which a cross-encoder batch does not have`);
    feeds[name] = int64(all[name]);
  }
  const out = await session.run(feeds);
  const logits = out.logits;
  if (!logits) throw new Error(`the ONNX model has no output named logits (outputs: ${session.outputNames.join(', ')})`);
  return logits.data as Float32Array;
}

/** The bound: onnxruntime's logits within 1e-4 (absolute) of the engine's. */
export const ONNX_LOGITS_TOLERANCE = 1e-4;

/** max |a − b| (NaN counts as infinite). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
