// Training worker: the page's one owner of the GPU. Thin: it keeps the loaded model and the fine-tuned weights,
// calls the library (src/train, src/model), persists checkpoints in OPFS, and reports results and events as data.
// A new job of one kind supersedes the running one of that kind (it is aborted and answers AbortError).
import * as Comlink from 'comlink';
import { GpuDeviceLostError } from '../../gpu/errors.ts';
import { GpuRuntime } from '../../gpu/runtime.ts';
import { type HfModel, loadHfFolder, saveHfFolder } from '../../model/hf-folder.ts';
import { fetchHubModel } from '../../model/hub.ts';
import { paramSpecs } from '../../model/params.ts';
import { readSafetensors, writeSafetensors } from '../../model/safetensors.ts';
import { GpuModel } from '../../train/gpu-model.ts';
import { estimateTrainingMemory, paramCount } from '../../train/memory.ts';
import { probeBatchSize } from '../../train/probe.ts';
import { CHECKPOINT_FILES, type Checkpoint, checkpointFromFiles, checkpointToFiles } from '../../train/checkpoint.ts';
import { trainResilient } from '../../train/resilient.ts';
import { scorePairs } from '../../train/score.ts';
import { stepCounts } from '../../train/trainer.ts';
import type { TrainEvent, TrainExample, TrainOptions } from '../../train/types.ts';
import type { Progress } from '../../util/progress.ts';
import { type TrainWorkerApi, type WorkerResult, toErrorData } from './protocol.ts';
import { opfsDelete, opfsRead, opfsReadFolder, opfsWrite, opfsWriteFolder } from './opfs.ts';

const CHECKPOINT = 'checkpoint';
const TUNED = 'tuned.safetensors';

let runtime: Promise<GpuRuntime> | undefined;
function gpu(): Promise<GpuRuntime> {
  if (!runtime) {
    runtime = GpuRuntime.create();
    runtime.catch(() => (runtime = undefined));
  }
  return runtime;
}

/** The loaded base model (CPU copy) and GPU copies made on demand for scoring. */
let base: HfModel | undefined;
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

function newJob(kind: string): AbortSignal {
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

async function tunedParams(): Promise<Map<string, Float32Array>> {
  if (tuned) return tuned;
  const bytes = await opfsRead(TUNED);
  if (!bytes) throw new Error('There is no fine-tuned model yet: train first.');
  const r = readSafetensors(bytes);
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

/** Trains from scratch or from the OPFS checkpoint; a lost device is recreated and training resumes (trainResilient). */
async function trainJob(signal: AbortSignal, trainSet: TrainExample[], valSet: TrainExample[], opts: TrainOptions, emit: (e: TrainEvent) => void, resume: boolean) {
  const m = needModel();
  dropScorers();
  let resumeFrom: Checkpoint | undefined;
  if (resume) {
    const files = await opfsReadFolder(CHECKPOINT, Object.values(CHECKPOINT_FILES));
    if (files.has(CHECKPOINT_FILES.state)) resumeFrom = checkpointFromFiles(files);
    else emit({ type: 'warning', kind: 'other', message: 'No checkpoint was found; training starts from the beginning.' });
  } else {
    await opfsDelete(CHECKPOINT);
  }
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
    onCheckpoint: (c) => opfsWriteFolder(CHECKPOINT, checkpointToFiles(c), CHECKPOINT_FILES.state),
  });
  tuned = r.best;
  const shapes = new Map(paramSpecs(m.config).map((p) => [p.name, p.shape]));
  await opfsWrite(TUNED, writeSafetensors(new Map([...r.best].map(([k, v]) => [k, { shape: shapes.get(k) ?? [v.length], data: v }]))));
  return r.summary;
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

  loadModel: (files, onProgress) =>
    result(async () => {
      const signal = newJob('load');
      dropScorers();
      const m = await loadHfFolder(files, { signal, onProgress: onProgress ? (p: Progress) => onProgress(p) : undefined });
      base = m;
      tuned = undefined;
      const c = m.config;
      return {
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
        activation: m.activation,
        notes: m.notes,
      };
    }),

  estimateMemory: (o) => result(async () => estimateTrainingMemory(needModel().config, o.batchSize * o.groupSize, o.maxLength)),

  score: (pairs, which, maxLength, onProgress) =>
    result(() =>
      exclusive(async () => {
        const r = await scorePairs(await scorer(which), needModel().tokenizer, pairs, {
          maxLength, batchSize: SCORE_BATCH, stage: `score-${which}`, onProgress: onProgress ? (p) => onProgress(p) : undefined,
        });
        return r.logits;
      }),
    ),

  probeBatchSize: (sample, opts, onStep) =>
    result(async () => {
      const signal = newJob('probe');
      return exclusive(async () => {
        dropScorers(); // give the probe the whole GPU
        return probeBatchSize(await gpu(), needModel(), sample, opts, { signal, onStep: onStep ? (s) => onStep(s) : undefined });
      });
    }),

  train: (trainSet, valSet, opts, onEvent, resume) =>
    result(async () => {
      const signal = newJob('train');
      paused?.release();
      paused = undefined;
      return exclusive(() => trainJob(signal, trainSet, valSet, opts, (e) => onEvent?.(e), resume ?? false));
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

  exportModel: (opts) =>
    result(async () => {
      const m = needModel();
      const files = saveHfFolder({ ...m, params: await tunedParams() }, { maxLength: opts?.maxLength });
      return Object.fromEntries(files);
    }),
};

Comlink.expose(api);
