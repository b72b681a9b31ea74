// The lab's state, shared by every step, and its persistence: each field group is saved to IndexedDB under its own
// key when a step changes it (explicit save() calls, so huge arrays are written once per change and never deeply
// proxied). The endpoint key is kept in localStorage only (this browser), never in exports.

import type { Chunk } from '../../data/chunk.ts';
import type { IngestedDoc, IngestReport } from '../../data/ingest.ts';
import type { QueryRecord, TrainExample } from '../../data/jsonl.ts';
import type { MineStats } from '../../data/mine.ts';
import type { EvalReport } from '../../eval/report.ts';
import type { RankingMetrics } from '../../eval/metrics.ts';
import type { MemoryEstimate, ModelSummary, ProbeResult, TrainEvent, TrainOptions, TrainSummary } from '../../workers/train/protocol.ts';
import type { EvalFigures, ValidationInfo } from '../../train/types.ts';
import type { ExampleScores } from '../../workers/data/api.ts';
import { load, save } from './db.ts';
import { LR_DEFAULT } from '../lib/suggest.ts';

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

export interface TrainHistory {
  steps: { step: number; loss: number; lr: number; epoch: number; pairsPerSec: number }[];
  /** Per evaluation: validation loss, the gap view, and the ranking metrics on the realistic lists beside BM25's. */
  evals: (Pick<EvalFigures, 'step' | 'epoch' | 'valLoss' | 'meanGap' | 'mrr'> & Partial<EvalFigures> & { best: boolean })[];
  /** What validation is made of (sent once before training). */
  validation?: ValidationInfo;
  warnings: { kind: string; message: string }[];
  skipped: number;
  checkpoints: number;
  totalSteps?: number;
  /** true from start until the run ends: a reload while true offers to resume from the last checkpoint. */
  running: boolean;
  summary?: TrainSummary;
}

export const STEP_NAMES = [
  ['文档', 'Documents'],
  ['查询', 'Queries'],
  ['难负例', 'Hard negatives'],
  ['模型', 'Model'],
  ['批大小', 'Batch size'],
  ['训练', 'Training'],
  ['评估', 'Evaluate'],
  ['导出', 'Export'],
] as const;

const emptyHistory = (): TrainHistory => ({ steps: [], evals: [], warnings: [], skipped: 0, checkpoints: 0, running: false });

class Lab {
  step = $state(1);
  loaded = $state(false);

  docs = $state.raw<IngestedDoc[]>([]);
  ingestReport = $state.raw<IngestReport | undefined>();
  chunkOpts = $state({ size: 300, overlap: 50 });
  chunks = $state.raw<Chunk[]>([]);

  querySettings = $state<QuerySettings>({ url: 'http://127.0.0.1:11434/v1', model: 'qwen2.5:7b', prompt: '', concurrency: 4, timeoutMs: 60_000 });
  apiKey = $state(typeof localStorage !== 'undefined' ? (localStorage.getItem('rerank-lab:api-key') ?? '') : '');
  queries = $state.raw<QueryRecord[]>([]);
  queryNotes = $state.raw<string[]>([]);

  mineSettings = $state<MineSettings>({ negatives: 7, topK: 50, valRatio: 0.2, seedCompatible: false, nearDuplicate: 0.8, overlap: true, answerSpan: true });
  dataset = $state.raw<{ train: TrainExample[]; val: TrainExample[] } | undefined>();
  mineStats = $state.raw<MineStats | undefined>();
  negScores = $state.raw<ExampleScores[] | undefined>();

  modelName = $state('');
  modelSummary = $state.raw<ModelSummary | undefined>();
  modelSettings = $state<ModelSettings>({ maxLength: 256, batchSize: 4, groupSize: 8 });
  memory = $state.raw<MemoryEstimate | undefined>();
  baseMetrics = $state.raw<RankingMetrics | undefined>();
  baseScores = $state.raw<number[] | undefined>();

  probe = $state.raw<ProbeResult | undefined>();
  marginPercent = $state(20);

  trainOpts = $state<TrainOptions>({ loss: 'listwise', batchSize: 4, groupSize: 8, epochs: 5, lr: LR_DEFAULT, warmupRatio: 0.1, maxLength: 256, seed: 42, selectBy: 'ndcg@10' });
  history = $state.raw<TrainHistory>(emptyHistory());

  report = $state.raw<EvalReport | undefined>();
  tunedScores = $state.raw<number[] | undefined>();

  /** Which steps are done (for the step bar). */
  done = $derived([
    this.chunks.length > 0,
    this.queries.length > 0,
    !!this.dataset && this.dataset.train.length > 0,
    !!this.modelSummary,
    !!this.probe,
    !!this.history.summary && this.history.summary.stopped !== 'error',
    !!this.report?.rows[0]?.tuned,
    false,
  ]);

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
      'step', 'docs', 'ingestReport', 'chunkOpts', 'chunks', 'querySettings', 'queries', 'queryNotes', 'mineSettings', 'dataset', 'mineStats',
      'negScores', 'modelName', 'modelSummary', 'modelSettings', 'memory', 'baseMetrics', 'baseScores', 'probe', 'marginPercent', 'trainOpts',
      'history', 'report', 'tunedScores',
    ];
    try {
      const values = await Promise.all(keys.map((k) => load<unknown>(k as string)));
      keys.forEach((k, i) => {
        if (values[i] !== undefined) (this as unknown as Record<string, unknown>)[k as string] = values[i];
      });
    } catch (e) {
      this.saveError = `Could not read saved state: ${(e as Error).message}`;
    }
    this.loaded = true;
  }
}

export const lab = new Lab();
export type { TrainEvent };
