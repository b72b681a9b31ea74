// The ONNX export as a model folder that transformers.js, optimum and plain onnxruntime all read:
//   config.json            the saved folder's config.json plus "transformers.js_config": {"dtype": "fp32"} (else
//                          transformers.js in a browser looks for onnx/model_quantized.onnx, its wasm default)
//   tokenizer.json, tokenizer_config.json, special_tokens_map.json, …   copied
//   onnx/model.onnx        the graph (src/export/onnx.ts)
//   onnx/model.onnx_data   the weights, only for models over ~1.8 GB (protobuf's 2 GiB limit), with
//                          "use_external_data_format": true in transformers.js_config
// The same folder still holds model.safetensors when it is the saved Hugging Face folder, so one folder serves
// transformers, sentence-transformers, transformers.js and onnxruntime.

import type { ModelConfig } from '../model/config.ts';
import { EXTERNAL_DATA_FILE, exportOnnx, type OnnxExportOptions } from './onnx.ts';

export const ONNX_MODEL_PATH = 'onnx/model.onnx';
export const ONNX_DATA_PATH = `onnx/${EXTERNAL_DATA_FILE}`;

/** A file as chunks (the weights are views, not copies); join with concatChunks or write one after another. */
export type ChunkedFiles = Map<string, Uint8Array[]>;

/** config.json with transformers.js told to load the fp32 file (and external data when there is some). */
export function configForTransformersJs(configJson: Uint8Array | undefined, cfg: ModelConfig, external: boolean): Uint8Array {
  let raw: Record<string, unknown>;
  try {
    raw = configJson ? (JSON.parse(new TextDecoder().decode(configJson)) as Record<string, unknown>) : { ...cfg.raw };
  } catch {
    raw = { ...cfg.raw };
  }
  const prev = (raw['transformers.js_config'] ?? {}) as Record<string, unknown>;
  const tjs: Record<string, unknown> = { ...prev, dtype: 'fp32' };
  if (external) tjs.use_external_data_format = true;
  else delete tjs.use_external_data_format;
  raw['transformers.js_config'] = tjs;
  return new TextEncoder().encode(JSON.stringify(raw, null, 2) + '\n');
}

/**
 * The files to add to (or write next to) a saved model folder: onnx/model.onnx (+ onnx/model.onnx_data) and the
 * updated config.json. `folder` is the saved folder's files (config.json is read from it when present).
 */
export function onnxFolderFiles(
  model: { config: ModelConfig; params: ReadonlyMap<string, Float32Array> },
  folder: ReadonlyMap<string, Uint8Array>,
  opts: OnnxExportOptions = {},
): { files: ChunkedFiles; bytes: number; inputNames: string[] } {
  const r = exportOnnx(model.config, model.params, opts);
  const files: ChunkedFiles = new Map();
  files.set('config.json', [configForTransformersJs(folder.get('config.json'), model.config, !!r.externalData)]);
  files.set(ONNX_MODEL_PATH, r.model);
  if (r.externalData) files.set(ONNX_DATA_PATH, r.externalData);
  return { files, bytes: r.bytes, inputNames: r.inputNames };
}
