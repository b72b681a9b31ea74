// A Hugging Face model folder as a file map (name → bytes): load it (the page passes dropped files, Node reads a
// directory) and save a trained model back as one (model.safetensors in f32 with the original tensor names,
// config.json, tokenizer and other non-weight files copied) that transformers and sentence-transformers load.

import { writeFilesAtomic } from '../util/atomic-file.ts';
import { mulberry32 } from '../util/rng.ts';
import { assertFinite } from './finite.ts';
import { configJsonForSave, parseModelConfig, type ModelConfig } from './config.ts';
import { canonicalName, initNewHead, paramSpecs, validateParams, type ParamSpec } from './params.ts';
import { readSafetensors, readShardedSafetensors, writeSafetensors, type ReadResult } from './safetensors.ts';
import { createPairTokenizer, type PairTokenizer } from './tokenize.ts';
import { throwIfAborted, type LongRunning } from '../util/progress.ts';

export type FileMap = Map<string, Uint8Array>;

export interface HfModel {
  config: ModelConfig;
  /** Every parameter (paramSpecs order), f32, original HF names. */
  params: Map<string, Float32Array>;
  /** Head parameters the checkpoint lacked (encoder-only checkpoint); `params` holds a fresh, seeded init of them. */
  newHead: string[];
  tokenizer: PairTokenizer;
  /** The non-weight files (tokenizer files, README …) to copy when saving. */
  extraFiles: FileMap;
  /** What was ignored or assumed while loading, for the user. */
  notes: string[];
}

export class HfFolderError extends Error {
  override name = 'HfFolderError';
}

const CONVERT_HINT =
  'convert it once with Python: python -c "from transformers import AutoModelForSequenceClassification as M; ' +
  "M.from_pretrained('DIR').save_pretrained('DIR', safe_serialization=True)\" (needs transformers, torch and safetensors)";

/** Weight-like files we never copy when saving: we write our own model.safetensors, and any other weights or
 * optimizer states in the folder would be stale next to the trained ones. */
function isWeightFile(name: string): boolean {
  return /\.(safetensors|bin|pt|pth|ckpt|h5|msgpack|ot|onnx|gguf)$/.test(name) || /\.(safetensors|bin)\.index\.json$/.test(name);
}

/**
 * Accepts files keyed by name or by a relative path (dropped folders give "my-model/config.json"): the directory
 * that holds config.json is the root; files in sub-folders below it (onnx/, 1_Pooling/ …) are left out.
 */
export function normaliseFileMap(files: FileMap | Record<string, Uint8Array>): FileMap {
  const entries = files instanceof Map ? [...files.entries()] : Object.entries(files);
  const norm = entries.map(([k, v]) => [k.replace(/\\/g, '/').replace(/^\.\//, ''), v] as const);
  const configs = norm.map(([k]) => k).filter((k) => k === 'config.json' || k.endsWith('/config.json'));
  if (configs.length === 0) throw new HfFolderError(`no config.json among the ${norm.length} file(s) given: pick the model folder itself (it holds config.json, tokenizer.json and model.safetensors)`);
  const root = configs.sort((a, b) => a.length - b.length)[0].slice(0, -'config.json'.length);
  const out: FileMap = new Map();
  for (const [k, v] of norm) {
    if (!k.startsWith(root)) continue;
    const rel = k.slice(root.length);
    if (rel.includes('/')) continue;
    out.set(rel, v);
  }
  return out;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Reads the weights of a folder: model.safetensors, or the shards named by model.safetensors.index.json. */
export function readFolderWeights(files: FileMap): ReadResult {
  if (files.has('model.safetensors')) return readSafetensors(files.get('model.safetensors')!, { fileName: 'model.safetensors' });
  const index = files.get('model.safetensors.index.json');
  if (index) return readShardedSafetensors(text(index), files);
  const names = [...files.keys()];
  if (names.some((n) => /^pytorch_model.*\.bin$/.test(n))) {
    throw new HfFolderError(`the folder has only pytorch_model.bin (a pickle, which we do not read for safety); ${CONVERT_HINT}`);
  }
  const other = names.filter((n) => /\.safetensors$/.test(n));
  if (other.length) throw new HfFolderError(`no model.safetensors (found ${other.join(', ')}): rename the weights file to model.safetensors, or add model.safetensors.index.json for shards`);
  throw new HfFolderError(`no weights in the folder (expected model.safetensors or model.safetensors.index.json; files: ${names.join(', ')})`);
}

/**
 * Loads and validates a model folder given as files. An encoder-only checkpoint gets its classification head
 * initialised as transformers would (N(0, initializer_range) weights, zero biases) from `seed` (default 42).
 */
export async function loadHfFolder(input: FileMap | Record<string, Uint8Array>, opts: LongRunning & { seed?: number } = {}): Promise<HfModel> {
  const files = normaliseFileMap(input);
  const report = (done: number, detail: string) => opts.onProgress?.({ stage: 'load-model', done, total: 3, detail });
  report(0, 'config.json');
  const config = parseModelConfig(text(files.get('config.json')!));
  const tj = files.get('tokenizer.json');
  if (!tj) {
    const legacy = ['vocab.txt', 'sentencepiece.bpe.model'].filter((n) => files.has(n));
    throw new HfFolderError(`no tokenizer.json in the folder${legacy.length ? ` (found ${legacy.join(', ')}, the slow-tokenizer files)` : ''}; ` +
      'create it once with Python: python -c "from transformers import AutoTokenizer as T; T.from_pretrained(\'DIR\').save_pretrained(\'DIR\')"');
  }
  const tc = files.get('tokenizer_config.json');
  const tokenizer = createPairTokenizer(text(tj), tc ? text(tc) : {}, { padTokenId: config.padTokenId });
  throwIfAborted(opts.signal);
  report(1, 'weights');
  const weights = readFolderWeights(files);
  throwIfAborted(opts.signal);
  report(2, 'checking tensors');
  refuseUnsupportedDtypes(config, weights);
  const v = validateParams(config, weights.tensors);
  assertFinite(v.params, 'the model\'s weights are damaged', 'fine-tuning cannot start from them: re-download or re-export the model');
  if (v.newHead.length) {
    const init = initNewHead(config, v.newHead, mulberry32(opts.seed ?? 42));
    // Re-insert in paramSpecs order so iteration order is the same as for a full checkpoint.
    const all = new Map([...v.params, ...init]);
    v.params.clear();
    for (const s of paramSpecs(config)) v.params.set(s.name, all.get(s.name)!);
  }
  const notes = [...v.notes];
  if (weights.skipped.length) notes.push(`skipped non-float tensors: ${weights.skipped.map((s) => `${s.name} (${s.dtype})`).join(', ')}`);
  const dtypes = new Set([...weights.tensors.values()].map((t) => t.dtype));
  if (dtypes.has('F16') || dtypes.has('BF16')) notes.push(`weights stored as ${[...dtypes].join('/')} were widened to f32 for training`);
  if (!tc) notes.push('no tokenizer_config.json: padding uses pad_token_id from config.json');
  const extraFiles: FileMap = new Map();
  for (const [k, b] of files) if (k !== 'config.json' && !isWeightFile(k)) extraFiles.set(k, b);
  report(3, 'done');
  return { config, params: v.params, newHead: v.newHead, tokenizer, extraFiles, notes: [...notes, ...v.ignored.map((s) => `ignored ${s}`)] };
}

/** A weight the model needs stored as an integer/bool dtype is unsupported, not "missing": say so. */
function refuseUnsupportedDtypes(config: ModelConfig, weights: ReadResult): void {
  const needed = new Set(paramSpecs(config).map((s) => s.name));
  const bad = weights.skipped.filter((s) => needed.has(canonicalName(config, s.name)));
  if (bad.length) {
    throw new HfFolderError(`unsupported dtype for weight(s) ${bad.map((b) => `${b.name} (${b.dtype})`).join(', ')}: weights must be F32, F16, BF16 or F64; convert the model with transformers (model.float().save_pretrained(DIR))`);
  }
}

/**
 * A trained model as a Hugging Face folder: model.safetensors (f32, original names), config.json (with the
 * classification architecture declared) and the other non-weight files copied unchanged.
 */
export function saveHfFolder(model: { config: ModelConfig; params: ReadonlyMap<string, Float32Array | Float64Array>; extraFiles?: ReadonlyMap<string, Uint8Array> }): FileMap {
  const out: FileMap = new Map();
  for (const [k, v] of model.extraFiles ?? []) out.set(k, v);
  const tensors = new Map<string, { shape: number[]; data: Float32Array | Float64Array }>();
  const specs = validateShapesForSave(model.config, model.params);
  assertFinite(specs.map((s) => [s.name, model.params.get(s.name)!] as [string, ArrayLike<number>]), 'refusing to save the model', 'training diverged (a learning rate too high?); nothing was written');
  for (const s of specs) tensors.set(s.name, { shape: s.shape, data: model.params.get(s.name)! });
  out.set('model.safetensors', writeSafetensors(tensors, { metadata: { format: 'pt' } }));
  out.set('config.json', new TextEncoder().encode(JSON.stringify(configJsonForSave(model.config), null, 2) + '\n'));
  return out;
}

function validateShapesForSave(cfg: ModelConfig, params: ReadonlyMap<string, Float32Array | Float64Array>): ParamSpec[] {
  const specs = paramSpecs(cfg);
  const bad: string[] = [];
  for (const s of specs) {
    const p = params.get(s.name);
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (!p) bad.push(`missing ${s.name}`);
    else if (p.length !== n) bad.push(`${s.name} has ${p.length} values, expected ${n} for [${s.shape}]`);
  }
  if (bad.length) throw new HfFolderError(`cannot save the model: ${bad.join('; ')}`);
  return specs;
}

/** Node only: reads the files at the top of a directory into a FileMap. */
export async function readFolderNode(dir: string): Promise<FileMap> {
  const fs = await import(/* @vite-ignore */ 'node:fs/promises');
  const path = await import(/* @vite-ignore */ 'node:path');
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    throw new HfFolderError(`cannot read model folder ${dir}: ${(e as Error).message}`);
  }
  const out: FileMap = new Map();
  for (const n of names) {
    const p = path.join(dir, n);
    if (!(await fs.stat(p)).isFile()) continue;
    out.set(n, new Uint8Array(await fs.readFile(p)));
  }
  return out;
}

/**
 * Node only: writes a FileMap into a directory (created if needed), atomically per file and all files flushed before
 * any is renamed into place (util/atomic-file.ts): a kill or a full disk never leaves a 0-byte model.safetensors.
 */
export async function writeFolderNode(dir: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
  for (const n of files.keys()) if (n.includes('/') || n.includes('\\') || n === '..') throw new HfFolderError(`refusing to write ${n}: file names must not contain a path`);
  await writeFilesAtomic(dir, files);
}
