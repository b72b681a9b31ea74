// A Hugging Face model folder as a file map (name → bytes): load it (the page passes dropped files, Node reads a
// directory) and save a trained model back as one that transformers and sentence-transformers load.
// In: tokenizer.json, or vocab.txt (BERT) / sentencepiece.bpe.model (XLM-R) alone (tokenizer-source.ts); weights as
// model.safetensors (f32/f16/bf16, or shards) or pytorch_model.bin (torch-bin.ts, or shards); a two-label head is
// collapsed to one logit (head.ts). Out: see saveHfFolder.

import { writeFilesAtomic } from '../util/atomic-file.ts';
import { mulberry32 } from '../util/rng.ts';
import { ACTIVATION_CLASS, declaredActivation, type Activation } from './activation.ts';
import { configJsonForSave, parseModelConfig, type ModelConfig } from './config.ts';
import { assertFinite } from './finite.ts';
import { collapseHead } from './head.ts';
import { canonicalName, initNewHead, paramSpecs, validateParams, type ParamSpec } from './params.ts';
import { readSafetensors, readShardedSafetensors, writeSafetensors, type ReadResult } from './safetensors.ts';
import { isExportedFile } from './folder-files.ts';
import { folderTokenizer } from './tokenizer-source.ts';
import { CARD_FRONT_MATTER, CARD_USAGE } from './card-parts.ts';
import { createPairTokenizer, type PairTokenizer } from './tokenize.ts';
import { readTorchBin } from './torch-bin.ts';
import { throwIfAborted, type LongRunning } from '../util/progress.ts';

export type FileMap = Map<string, Uint8Array>;
export { isExportedFile, isModelFolderFile } from './folder-files.ts';

export interface HfModel {
  config: ModelConfig;
  /** Every parameter (paramSpecs order), f32, original HF names. */
  params: Map<string, Float32Array>;
  /** Head parameters the checkpoint lacked (encoder-only checkpoint); `params` holds a fresh, seeded init of them. */
  newHead: string[];
  tokenizer: PairTokenizer;
  /** The files to copy into a saved folder: tokenizer files (and a tokenizer.json we built) and licence files. */
  extraFiles: FileMap;
  /** How a logit becomes a score: what the folder declares (sentence-transformers' keys), else sigmoid. */
  activation: Activation;
  /** tokenizer_config.json's model_max_length when it is a real limit (not transformers' 1e30 "none"). */
  modelMaxLength?: number;
  /** What was ignored or assumed while loading, for the user. */
  notes: string[];
}

export class HfFolderError extends Error {
  override name = 'HfFolderError';
}

/**
 * Accepts files keyed by name or by a relative path (dropped folders give "my-model/config.json"): the directory
 * that holds config.json is the root; files in sub-folders below it (onnx/, 1_Pooling/ …) are left out.
 */
export function normaliseFileMap(files: FileMap | Record<string, Uint8Array>): FileMap {
  const entries = files instanceof Map ? [...files.entries()] : Object.entries(files);
  const norm = entries.map(([k, v]) => [k.replace(/\\/g, '/').replace(/^\.\//, ''), v] as const);
  const configs = norm.map(([k]) => k).filter((k) => k === 'config.json' || k.endsWith('/config.json'));
  if (configs.length === 0) throw new HfFolderError(`no config.json among the ${norm.length} file(s) given: pick the model folder itself (it holds config.json, the tokenizer files and the weights)`);
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

/** pytorch_model.bin.index.json → the shards it names, each read by the strict PyTorch reader and merged. */
function readShardedTorchBin(indexText: string, files: FileMap): ReadResult {
  let map: Record<string, string>;
  try {
    map = JSON.parse(indexText).weight_map;
  } catch (e) {
    throw new HfFolderError(`pytorch_model.bin.index.json is not valid JSON: ${(e as Error).message}`);
  }
  if (!map || typeof map !== 'object') throw new HfFolderError('pytorch_model.bin.index.json has no "weight_map"');
  const shards = [...new Set(Object.values(map))];
  const missing = shards.filter((s) => !files.has(s));
  if (missing.length) throw new HfFolderError(`pytorch_model.bin.index.json names shard(s) that are not in the folder: ${missing.join(', ')}`);
  const out: ReadResult = { tensors: new Map(), skipped: [], metadata: {} };
  for (const shard of shards) {
    const r = readTorchBin(files.get(shard)!, shard);
    for (const [k, v] of r.tensors) out.tensors.set(k, v);
    out.skipped.push(...r.skipped);
  }
  return out;
}

/**
 * Reads the weights of a folder: model.safetensors, the shards of model.safetensors.index.json, pytorch_model.bin
 * (read without executing anything: torch-bin.ts), or the shards of pytorch_model.bin.index.json.
 */
export function readFolderWeights(files: FileMap): ReadResult {
  if (files.has('model.safetensors')) return readSafetensors(files.get('model.safetensors')!, { fileName: 'model.safetensors' });
  const index = files.get('model.safetensors.index.json');
  if (index) return readShardedSafetensors(text(index), files);
  if (files.has('pytorch_model.bin')) return readTorchBin(files.get('pytorch_model.bin')!, 'pytorch_model.bin');
  const binIndex = files.get('pytorch_model.bin.index.json');
  if (binIndex) return readShardedTorchBin(text(binIndex), files);
  const names = [...files.keys()];
  const other = names.filter((n) => /\.(safetensors|bin)$/.test(n));
  if (other.length) throw new HfFolderError(`no model.safetensors or pytorch_model.bin (found ${other.join(', ')}): rename the weights file to model.safetensors (or pytorch_model.bin), or add the shard index (model.safetensors.index.json / pytorch_model.bin.index.json)`);
  throw new HfFolderError(`no weights in the folder (expected model.safetensors, pytorch_model.bin, or a shard index; files: ${names.join(', ')})`);
}

/** A sane model_max_length from tokenizer_config.json (transformers writes 1e30 for "no limit"). */
function modelMaxLengthOf(tc: Record<string, unknown>): number | undefined {
  const v = tc.model_max_length;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 1_000_000 ? v : undefined;
}

/** What a sentence-transformers modules.json lists beyond the transformer itself, for a note. */
function extraModules(files: FileMap): string[] {
  const b = files.get('modules.json');
  if (!b) return [];
  try {
    const mods = JSON.parse(text(b)) as { type?: string }[];
    return mods.map((m) => String(m.type ?? '')).filter((t) => !/\.Transformer$/.test(t));
  } catch {
    return [];
  }
}

/**
 * Loads and validates a model folder given as files. An encoder-only checkpoint gets its classification head
 * initialised as transformers would (N(0, initializer_range) weights, zero biases) from `seed` (default 42).
 */
export async function loadHfFolder(input: FileMap | Record<string, Uint8Array>, opts: LongRunning & { seed?: number } = {}): Promise<HfModel> {
  const files = normaliseFileMap(input);
  const report = (done: number, detail: string) => opts.onProgress?.({ stage: 'load-model', done, total: 3, detail });
  report(0, 'config.json');
  const declared = parseModelConfig(text(files.get('config.json')!));
  const tok = folderTokenizer(files, declared);
  const tokenizer = createPairTokenizer(tok.json, tok.config, { padTokenId: declared.padTokenId });
  throwIfAborted(opts.signal);
  report(1, 'weights');
  const weights = readFolderWeights(files);
  throwIfAborted(opts.signal);
  report(2, 'checking tensors');
  refuseUnsupportedDtypes(declared, weights);
  let collapsed: ReturnType<typeof collapseHead>;
  try {
    collapsed = collapseHead(declared, weights.tensors);
  } catch (e) {
    throw new HfFolderError((e as Error).message);
  }
  const config = collapsed.config;
  const v = validateParams(config, collapsed.tensors);
  assertFinite(v.params, 'the model\'s weights are damaged', 'fine-tuning cannot start from them: re-download or re-export the model');
  if (v.newHead.length) {
    const init = initNewHead(config, v.newHead, mulberry32(opts.seed ?? 42));
    // Re-insert in paramSpecs order so iteration order is the same as for a full checkpoint.
    const all = new Map([...v.params, ...init]);
    v.params.clear();
    for (const s of paramSpecs(config)) v.params.set(s.name, all.get(s.name)!);
  }
  const notes = [...v.notes];
  if (tok.note) notes.push(tok.note);
  if (collapsed.note) notes.push(collapsed.note);
  if (weights.skipped.length) notes.push(`skipped non-float tensors: ${weights.skipped.map((s) => `${s.name} (${s.dtype})`).join(', ')}`);
  const dtypes = new Set([...weights.tensors.values()].map((t) => t.dtype));
  if (dtypes.has('F16') || dtypes.has('BF16')) notes.push(`weights stored as ${[...dtypes].join('/')} were widened to f32 for training`);
  if (!files.has('tokenizer_config.json')) notes.push('no tokenizer_config.json: padding uses pad_token_id from config.json');
  const act = declaredActivation(config.raw, files.get('config_sentence_transformers.json'));
  // A collapsed softmax pair is read with a sigmoid (it equals the old softmax probability of the positive label).
  const activation = collapsed.note ? 'sigmoid' : act.activation;
  if (act.unsupported) notes.push(`${act.source} declares ${act.unsupported}, which Rerank Lab cannot apply: scores use sigmoid and an export declares Sigmoid`);
  else if (act.source !== 'default' && !collapsed.note) notes.push(`scores use the declared activation ${activation} (${act.source})`);
  const extra = extraModules(files);
  if (extra.length && !config.headIsNew) notes.push(`modules.json lists ${extra.join(', ')} after the transformer; Rerank Lab scores the transformer's logit only, and the export leaves modules.json out`);
  const extraFiles: FileMap = new Map();
  const left: string[] = [];
  for (const [k, b] of files) {
    if (isExportedFile(k)) extraFiles.set(k, b);
    else if (k !== 'config.json' && !/\.(safetensors|bin)$|\.index\.json$/.test(k)) left.push(k);
  }
  if (tok.generated) extraFiles.set('tokenizer.json', tok.generated);
  if (left.length) notes.push(`not carried into an export: ${left.sort().join(', ')} (the export writes its own config.json, weights and model card)`);
  report(3, 'done');
  return {
    config,
    params: v.params,
    newHead: v.newHead,
    tokenizer,
    extraFiles,
    activation,
    modelMaxLength: modelMaxLengthOf(tok.config),
    notes: [...notes, ...v.ignored.map((s) => `ignored ${s}`)],
  };
}

export interface SaveOptions {
  /** The max length the model was trained with: tokenizer_config.json's model_max_length, which sentence-transformers
   * truncates pairs to (default: the loaded folder's value, else the longest input the position table allows). */
  maxLength?: number;
  /** README.md, the model card (src/eval/model-card.ts); default: a short card naming the base model. */
  modelCard?: string;
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
 * A trained model as a Hugging Face folder that transformers and sentence-transformers' CrossEncoder (v4 to v6) load:
 * model.safetensors (f32, original tensor names), config.json (the classification architecture, one label, and
 * "sentence_transformers": {"activation_fn"} as sentence-transformers writes it, so CrossEncoder applies the same
 * activation as `rerank-lab score`), tokenizer_config.json with the trained max length, the tokenizer files, and a
 * model card of ours. Nothing else from the base folder is carried over (see isExportedFile).
 */
export function saveHfFolder(
  model: { config: ModelConfig; params: ReadonlyMap<string, Float32Array | Float64Array>; extraFiles?: ReadonlyMap<string, Uint8Array>; activation?: Activation },
  opts: SaveOptions = {},
): FileMap {
  const out: FileMap = new Map();
  for (const [k, v] of model.extraFiles ?? []) if (isExportedFile(k)) out.set(k, v);
  const tensors = new Map<string, { shape: number[]; data: Float32Array | Float64Array }>();
  const specs = validateShapesForSave(model.config, model.params);
  assertFinite(specs.map((s) => [s.name, model.params.get(s.name)!] as [string, ArrayLike<number>]), 'refusing to save the model', 'training diverged (a learning rate too high?); nothing was written');
  for (const s of specs) tensors.set(s.name, { shape: s.shape, data: model.params.get(s.name)! });
  out.set('model.safetensors', writeSafetensors(tensors, { metadata: { format: 'pt' } }));
  const config = configJsonForSave(model.config);
  delete config.sbert_ce_default_activation_function;
  config.sentence_transformers = { ...(config.sentence_transformers as object | undefined), activation_fn: ACTIVATION_CLASS[model.activation ?? 'sigmoid'] };
  out.set('config.json', new TextEncoder().encode(JSON.stringify(config, null, 2) + '\n'));
  out.set('tokenizer_config.json', tokenizerConfigForSave(out, model.config, opts.maxLength));
  const base = typeof model.config.raw._name_or_path === 'string' && model.config.raw._name_or_path ? model.config.raw._name_or_path : model.config.architecture || model.config.modelType;
  out.set('README.md', new TextEncoder().encode(opts.modelCard ?? defaultCard(base)));
  return out;
}

/**
 * tokenizer_config.json for the export: the original fields, model_max_length = the trained length (never above what
 * the position table allows), and for a BERT WordPiece tokenizer its lowercase / CJK / accent flags spelled out —
 * transformers 5 rebuilds BertTokenizer's normaliser from these keys (defaulting to lower case), not from
 * tokenizer.json, so a cased model whose tokenizer_config.json lacked them would be lower-cased there.
 */
function tokenizerConfigForSave(files: FileMap, cfg: ModelConfig, maxLength: number | undefined): Uint8Array {
  const prev = files.get('tokenizer_config.json');
  const tc: Record<string, unknown> = prev ? JSON.parse(text(prev)) : {};
  const given = maxLength ?? modelMaxLengthOf(tc) ?? cfg.maxSequenceLength;
  tc.model_max_length = Math.min(given, cfg.maxSequenceLength);
  const tj = files.get('tokenizer.json');
  const norm = tj ? (JSON.parse(text(tj)).normalizer as Record<string, unknown> | null) : null;
  if (norm?.type === 'BertNormalizer') {
    tc.do_lower_case ??= norm.lowercase;
    tc.tokenize_chinese_chars ??= norm.handle_chinese_chars;
    if (!('strip_accents' in tc)) tc.strip_accents = norm.strip_accents ?? null;
  }
  return new TextEncoder().encode(JSON.stringify(tc, null, 2) + '\n');
}

function defaultCard(base: string): string {
  return [
    ...CARD_FRONT_MATTER,
    '',
    `# Cross-encoder reranker from ${base}, saved by Rerank Lab`,
    '',
    ...CARD_USAGE,
    '',
  ].join('\n');
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
