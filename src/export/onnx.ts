// A cross-encoder (BERT / XLM-RoBERTa for sequence classification) as an ONNX graph for serving: onnxruntime
// (Python, C++, Node), onnxruntime-web and transformers.js load it. Standard opset-17 operators only (Gather, Add,
// LayerNormalization, MatMul, Erf-based GELU, Softmax, Tanh, …), float32 weights, dynamic batch and length.
//
// Inputs are the ones Hugging Face's own export (optimum) declares, so serving code written for those models feeds
// ours unchanged (onnxruntime refuses inputs a graph does not declare):
//   BERT:  input_ids, attention_mask, token_type_ids   int64 [batch_size, sequence_length]
//   XLM-R: input_ids, attention_mask                   (every token type is 0; type_vocab_size is 1)
// Output: logits float32 [batch_size, num_labels].
//
// The graph is the same maths as the engine (src/model/reference/model.ts):
//   embeddings  word[ids] + position[pos] + type[types] → LayerNorm
//               pos = 0..L-1 (BERT); for the RoBERTa family pos = cumsum(ids ≠ pad) · (ids ≠ pad) + pad, as
//               transformers' create_position_ids_from_input_ids (padding gets padding_idx, real tokens count from
//               padding_idx + 1)
//   each layer  h1 = LN(x + Wo·attention(Wq·x, Wk·x, Wv·x, mask));  out = LN(h1 + W2·gelu(W1·h1))
//   head        logits = Wout · tanh(Wd · out[:, 0])
// Linear weights are stored transposed ([in, out]) so each linear is one MatMul + Add on [B, L, in].

import type { ModelConfig } from '../model/config.ts';
import { modelParamNames, paramSpecs } from '../model/params.ts';
import { DataType, GraphBuilder } from './onnx-proto.ts';

export const ONNX_OPSET = 17;
/** IR version 8 is the one that goes with opset 17 (onnx's VERSION_TABLE); every onnxruntime since 1.14 reads it. */
export const ONNX_IR_VERSION = 8;
/** Protobuf messages cannot exceed 2 GiB; above this much weight data the tensors go to an external file. */
export const EXTERNAL_DATA_THRESHOLD = 1.8 * 1024 ** 3;
export const EXTERNAL_DATA_FILE = 'model.onnx_data';

/** float32's lowest value, which transformers adds to the scores of padded keys. */
const F32_MIN = -3.4028234663852886e38;

export class OnnxExportError extends Error {
  override name = 'OnnxExportError';
}

export interface OnnxExportOptions {
  /** Put weights in EXTERNAL_DATA_FILE next to model.onnx. Default: only when they exceed EXTERNAL_DATA_THRESHOLD. */
  externalData?: boolean;
  /** Recorded in the file's metadata (model name, base model …). */
  metadata?: Record<string, string>;
}

export interface OnnxExport {
  /** model.onnx as chunks (weights referenced, not copied). */
  model: Uint8Array[];
  /** EXTERNAL_DATA_FILE's chunks when the weights are external, else undefined. */
  externalData?: Uint8Array[];
  /** The graph's input names, in order. */
  inputNames: string[];
  bytes: number;
}

/** The names a serving runtime must feed for this model (see the header). */
export function onnxInputNames(cfg: ModelConfig): string[] {
  return cfg.arch === 'bert' ? ['input_ids', 'attention_mask', 'token_type_ids'] : ['input_ids', 'attention_mask'];
}

/** W [out, in] row-major → Wᵀ [in, out]. */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
  return t;
}

function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

function checkedParams(cfg: ModelConfig, params: ReadonlyMap<string, Float32Array>): (name: string) => Float32Array {
  const bad: string[] = [];
  for (const s of paramSpecs(cfg)) {
    const p = params.get(s.name);
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (!p) bad.push(`missing ${s.name}`);
    else if (p.length !== n) bad.push(`${s.name} has ${p.length} values, expected ${n} for [${s.shape}]`);
    else if (!allFinite(p)) bad.push(`${s.name} holds NaN or infinite values`);
  }
  if (bad.length) throw new OnnxExportError(`cannot export the model to ONNX: ${bad.join('; ')}`);
  return (name) => params.get(name)!;
}

/** Builds the graph of a cross-encoder and encodes it. */
export function exportOnnx(cfg: ModelConfig, params: ReadonlyMap<string, Float32Array>, opts: OnnxExportOptions = {}): OnnxExport {
  if (cfg.hiddenAct !== 'gelu') throw new OnnxExportError(`hidden_act ${String(cfg.hiddenAct)} has no ONNX export here (only exact gelu)`);
  const p = checkedParams(cfg, params);
  const n = modelParamNames(cfg);
  const g = new GraphBuilder();
  const H = cfg.hidden;
  const I = cfg.intermediate;
  const dims = ['batch_size', 'sequence_length'];

  const ids = g.input('input_ids', DataType.INT64, dims);
  const mask = g.input('attention_mask', DataType.INT64, dims);
  const types = cfg.arch === 'bert' ? g.input('token_type_ids', DataType.INT64, dims) : undefined;

  // Shared constants.
  const axes12 = g.int64s('const.axes_1_2', [2], [1, 2]);
  const one = g.floats('const.one', [], new Float32Array([1]));

  // ---- embeddings
  const e = n.embeddings;
  const word = g.op('Gather', [g.floats(e.word, [cfg.vocabSize, H], p(e.word)), ids], { name: 'embeddings/word' });
  const posTable = g.floats(e.position, [cfg.maxPositions, H], p(e.position));
  let pos: string;
  if (cfg.arch === 'bert') {
    // Rows 0..L-1 of the table: [L, H], broadcast over the batch.
    const len = g.op('Shape', [ids], { name: 'embeddings/length', attrs: { start: { i: 1 }, end: { i: 2 } } });
    const zero = g.int64s('const.zero', [1], [0]);
    pos = g.op('Slice', [posTable, zero, len, zero], { name: 'embeddings/position' }); // starts [0], ends [L], axes [0]
  } else {
    const pad = g.int64s('const.padding_idx', [], [cfg.padTokenId]);
    const isPad = g.op('Equal', [ids, pad], { name: 'embeddings/is_pad' });
    const real = g.op('Cast', [g.op('Not', [isPad], { name: 'embeddings/not_pad' })], { name: 'embeddings/real', attrs: { to: { i: DataType.INT64 } } });
    const count = g.op('CumSum', [real, g.int64s('const.axis_1', [], [1])], { name: 'embeddings/cumsum' });
    const ids1 = g.op('Add', [g.op('Mul', [count, real], { name: 'embeddings/real_count' }), pad], { name: 'embeddings/position_ids' });
    pos = g.op('Gather', [posTable, ids1], { name: 'embeddings/position' });
  }
  let sum = g.op('Add', [word, pos], { name: 'embeddings/word_plus_position' });
  const typeTable = p(e.tokenType);
  if (types) {
    const t = g.op('Gather', [g.floats(e.tokenType, [cfg.typeVocabSize, H], typeTable), types], { name: 'embeddings/token_type' });
    sum = g.op('Add', [sum, t], { name: 'embeddings/sum' });
  } else {
    // Every token has type 0: add row 0 of the table.
    sum = g.op('Add', [sum, g.floats(`${e.tokenType}[0]`, [H], typeTable.subarray(0, H))], { name: 'embeddings/sum' });
  }
  const layerNorm = (x: string, w: string, b: string, name: string) =>
    g.op('LayerNormalization', [x, g.floats(w, [H], p(w)), g.floats(b, [H], p(b))], { name, attrs: { axis: { i: -1 }, epsilon: { f: cfg.layerNormEps } } });
  let x = layerNorm(sum, e.lnW, e.lnB, 'embeddings/LayerNorm');

  // ---- attention mask: 0 where attended, float32 min where padded, shaped [B, 1, 1, L] to add to [B, nh, L, L].
  const maskF = g.op('Cast', [mask], { name: 'mask/float', attrs: { to: { i: DataType.FLOAT } } });
  const inv = g.op('Sub', [one, maskF], { name: 'mask/inverted' });
  const bias = g.op('Mul', [inv, g.floats('const.f32_min', [], new Float32Array([F32_MIN]))], { name: 'mask/bias' });
  const maskBias = g.op('Unsqueeze', [bias, axes12], { name: 'mask/bias_4d' });

  // ---- encoder layers
  const linear = (input: string, w: string, b: string, rows: number, cols: number, name: string) => {
    const wt = g.floats(`${w}.T`, [cols, rows], transpose(p(w), rows, cols));
    return g.op('Add', [g.op('MatMul', [input, wt], { name: `${name}/MatMul` }), g.floats(b, [rows], p(b))], { name: `${name}/Add` });
  };
  const headsShape = g.int64s('const.heads_shape', [4], [0, 0, cfg.heads, cfg.headDim]);
  const hiddenShape = g.int64s('const.hidden_shape', [3], [0, 0, H]);
  const scale = g.floats('const.attention_scale', [], new Float32Array([Math.sqrt(cfg.headDim)]));
  const sqrt2 = g.floats('const.sqrt2', [], new Float32Array([Math.SQRT2]));
  const half = g.floats('const.half', [], new Float32Array([0.5]));
  n.layers.forEach((l, i) => {
    const at = `layer.${i}/attention`;
    // [B, L, H] → [B, nh, L, d] (q, v) and [B, nh, d, L] (k, so q·kᵀ is one MatMul)
    const split = (t: string, perm: number[], name: string) =>
      g.op('Transpose', [g.op('Reshape', [t, headsShape], { name: `${name}/Reshape` })], { name: `${name}/Transpose`, attrs: { perm: { ints: perm } } });
    const q = split(linear(x, l.qW, l.qB, H, H, `${at}/query`), [0, 2, 1, 3], `${at}/query`);
    const k = split(linear(x, l.kW, l.kB, H, H, `${at}/key`), [0, 2, 3, 1], `${at}/key`);
    const v = split(linear(x, l.vW, l.vB, H, H, `${at}/value`), [0, 2, 1, 3], `${at}/value`);
    const scores = g.op('Div', [g.op('MatMul', [q, k], { name: `${at}/scores` }), scale], { name: `${at}/scaled` });
    const probs = g.op('Softmax', [g.op('Add', [scores, maskBias], { name: `${at}/masked` })], { name: `${at}/Softmax`, attrs: { axis: { i: -1 } } });
    const ctx4 = g.op('MatMul', [probs, v], { name: `${at}/context` });
    const ctx = g.op('Reshape', [g.op('Transpose', [ctx4], { name: `${at}/context/Transpose`, attrs: { perm: { ints: [0, 2, 1, 3] } } }), hiddenShape], { name: `${at}/context/Reshape` });
    const h1 = layerNorm(g.op('Add', [x, linear(ctx, l.aoW, l.aoB, H, H, `${at}/output`)], { name: `${at}/residual` }), l.ln1W, l.ln1B, `${at}/LayerNorm`);
    // Feed-forward with exact GELU: 0.5 · a · (1 + erf(a / √2))
    const ff = `layer.${i}/ffn`;
    const a = linear(h1, l.fiW, l.fiB, I, H, `${ff}/intermediate`);
    const erf = g.op('Erf', [g.op('Div', [a, sqrt2], { name: `${ff}/gelu/div` })], { name: `${ff}/gelu/erf` });
    const gelu = g.op('Mul', [g.op('Mul', [a, g.op('Add', [erf, one], { name: `${ff}/gelu/add` })], { name: `${ff}/gelu/mul` }), half], { name: `${ff}/gelu` });
    x = layerNorm(g.op('Add', [h1, linear(gelu, l.foW, l.foB, H, I, `${ff}/output`)], { name: `${ff}/residual` }), l.ln2W, l.ln2B, `${ff}/LayerNorm`);
  });

  // ---- head: first token → dense → tanh → out projection
  const hd = n.head;
  const cls = g.op('Gather', [x, g.int64s('const.first', [], [0])], { name: 'head/first_token', attrs: { axis: { i: 1 } } });
  const pooled = g.op('Tanh', [linear(cls, hd.denseW, hd.denseB, H, H, 'head/dense')], { name: 'head/tanh' });
  const outWt = g.floats(`${hd.outW}.T`, [H, cfg.numLabels], transpose(p(hd.outW), cfg.numLabels, H));
  g.op('Add', [g.op('MatMul', [pooled, outWt], { name: 'head/out/MatMul' }), g.floats(hd.outB, [cfg.numLabels], p(hd.outB))], { name: 'head/out/Add', output: 'logits' });
  g.output('logits', DataType.FLOAT, ['batch_size', cfg.numLabels]);

  const weightBytes = [...g.initializers.values()].reduce((s, d) => s + d.bytes.byteLength, 0);
  const external = opts.externalData ?? weightBytes > EXTERNAL_DATA_THRESHOLD;
  const { model, external: data } = g.model({
    name: cfg.architecture || `${cfg.modelType} cross-encoder`,
    opset: ONNX_OPSET,
    irVersion: ONNX_IR_VERSION,
    producer: 'rerank-lab',
    producerVersion: '0.1.0',
    docString: `Cross-encoder reranker (${cfg.architecture || cfg.modelType}) exported by Rerank Lab. Inputs: ${onnxInputNames(cfg).join(', ')} (int64 [batch_size, sequence_length]); output: logits [batch_size, ${cfg.numLabels}].`,
    metadata: opts.metadata,
    externalAbove: external ? 1024 : undefined,
    externalLocation: EXTERNAL_DATA_FILE,
  });
  if (!external && model.byteLength >= 2 ** 31) throw new OnnxExportError('the ONNX file would exceed protobuf\'s 2 GiB limit: export with external data');
  const chunks = model.toChunks();
  return {
    model: chunks,
    externalData: external ? data : undefined,
    inputNames: onnxInputNames(cfg),
    bytes: model.byteLength + data.reduce((s, c) => s + c.byteLength, 0),
  };
}
