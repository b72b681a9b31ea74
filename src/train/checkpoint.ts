// Training checkpoints: everything a run needs to continue exactly where it stopped (parameters, AdamW moments and
// step count, the position in the data plan, the best parameters so far and the validation history).
// Two encodings of the same content:
//   checkpointToBytes    one safetensors file: tensors named params/…, adam_m/…, adam_v/…, best/…, and the JSON state
//                        in its __metadata__ (the page keeps it as one OPFS file; fine up to ~2 GB, i.e. models of
//                        up to ~100 M parameters)
//   checkpointToFiles    a folder, one safetensors per kind (no single buffer holds it all: for large models):
//   trainer_state.json     position, options, history (JSON)
//   params.safetensors     current parameters (f32, HF names)
//   adam_m.safetensors     AdamW first moments
//   adam_v.safetensors     AdamW second moments
//   best.safetensors       parameters of the best epoch so far (absent before the first evaluation)
// The page stores these files in OPFS (workers/train/opfs.ts); Node in a folder (checkpoint-node.ts), both swapping
// so a kill at any moment leaves a complete checkpoint.
// The data plan of an epoch depends only on (seed, epoch) (see batches.ts), so the "random state" is the position.
// Trust on resume: trainer_state.json records each tensor file's size and CRC-32 (the one-file form: the CRC-32 of
// its data), checked when read; every tensor must be finite (NaN weights or moments would make every update skip);
// `fingerprint` (hashes of the data, base model and options) is checked by the trainer against the run resuming it.

import type { GpuRuntime } from '../gpu/runtime.ts';
import type { FileMap } from '../model/hf-folder.ts';
import type { GpuParams } from '../model/gpu/params.ts';
import { describeNonFinite, firstNonFinite } from '../model/finite.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../model/safetensors.ts';
import { crc32 } from '../util/crc32.ts';
import type { SelectBy } from '../eval/ranking.ts';
import type { RunFingerprint } from './fingerprint.ts';
import type { EvalFigures, TrainOptions } from './types.ts';

/** The options a run actually used (defaults filled in). Resuming requires the same. */
export interface ResolvedTrainOptions extends TrainOptions {
  weightDecay: number;
  maxGradNorm: number;
  gradAccum: number;
  dropout: number;
  attentionDropout: number;
  classifierDropout: number;
  posWeight: number;
  randomNegatives: number;
  queryMaxLength: number;
  selectBy: SelectBy;
  valCandidates: number;
}

export interface ValRecord {
  epoch: number;
  loss: number;
  /** Spread of the validation scores (collapse detection). */
  scoreStd?: number;
  /** Everything the evaluation reported (ranking metrics, BM25's, the gap view). */
  figures?: EvalFigures;
}

export interface Checkpoint {
  version: 1;
  /** Optimizer steps taken (global, over all epochs). */
  step: number;
  totalSteps: number;
  /** The position of the next step: epoch (0-based) and step within it. nextBatch equal to the epoch's step count
   * means its steps are done and its evaluation is pending. */
  epoch: number;
  nextBatch: number;
  /** AdamW's step count (updates applied; bias correction uses it). Skipped updates do not count. */
  adamStep: number;
  /** Where every random stream stands: all of them derive from (seed, epoch, step). */
  rng: { seed: number; epoch: number; nextBatch: number };
  options: ResolvedTrainOptions;
  /** Validation loss per evaluation (epoch 0 = before training). */
  valHistory: ValRecord[];
  /** The best evaluation so far by `metric` (epoch 0 = the base model), its value and its parameters. */
  best: { epoch: number; valLoss: number; metric?: SelectBy; value?: number; params?: Map<string, Float32Array> };
  skippedSteps: number;
  /** Training seconds spent before this checkpoint (paused time excluded). */
  seconds: number;
  params: Map<string, Float32Array>;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
  /** Hashes of the data, base model and options of the run (absent in checkpoints of older builds). */
  fingerprint?: RunFingerprint;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** The files of a checkpoint folder. */
export const CHECKPOINT_FILES = { state: 'trainer_state.json', params: 'params.safetensors', m: 'adam_m.safetensors', v: 'adam_v.safetensors', best: 'best.safetensors' } as const;
const FILES = CHECKPOINT_FILES;

function tensorsFile(map: ReadonlyMap<string, Float32Array>): Uint8Array {
  const t = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, v] of map) t.set(k, { shape: [v.length], data: v });
  return writeSafetensors(t, { metadata: { format: 'rerank-lab-checkpoint' } });
}

function readTensorsFile(files: ReadonlyMap<string, Uint8Array>, name: string): Map<string, Float32Array> {
  const b = files.get(name);
  if (!b) throw new CheckpointError(`the checkpoint has no ${name}: it is incomplete (interrupted while saving?); start a new run or use an older checkpoint`);
  const out = new Map<string, Float32Array>();
  for (const [k, t] of readSafetensors(b, { fileName: name }).tensors) out.set(k, t.data instanceof Float32Array ? t.data : Float32Array.from(t.data));
  return out;
}

// JSON has no NaN/Infinity: keep them as strings.
const enc = (x: number): number | string => (Number.isFinite(x) ? x : String(x));
const dec = (x: unknown): number => (typeof x === 'number' ? x : Number(x));
/** enc/dec over every number of a plain JSON object (nested objects included). */
const encAll = (o: unknown): unknown => (typeof o === 'number' ? enc(o) : o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, encAll(v)])) : o);
const decAll = (o: unknown): unknown =>
  typeof o === 'string' && /^(NaN|-?Infinity)$/.test(o) ? dec(o) : o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, decAll(v)])) : o;

/** Bytes the checkpoint's files take (about 12–16 bytes per parameter). */
export function checkpointBytes(c: Checkpoint): number {
  let n = 0;
  for (const m of [c.params, c.m, c.v, c.best.params ?? new Map<string, Float32Array>()]) for (const v of m.values()) n += v.byteLength;
  return n;
}

function stateJson(c: Checkpoint): Record<string, unknown> {
  return {
    version: c.version,
    step: c.step,
    totalSteps: c.totalSteps,
    epoch: c.epoch,
    nextBatch: c.nextBatch,
    adamStep: c.adamStep,
    rng: c.rng,
    options: c.options,
    valHistory: c.valHistory.map((r) => ({ epoch: r.epoch, loss: enc(r.loss), scoreStd: r.scoreStd === undefined ? undefined : enc(r.scoreStd), figures: encAll(r.figures) })),
    best: { epoch: c.best.epoch, valLoss: enc(c.best.valLoss), metric: c.best.metric, value: c.best.value === undefined ? undefined : enc(c.best.value) },
    skippedSteps: c.skippedSteps,
    seconds: c.seconds,
    fingerprint: c.fingerprint,
  };
}

const hex = (n: number) => n.toString(16).padStart(8, '0');

/** Every tensor of a checkpoint must be finite, and the second moments non-negative; throws naming the tensor. */
export function checkCheckpointTensors(c: Pick<Checkpoint, 'params' | 'm' | 'v' | 'best'>): void {
  const groups: [string, ReadonlyMap<string, Float32Array> | undefined][] = [[FILES.params, c.params], [FILES.m, c.m], [FILES.v, c.v], [FILES.best, c.best.params]];
  for (const [file, map] of groups) {
    if (!map) continue;
    const bad = firstNonFinite(map);
    if (bad) throw new CheckpointError(`the checkpoint's ${file}: ${describeNonFinite(bad)}; resuming would skip every update — start over (--restart) instead`);
  }
  for (const [name, v] of c.v) {
    const i = v.findIndex((x) => x < 0);
    if (i >= 0) throw new CheckpointError(`the checkpoint's ${FILES.v}: tensor '${name}' holds a negative second moment (${v[i]} at index ${i}), which AdamW never writes: the file is damaged — start over (--restart)`);
  }
}

const KINDS = [['params', 'params'], ['m', 'adam_m'], ['v', 'adam_v']] as const;

/** The whole checkpoint as one safetensors file (tensor data f32; state JSON in the metadata). */
export function checkpointToBytes(c: Checkpoint): Uint8Array {
  const t = new Map<string, { shape: number[]; data: Float32Array }>();
  const add = (prefix: string, map: ReadonlyMap<string, Float32Array>) => {
    for (const [k, v] of map) t.set(`${prefix}/${k}`, { shape: [v.length], data: v });
  };
  for (const [key, prefix] of KINDS) add(prefix, c[key]);
  if (c.best.params) add('best', c.best.params);
  // The data section is the tensors in sorted-name order, back to back: its CRC-32 can be chained before writing.
  let crc = 0;
  for (const name of [...t.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const d = t.get(name)!.data;
    crc = crc32(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), crc);
  }
  return writeSafetensors(t, { metadata: { format: 'rerank-lab-checkpoint', trainer_state: JSON.stringify(stateJson(c)), data_crc32: hex(crc) } });
}

export function checkpointFromBytes(bytes: Uint8Array): Checkpoint {
  let r;
  try {
    r = readSafetensors(bytes, { fileName: 'checkpoint' });
  } catch (e) {
    throw new CheckpointError(`the checkpoint cannot be read (${(e as Error).message}); start a new run`);
  }
  const state = r.metadata.trainer_state;
  if (r.metadata.format !== 'rerank-lab-checkpoint' || !state) throw new CheckpointError('not a rerank-lab training checkpoint (no trainer_state in its metadata)');
  if (r.metadata.data_crc32) {
    const got = hex(crc32(bytes.subarray(readSafetensorsHeader(bytes).dataStart)));
    if (got !== r.metadata.data_crc32) throw new CheckpointError(`the checkpoint is damaged: its tensor data has CRC-32 ${got}, it was saved with ${r.metadata.data_crc32} (flipped bytes on the disk or in a copy); start a new run`);
  }
  const maps = new Map<string, Map<string, Float32Array>>();
  for (const [name, t] of r.tensors) {
    const at = name.indexOf('/');
    const prefix = name.slice(0, at);
    if (!maps.has(prefix)) maps.set(prefix, new Map());
    maps.get(prefix)!.set(name.slice(at + 1), t.data instanceof Float32Array ? t.data : Float32Array.from(t.data));
  }
  const need = (p: string) => {
    const m = maps.get(p);
    if (!m) throw new CheckpointError(`the checkpoint has no ${p} tensors: it is incomplete; start a new run`);
    return m;
  };
  return fromStateChecked(parseState(new TextEncoder().encode(state)), { params: need('params'), m: need('adam_m'), v: need('adam_v'), best: maps.get('best') });
}

function parseState(raw: Uint8Array): Record<string, any> {
  let s: Record<string, any>;
  try {
    s = JSON.parse(new TextDecoder().decode(raw));
  } catch (e) {
    throw new CheckpointError(`${FILES.state} is not valid JSON: ${(e as Error).message}`);
  }
  if (s.version !== 1) throw new CheckpointError(`${FILES.state} has version ${String(s.version)}; this build reads version 1`);
  return s;
}

function fromState(s: Record<string, any>, t: { params: Map<string, Float32Array>; m: Map<string, Float32Array>; v: Map<string, Float32Array>; best?: Map<string, Float32Array> }): Checkpoint {
  return {
    version: 1,
    step: s.step,
    totalSteps: s.totalSteps,
    epoch: s.epoch,
    nextBatch: s.nextBatch,
    adamStep: s.adamStep,
    rng: s.rng,
    options: s.options,
    valHistory: (s.valHistory as { epoch: number; loss: unknown; scoreStd?: unknown; figures?: unknown }[]).map((r) => ({
      epoch: r.epoch, loss: dec(r.loss), scoreStd: r.scoreStd === undefined ? undefined : dec(r.scoreStd), figures: decAll(r.figures) as EvalFigures | undefined,
    })),
    best: { epoch: s.best.epoch, valLoss: dec(s.best.valLoss), metric: s.best.metric, value: s.best.value === undefined ? undefined : dec(s.best.value), params: t.best },
    skippedSteps: s.skippedSteps,
    seconds: s.seconds,
    params: t.params,
    m: t.m,
    v: t.v,
    ...(s.fingerprint ? { fingerprint: s.fingerprint as RunFingerprint } : {}),
  };
}

function fromStateChecked(s: Record<string, any>, t: Parameters<typeof fromState>[1]): Checkpoint {
  const c = fromState(s, t);
  checkCheckpointTensors(c);
  return c;
}

/** The checkpoint as files; trainer_state.json (listing every other file's size and CRC-32) comes last. */
export function checkpointToFiles(c: Checkpoint): FileMap {
  const files: FileMap = new Map();
  files.set(FILES.params, tensorsFile(c.params));
  files.set(FILES.m, tensorsFile(c.m));
  files.set(FILES.v, tensorsFile(c.v));
  if (c.best.params) files.set(FILES.best, tensorsFile(c.best.params));
  const checksums: Record<string, { bytes: number; crc32: string }> = {};
  for (const [name, b] of files) checksums[name] = { bytes: b.byteLength, crc32: hex(crc32(b)) };
  files.set(FILES.state, new TextEncoder().encode(JSON.stringify({ ...stateJson(c), files: checksums }, null, 2) + '\n'));
  return files;
}

/** Compares each file with the size and CRC-32 trainer_state.json recorded (checkpoints of older builds have none). */
function verifyChecksums(s: Record<string, any>, files: ReadonlyMap<string, Uint8Array>): void {
  const want = s.files as Record<string, { bytes: number; crc32: string }> | undefined;
  if (!want) return;
  for (const [name, w] of Object.entries(want)) {
    const b = files.get(name);
    if (!b) throw new CheckpointError(`the checkpoint has no ${name} although ${FILES.state} lists it: it is incomplete; start over (--restart)`);
    if (b.byteLength !== w.bytes) throw new CheckpointError(`the checkpoint's ${name} is ${b.byteLength} bytes, it was saved with ${w.bytes}: the file is truncated or replaced; start over (--restart)`);
    const got = hex(crc32(b));
    if (got !== w.crc32) throw new CheckpointError(`the checkpoint's ${name} is damaged: CRC-32 ${got}, saved as ${w.crc32} (flipped bytes on the disk or in a copy); start over (--restart)`);
  }
}

export function checkpointFromFiles(files: ReadonlyMap<string, Uint8Array>): Checkpoint {
  const raw = files.get(FILES.state);
  if (!raw) throw new CheckpointError(`not a training checkpoint: no ${FILES.state} (files: ${[...files.keys()].join(', ') || 'none'})`);
  const s = parseState(raw);
  verifyChecksums(s, files);
  return fromStateChecked(s, {
    params: readTensorsFile(files, FILES.params),
    m: readTensorsFile(files, FILES.m),
    v: readTensorsFile(files, FILES.v),
    best: files.has(FILES.best) ? readTensorsFile(files, FILES.best) : undefined,
  });
}

/**
 * Writes AdamW moments ('m' or 'v', HF name → values) into the GPU slots, the way GpuParams.write does for
 * parameters (packed QKV slots included). Call after the optimizer has allocated them.
 */
export function writeOptimizerState(rt: GpuRuntime, params: GpuParams, which: 'm' | 'v', values: ReadonlyMap<string, Float32Array>): void {
  for (const [name, ref] of params.byName) {
    const v = values.get(name);
    if (!v) throw new CheckpointError(`the checkpoint's AdamW state has no '${name}': it was saved for a different model`);
    if (v.length !== ref.numel) throw new CheckpointError(`the checkpoint's AdamW state for '${name}' has ${v.length} values, the model needs ${ref.numel}: it was saved for a different model`);
    const t = ref.slot[which];
    if (!t) throw new Error(`no AdamW '${which}' buffers allocated`);
    rt.write(t.buffer, v, ref.offset * 4);
  }
}
