// Training worker: the page's one owner of the GPU. Thin: it keeps the loaded model and the fine-tuned weights,
// calls the library (src/train, src/model), persists checkpoints in OPFS, and reports results and events as data.
// A new job of one kind supersedes the running one of that kind (it is aborted and answers AbortError).
import * as Comlink from 'comlink';
import { GpuDeviceLostError } from '../../gpu/errors.ts';
import { GpuRuntime } from '../../gpu/runtime.ts';
import { type HfModel, loadHfFolder, saveHfFolder } from '../../model/hf-folder.ts';
import { fetchHubModel } from '../../model/hub.ts';
import { onnxFolderFiles } from '../../export/onnx-folder.ts';
import { concatChunks } from '../../export/protobuf.ts';
import { paramSpecs } from '../../model/params.ts';
import { readSafetensors, writeSafetensors } from '../../model/safetensors.ts';
import { GpuModel } from '../../train/gpu-model.ts';
import { estimateTrainingMemory, paramCount } from '../../train/memory.ts';
import { probeBatchSize } from '../../train/probe.ts';
import { CHECKPOINT_FILES, type Checkpoint, checkCheckpointTensors, checkpointFromFiles, checkpointToFiles } from '../../train/checkpoint.ts';
import { assertFinite } from '../../model/finite.ts';
import { trainResilient } from '../../train/resilient.ts';
import { scorePairs } from '../../train/score.ts';
import { stepCounts } from '../../train/trainer.ts';
import type { TrainEvent, TrainExample, TrainOptions } from '../../train/types.ts';
import type { Progress } from '../../util/progress.ts';
import { type JobKind, type LoadedModel, type SavedRunInfo, type TrainMode, type TrainWorkerApi, type WorkerResult, toErrorData } from './protocol.ts';
import { checkpointSlot, opfsDelete, opfsDeleteCheckpoint, opfsLoadCheckpoint, opfsRead, opfsSaveCheckpoint, opfsWrite } from './opfs.ts';
import { modelFingerprint } from './fingerprint.ts';
import { type RunRecord, type RunSlot, type RunTag, checkSameModel, parseRunRecord, runRecordBytes } from './runs.ts';

/**
 * Each slot's checkpoint lives under its own prefix (opfs.ts swaps its two folders); the record of what a checkpoint
 * was made from is one of its files, so it swaps with it. The main run's fine-tuned weights have their own record.
 */
const CHECKPOINT_PREFIX: Record<RunSlot, string> = { main: '', sweep: 'sweep/' };
const RUN_FILE = 'run.json';
const CHECKPOINT_NAMES = [...Object.values(CHECKPOINT_FILES), RUN_FILE];
const TUNED = 'tuned.safetensors';
const TUNED_RUN = 'tuned.run.json';

/** A new run was asked for while an unfinished run's checkpoint exists: the page asks whether to resume or replace it. */
class CheckpointExistsError extends Error {
  override name = 'CheckpointExistsError';
}

let runtime: Promise<GpuRuntime> | undefined;
function gpu(): Promise<GpuRuntime> {
  if (!runtime) {
    runtime = GpuRuntime.create();
    runtime.catch(() => (runtime = undefined));
  }
  return runtime;
}

/** The loaded base model (CPU copy) with its identity, and GPU copies made on demand for scoring. */
let base: HfModel | undefined;
let baseId: { fingerprint: string; name: string } | undefined;
let tuned: Map<string, Float32Array> | undefined;
const scorers: { base?: GpuModel; tuned?: GpuModel } = {};
const jobs = new Map<string, AbortController>();
let paused: { promise: Promise<void>; release(): void } | undefined;

/**
 * GPU work runs one job at a time: two jobs interleaving their awaits would share workspaces and buffers.
 * Scoring calls queue behind each other (and behind training); load, probe and train supersede their own kind.
 */
let gpuQueue: Promise<unknown> = Promise.resolve();
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = gpuQueue.then(fn, fn);
  gpuQueue = run.catch(() => undefined);
  return run;
}

function newJob(kind: JobKind): AbortSignal {
  jobs.get(kind)?.abort(new DOMException(`superseded by a newer ${kind} job`, 'AbortError'));
  const c = new AbortController();
  jobs.set(kind, c);
  return c.signal;
}

async function result<T>(fn: () => Promise<T>): Promise<WorkerResult<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    // A lost device is recreated now, so the next job starts on a fresh one.
    const rt = await runtime?.catch(() => undefined);
    if (rt?.lostError || e instanceof GpuDeviceLostError) {
      dropScorers();
      await rt?.recreate().catch(() => undefined);
    }
    return { ok: false, error: toErrorData(e) };
  }
}

function dropScorers(): void {
  for (const k of ['base', 'tuned'] as const) {
    try {
      scorers[k]?.release();
    } catch {
      /* device gone */
    }
    scorers[k] = undefined;
  }
}

function needModel(): HfModel {
  if (!base) throw new Error('No model is loaded: drop a Hugging Face model folder in the Model step first.');
  return base;
}

async function readRun(path: string): Promise<RunRecord | undefined> {
  return parseRunRecord(await opfsRead(path));
}

/** The fine-tuned weights, refused when they were trained from another model than the loaded one. */
async function tunedParams(): Promise<Map<string, Float32Array>> {
  needModel();
  const bytes = tuned ? undefined : await opfsRead(TUNED);
  if (!tuned && !bytes) throw new Error('There is no fine-tuned model yet: train first (step 6).');
  checkSameModel('fine-tuned weights', await readRun(TUNED_RUN), baseId!);
  if (tuned) return tuned;
  const r = readSafetensors(bytes!);
  tuned = new Map([...r.tensors].map(([k, t]) => [k, Float32Array.from(t.data)]));
  return tuned;
}

async function scorer(which: 'base' | 'tuned'): Promise<GpuModel> {
  const rt = await gpu();
  if (rt.lostError) {
    dropScorers();
    await rt.recreate();
  }
  if (!scorers[which]) {
    const m = needModel();
    scorers[which] = await GpuModel.create(rt, m.config, which === 'base' ? m.params : await tunedParams());
  }
  return scorers[which]!;
}

/**
 * Trains from scratch or from the OPFS checkpoint; a lost device is recreated and training resumes (trainResilient).
 * A new run never replaces an unfinished run's checkpoint unless asked to ('restart'): it answers CheckpointExistsError.
 * A checkpoint of another model is refused (TunedModelMismatch). The 'sweep' slot's trials keep their own checkpoint
 * and leave the fine-tuned model alone.
 */
async function trainJob(signal: AbortSignal, trainSet: TrainExample[], valSet: TrainExample[], opts: TrainOptions, emit: (e: TrainEvent) => void, mode: TrainMode, tag: RunTag) {
  const m = needModel();
  const slot = tag.slot ?? 'main';
  const prefix = CHECKPOINT_PREFIX[slot];
  let resumeFrom: Checkpoint | undefined;
  if (mode === 'resume') {
    const files = await opfsLoadCheckpoint(CHECKPOINT_NAMES, CHECKPOINT_FILES.state, prefix);
    // the page asks checkpointInfo() first and starts over itself when there is none; this is the last guard
    if (!files) throw new Error('No checkpoint was saved before the interruption: start the run again.');
    checkSameModel('checkpoint', parseRunRecord(files.get(RUN_FILE)), baseId!);
    resumeFrom = checkpointFromFiles(files);
  } else if (mode === 'restart') {
    await opfsDeleteCheckpoint(prefix);
  } else {
    const ck = await checkpointSlot(CHECKPOINT_FILES.state, prefix);
    if (ck) throw new CheckpointExistsError(`An unfinished run's checkpoint (step ${ck.step}) is saved in this browser. Resume it, or start again (which deletes it).`);
  }
  dropScorers();
  const record = (step: number, totalSteps?: number, epoch?: number): RunRecord => ({
    model: baseId!.fingerprint, modelName: baseId!.name, dataset: tag.dataset, options: opts, step, totalSteps, epoch, savedAt: new Date().toISOString(),
  });
  const rt = await gpu();
  // A checkpoint copies the weights and both AdamW moments (3× the model) into OPFS: four times an epoch for models
  // up to ~150M parameters, once an epoch for larger ones.
  const perEpoch = stepCounts(trainSet.length, opts).perEpoch;
  const checkpointEverySteps = paramCount(m.config) <= 150e6 ? Math.max(1, Math.ceil(perEpoch / 4)) : undefined;
  const r = await trainResilient(rt, m, { train: trainSet, val: valSet }, opts, {
    signal,
    checkpointEverySteps,
    onEvent: emit,
    waitIfPaused: () => paused?.promise ?? Promise.resolve(),
    resumeFrom,
    onCheckpoint: async (c) => {
      // a checkpoint of broken weights would only be refused on resume: keep the previous one instead
      try {
        checkCheckpointTensors(c);
      } catch (e) {
        emit({ type: 'warning', kind: 'other', message: `checkpoint at step ${c.step} not saved (the previous one is kept): ${(e as Error).message}` });
        return;
      }
      const files = new Map(checkpointToFiles(c));
      files.set(RUN_FILE, runRecordBytes(record(c.step, c.totalSteps, c.epoch)));
      await opfsSaveCheckpoint(files, CHECKPOINT_FILES.state, prefix);
    },
  });
  if (slot === 'sweep') {
    if (r.summary.stopped === 'finished') await opfsDeleteCheckpoint(prefix);
    return r.summary; // a trial's weights are not the fine-tuned model
  }
  // never store (or later export) broken weights: the previous fine-tuned model stays
  assertFinite(r.best, 'refusing to keep the trained model', 'training diverged (a learning rate too high?); the previous fine-tuned model and the checkpoint are kept');
  // the record goes first and is removed with the weights: weights without a record are refused, never misread
  await opfsDelete(TUNED_RUN);
  tuned = r.best;
  const shapes = new Map(paramSpecs(m.config).map((p) => [p.name, p.shape]));
  await opfsWrite(TUNED, writeSafetensors(new Map([...r.best].map(([k, v]) => [k, { shape: shapes.get(k) ?? [v.length], data: v }]))));
  await opfsWrite(TUNED_RUN, runRecordBytes(record(r.summary.steps, r.summary.totalSteps, r.summary.epochs)));
  if (r.summary.stopped === 'finished') await opfsDeleteCheckpoint(prefix);
  return r.summary;
}

/** A saved run's record with whether it belongs to the loaded model. */
async function savedRun(path: string, extra?: Partial<RunRecord>): Promise<SavedRunInfo | undefined> {
  const rec = await readRun(path);
  if (!rec) return undefined;
  return { ...rec, ...extra, sameModel: !!baseId && rec.model === baseId.fingerprint };
}

const SCORE_BATCH = 16;

const api: TrainWorkerApi = {
  adapterInfo: () => result(async () => (await gpu()).info),

  fetchHubModel: (id, o, onProgress) =>
    result(async () => {
      const signal = newJob('download');
      const files = await fetchHubModel(id, { endpoint: o.endpoint || undefined, token: o.token || undefined, signal, onProgress: onProgress ? (p) => onProgress(p) : undefined });
      return Object.fromEntries(files);
    }),

  loadModel: (files, onProgress, name) =>
    result(async (): Promise<LoadedModel> => {
      const signal = newJob('load');
      dropScorers();
      const m = await loadHfFolder(files, { signal, onProgress: onProgress ? (p: Progress) => onProgress(p) : undefined });
      const fingerprint = await modelFingerprint(files);
      base = m;
      baseId = { fingerprint, name: name || m.config.modelType };
      tuned = undefined;
      const c = m.config;
      return {
        fingerprint,
        name: baseId.name,
        // What the folder declares, as the loader read it (config.json or a v6 CrossEncoder's
        // config_sentence_transformers.json; sigmoid for a collapsed 2-label head); the report shows non-sigmoid raw.
        activation: m.activation === 'sigmoid' ? 'sigmoid' : 'identity',
        arch: c.arch,
        modelType: c.modelType,
        hidden: c.hidden,
        layers: c.layers,
        heads: c.heads,
        intermediate: c.intermediate,
        vocabSize: c.vocabSize,
        maxPositions: c.maxSequenceLength,
        paramCount: paramCount(c),
        newHead: m.newHead.length > 0,
        notes: m.notes,
      };
    }),

  estimateMemory: (o) => result(async () => estimateTrainingMemory(needModel().config, o.batchSize * o.groupSize, o.maxLength)),

  score: (pairs, which, maxLength, onProgress, job) =>
    result(() => {
      const signal = job ? newJob(job) : undefined;
      return exclusive(async () => {
        const r = await scorePairs(await scorer(which), needModel().tokenizer, pairs, {
          maxLength, batchSize: SCORE_BATCH, stage: `score-${which}`, signal, onProgress: onProgress ? (p) => onProgress(p) : undefined,
        });
        return r.logits;
      });
    }),

  probeBatchSize: (sample, opts, onStep) =>
    result(async () => {
      const signal = newJob('probe');
      return exclusive(async () => {
        dropScorers(); // give the probe the whole GPU
        return probeBatchSize(await gpu(), needModel(), sample, opts, { signal, onStep: onStep ? (s) => onStep(s) : undefined });
      });
    }),

  train: (trainSet, valSet, opts, onEvent, mode, tag) =>
    result(async () => {
      const signal = newJob('train');
      paused?.release();
      paused = undefined;
      const m: TrainMode = mode === true ? 'resume' : mode === false || mode === undefined ? 'new' : mode;
      return exclusive(() => trainJob(signal, trainSet, valSet, opts, (e) => onEvent?.(e), m, tag ?? {}));
    }),

  async pause() {
    if (paused) return;
    let release!: () => void;
    const promise = new Promise<void>((r) => (release = r));
    paused = { promise, release };
  },
  async resume() {
    paused?.release();
    paused = undefined;
  },
  async stop() {
    paused?.release();
    paused = undefined;
    jobs.get('train')?.abort(new DOMException('stopped by the user', 'AbortError'));
  },

  async cancel(kind) {
    if (kind === 'train') paused?.release();
    jobs.get(kind)?.abort(new DOMException('Cancelled', 'AbortError'));
  },

  checkpointInfo: (slot) =>
    result(async () => {
      const found = await checkpointSlot(CHECKPOINT_FILES.state, CHECKPOINT_PREFIX[slot ?? 'main']);
      if (!found) return undefined;
      const dir = found.slot;
      const state = await opfsRead(`${dir}/${CHECKPOINT_FILES.state}`);
      if (!state) return undefined;
      // the position comes from the checkpoint itself; the record says which model it belongs to
      const s = JSON.parse(new TextDecoder().decode(state)) as { step: number; totalSteps: number; epoch: number; options: TrainOptions };
      const info = await savedRun(`${dir}/${RUN_FILE}`, { step: s.step, totalSteps: s.totalSteps, epoch: s.epoch, options: s.options });
      return info ?? { model: '', modelName: 'an unknown model', options: s.options, step: s.step, totalSteps: s.totalSteps, epoch: s.epoch, savedAt: '', sameModel: false };
    }),

  tunedInfo: () => result(async () => ((await opfsRead(TUNED)) || tuned ? savedRun(TUNED_RUN) : undefined)),

  exportModel: (opts) =>
    result(async () => {
      const m = needModel();
      const params = await tunedParams();
      const files = saveHfFolder({ ...m, params }, { maxLength: opts?.maxLength });
      if (opts?.onnx) for (const [name, chunks] of onnxFolderFiles({ config: m.config, params }, files).files) files.set(name, concatChunks(chunks));
      return Object.fromEntries(files);
    }),
};

Comlink.expose(api);
