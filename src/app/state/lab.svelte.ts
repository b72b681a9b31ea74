// The lab's state, shared by every step, and its persistence: each field group is saved to IndexedDB under its own
// key when a step changes it (explicit save() calls, so huge arrays are written once per change and never deeply
// proxied). The endpoint key is kept in localStorage only (this browser), never in exports.
//
// Provenance (lib/provenance.ts): `made` records, for each result, the fingerprints of the inputs it was made from;
// `fp` holds the fingerprints of the inputs as they are now; `stale` says which results are out of date and why.
// A step that makes a result calls markMade() with it.

import type { Chunk } from '../../data/chunk.ts';
import type { IngestedDoc, IngestReport } from '../../data/ingest.ts';
import type { QueryRecord, TrainExample } from '../../data/jsonl.ts';
import type { MineStats } from '../../data/mine.ts';
import type { EvalReport, RerankComparison, ScoreScale } from '../../eval/report.ts';
import type { RankingMetrics } from '../../eval/metrics.ts';
import type { LoadedModel, MemoryEstimate, ProbeResult, TrainEvent, TrainOptions } from '../../workers/train/protocol.ts';
import type { ExampleScores } from '../../workers/data/api.ts';
import { load, save } from './db.ts';
import { LR_DEFAULT } from '../lib/suggest.ts';
import { defaultFileChoice, type FileChoice } from '../lib/corpus.ts';
import { emptyHistory, runOptions, type TrainHistory } from '../lib/train-run.ts';
import { defaultSweep, type SweepState } from '../lib/sweep.ts';
import {
  chunksFingerprint,
  corpusFingerprint,
  fingerprintOf,
  queriesFingerprint,
  record,
  resultId,
  RESULTS,
  staleReasons,
  type Fingerprints,
  type Made,
  type ResultName,
  type StaleReason,
} from '../lib/provenance.ts';

export type { TrainHistory };

export interface QuerySettings {
  url: string;
  model: string;
  prompt: string;
  concurrency: number;
  timeoutMs: number;
  /** The small instruct model for in-page generation (transformers.js on WebGPU), downloaded once when used. */
  inPageModel?: string;
}

export interface MineSettings {
  negatives: number;
  topK: number;
  valRatio: number;
  seedCompatible: boolean;
  nearDuplicate: number;
  overlap: boolean;
  answerSpan: boolean;
}

export interface ModelSettings {
  maxLength: number;
  batchSize: number;
  groupSize: number;
}

/** A query run in progress (persisted so a reload shows what it had paid for and offers to continue). */
export interface QueryRun {
  running: boolean;
  total: number;
  done: number;
}

/**
 * The steps in the order the bar shows them. `n` is the step's number in lab.step (and its test id step-n); the
 * optional sweep (n 9) sits between the probe and training, labelled 5b, so the other steps keep their numbers.
 */
export const STEPS = [
  { n: 1, label: '1', zh: '文档', en: 'Documents', result: 'chunks' },
  { n: 2, label: '2', zh: '查询', en: 'Queries', result: 'queries' },
  { n: 3, label: '3', zh: '难负例', en: 'Hard negatives', result: 'dataset' },
  { n: 4, label: '4', zh: '模型', en: 'Model', result: undefined },
  { n: 5, label: '5', zh: '批大小', en: 'Batch size', result: 'probe' },
  { n: 9, label: '5b', zh: '超参搜索', en: 'Sweep (optional)', result: 'sweep' },
  { n: 6, label: '6', zh: '训练', en: 'Training', result: 'train' },
  { n: 7, label: '7', zh: '评估', en: 'Evaluate', result: 'report' },
  { n: 8, label: '8', zh: '导出', en: 'Export', result: undefined },
] as const satisfies readonly { n: number; label: string; zh: string; en: string; result: ResultName | undefined }[];

class Lab {
  step = $state(1);
  loaded = $state(false);

  docs = $state.raw<IngestedDoc[]>([]);
  ingestReport = $state.raw<IngestReport | undefined>();
  chunkOpts = $state({ size: 300, overlap: 50 });
  /** Every chunk of the corpus with the current settings, before files are left out or capped. */
  chunksAll = $state.raw<Chunk[]>([]);
  fileChoice = $state<FileChoice>(defaultFileChoice());
  /** The chunks that go on to queries (chunksAll after the file choice, plus chunks imported with pairs). */
  chunks = $state.raw<Chunk[]>([]);

  querySettings = $state<QuerySettings>({ url: 'http://127.0.0.1:11434/v1', model: 'qwen2.5:7b', prompt: '', concurrency: 4, timeoutMs: 60_000 });
  apiKey = $state(typeof localStorage !== 'undefined' ? (localStorage.getItem('rerank-lab:api-key') ?? '') : '');
  queries = $state.raw<QueryRecord[]>([]);
  queryNotes = $state.raw<string[]>([]);
  queryRun = $state.raw<QueryRun | undefined>();

  mineSettings = $state<MineSettings>({ negatives: 7, topK: 50, valRatio: 0.2, seedCompatible: false, nearDuplicate: 0.8, overlap: true, answerSpan: true });
  dataset = $state.raw<{ train: TrainExample[]; val: TrainExample[] } | undefined>();
  mineStats = $state.raw<MineStats | undefined>();
  negScores = $state.raw<ExampleScores[] | undefined>();

  modelName = $state('');
  modelSummary = $state.raw<LoadedModel | undefined>();
  modelSettings = $state<ModelSettings>({ maxLength: 256, batchSize: 4, groupSize: 8 });
  memory = $state.raw<MemoryEstimate | undefined>();
  /**
   * The base model's figures on the realistic validation lists beside BM25's (step 4); a state saved before those
   * lists holds the older RankingMetrics (1 positive + mined negatives), which the page still shows.
   */
  baseMetrics = $state.raw<RerankComparison | RankingMetrics | undefined>();
  /** Scores of the older base scoring (kept so such a saved state loads; the list scoring does not keep its scores). */
  baseScores = $state.raw<number[] | undefined>();

  probe = $state.raw<(ProbeResult & { maxLength?: number; groupSize?: number }) | undefined>();
  marginPercent = $state(20);

  trainOpts = $state<TrainOptions>({ loss: 'listwise', batchSize: 4, groupSize: 8, epochs: 5, lr: LR_DEFAULT, warmupRatio: 0.1, maxLength: 256, seed: 42, selectBy: 'ndcg@10' });
  /** True once the user typed an epoch count: the dataset-size suggestion never overrides it again. */
  epochsChosen = $state(false);
  history = $state.raw<TrainHistory>(emptyHistory());

  report = $state.raw<EvalReport | undefined>();
  /** Scores of the older evaluation (kept so such a saved state loads; the report holds what the page shows). */
  tunedScores = $state.raw<number[] | undefined>();
  /** Scores shown on the model's activation (sigmoid for one label, as sentence-transformers) or as raw logits. */
  scoreScale = $state<ScoreScale>('activation');

  sweep = $state.raw<SweepState>(defaultSweep());

  made = $state.raw<Made>({});

  /** Which training job runs on the GPU in this session: a sweep trial and a training run would supersede each other. */
  gpuJob = $state<'train' | 'sweep' | undefined>();

  /** A job another step asked the step it navigates to to start on arrival ("Train again with this model"). */
  autostart = $state<'train' | undefined>();

  /** The fingerprints of every input as it is now (see lib/provenance.ts). */
  fp = $derived.by((): Fingerprints => ({
    corpus: corpusFingerprint(this.docs),
    chunking: fingerprintOf({ ...this.chunkOpts, ...this.fileChoice }),
    chunks: chunksFingerprint(this.chunks),
    queries: queriesFingerprint(this.queries),
    mining: fingerprintOf(this.mineSettings),
    dataset: this.dataset && this.made.dataset ? resultId(this.made.dataset) : '',
    model: this.modelSummary?.fingerprint ?? '',
    maxLength: String(this.modelSettings.maxLength),
    groupSize: String(this.modelSettings.groupSize),
    loss: this.trainOpts.loss,
    trainSettings: fingerprintOf(runOptions(this.trainOpts, this.modelSettings)),
    train: this.history.runId ?? '',
    sweepSettings: fingerprintOf(this.sweep.grid),
  }));

  /** Why each result is out of date ([] when up to date or never made). */
  stale = $derived.by(() => Object.fromEntries(RESULTS.map((r) => [r, staleReasons(r, this.made, this.fp)])) as Record<ResultName, StaleReason[]>);

  /** Whether each result exists. */
  has = $derived.by((): Record<ResultName, boolean> => ({
    chunks: this.chunks.length > 0,
    queries: this.queries.length > 0,
    dataset: !!this.dataset && this.dataset.train.length > 0,
    baseScores: !!this.baseMetrics,
    probe: !!this.probe,
    train: !!this.history.summary && this.history.summary.stopped !== 'error',
    report: !!this.report?.rows[0]?.tuned,
    sweep: this.sweep.trials.some((t) => t.status === 'done'),
  }));

  /** Per step number: done and up to date (✓ in the step bar), or holding a result that is out of date (!). */
  done = $derived.by((): Record<number, boolean> =>
    Object.fromEntries(STEPS.map((s) => [s.n, s.n === 4 ? !!this.modelSummary : s.result ? this.has[s.result] && !this.stale[s.result].length : false])),
  );
  outdated = $derived.by((): Record<number, boolean> => Object.fromEntries(STEPS.map((s) => [s.n, !!s.result && this.has[s.result] && this.stale[s.result].length > 0])));

  /** Records that `result` was made just now from the current inputs, and saves the record. */
  async markMade(...results: ResultName[]): Promise<void> {
    let m = this.made;
    for (const r of results) m = record(m, r, this.fp);
    this.made = m;
    await this.save('made');
  }

  /** Forgets that `result` was made (it was cleared). */
  async forget(...results: ResultName[]): Promise<void> {
    const m = { ...this.made };
    for (const r of results) delete m[r];
    this.made = m;
    await this.save('made');
  }

  /** Persists one group of fields. Errors (quota) are reported once in the console and on the page. */
  saveError = $state('');
  async save(...keys: (keyof Lab)[]): Promise<void> {
    for (const k of keys) {
      try {
        await save(k as string, $state.snapshot(this[k]));
      } catch (e) {
        this.saveError = `Could not save ${String(k)} in this browser: ${(e as Error).message}`;
      }
    }
  }

  setApiKey(k: string) {
    this.apiKey = k;
    localStorage.setItem('rerank-lab:api-key', k);
  }

  resetHistory() {
    this.history = emptyHistory();
  }

  async restore(): Promise<void> {
    const keys: (keyof Lab)[] = [
      'step', 'docs', 'ingestReport', 'chunkOpts', 'chunksAll', 'fileChoice', 'chunks', 'querySettings', 'queries', 'queryNotes', 'queryRun',
      'mineSettings', 'dataset', 'mineStats', 'negScores', 'modelName', 'modelSummary', 'modelSettings', 'memory', 'baseMetrics', 'baseScores',
      'probe', 'marginPercent', 'trainOpts', 'epochsChosen', 'history', 'report', 'tunedScores', 'scoreScale', 'sweep', 'made',
    ];
    try {
      const values = await Promise.all(keys.map((k) => load<unknown>(k as string)));
      keys.forEach((k, i) => {
        if (values[i] !== undefined) (this as unknown as Record<string, unknown>)[k as string] = values[i];
      });
      // saved before chunksAll existed: every chunk was kept
      if (!this.chunksAll.length && this.chunks.length) this.chunksAll = this.chunks;
    } catch (e) {
      this.saveError = `Could not read saved state: ${(e as Error).message}`;
    }
    this.loaded = true;
  }
}

export const lab = new Lab();
export type { TrainEvent };
