// The batch-size probe: the seed's manual stress test, automated. Real training steps (forward, loss, backward,
// AdamW with lr 0 on a throw-away copy of the model) at 1, 2, 4, 8, … query groups per step, every pair padded to
// max_length (the worst case), until the GPU reports out-of-memory or the device is lost; then a binary search
// between the last size that passed and the first that failed. A lost device is recreated and probing goes on.
// The largest size that passed, less a margin, is the recommendation. Memory depends on both the length and the group
// size, so probe at the run's own max_length and group size (the result names them); every byte the pool holds
// (live buffers and free lists) counts, against the budget and in each step's peak.

import { GpuDeviceLostError, GpuLimitError, GpuOutOfMemoryError, KernelShapeError } from '../gpu/errors.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';
import type { ModelConfig } from '../model/config.ts';
import type { PairBatch, PairTokenizer } from '../model/tokenize.ts';
import { type LongRunning, throwIfAborted } from '../util/progress.ts';
import { GpuModel } from './gpu-model.ts';
import type { AdamW } from './optimizer.ts';
import type { ProbeResult, ProbeStep, TrainExample } from './types.ts';

export interface ProbeOptions {
  groupSize: number;
  maxLength: number;
  loss: 'bce' | 'listwise';
  /** Largest number of query groups per step to try. */
  maxBatch: number;
  /** Recommend this many percent below the largest size that passed. */
  marginPercent: number;
  /** Optional cap on GPU bytes (BufferPool.limitBytes) while probing. */
  budgetBytes?: number;
}

export interface ProbeHooks extends LongRunning {
  onStep?(s: ProbeStep): void;
  /** Called before each trial (tests use it to lose the device on purpose). */
  beforeTrial?(batchSize: number, rt: GpuRuntime): void;
}

export interface ProbeModel {
  config: ModelConfig;
  params: ReadonlyMap<string, Float32Array>;
  tokenizer: PairTokenizer;
}

/** Pads a batch with the pad token up to `length` columns (mask 0), so every trial measures the worst case. */
export function padBatchTo(b: PairBatch, length: number, padId: number): PairBatch {
  if (b.length >= length) return b;
  const grow = (src: Int32Array, fillValue: number) => {
    const out = new Int32Array(b.batch * length).fill(fillValue);
    for (let r = 0; r < b.batch; r++) out.set(src.subarray(r * b.length, (r + 1) * b.length), r * length);
    return out;
  };
  return { ...b, input_ids: grow(b.input_ids, padId), attention_mask: grow(b.attention_mask, 0), token_type_ids: grow(b.token_type_ids, 0), length };
}

/** `groups` groups of 1 positive + (groupSize − 1) documents from the sample, cycling through it. */
export function probeGroups(sample: TrainExample[], groups: number, groupSize: number): { queries: string[]; docs: string[]; labels: Float32Array } {
  if (!sample.length) throw new Error('the batch-size probe needs at least one training example');
  const queries: string[] = [];
  const docs: string[] = [];
  const labels: number[] = [];
  const pool = sample.flatMap((e) => [...e.pos, ...e.neg]);
  for (let g = 0; g < groups; g++) {
    const ex = sample[g % sample.length];
    const negs = ex.neg.length ? ex.neg : pool;
    for (let j = 0; j < groupSize; j++) {
      queries.push(ex.query);
      docs.push(j === 0 ? ex.pos[0] : negs[(g + j) % negs.length]);
      labels.push(j === 0 ? 1 : 0);
    }
  }
  return { queries, docs, labels: Float32Array.from(labels) };
}

function classify(e: unknown): string | undefined {
  if (e instanceof GpuOutOfMemoryError) return 'out-of-memory';
  if (e instanceof GpuDeviceLostError) return 'device-lost';
  if (e instanceof GpuLimitError || e instanceof KernelShapeError) return `limit: ${(e as Error).message}`;
  return undefined;
}

export async function probeBatchSize(rt: GpuRuntime, model: ProbeModel, sample: TrainExample[], opts: ProbeOptions, hooks: ProbeHooks = {}): Promise<ProbeResult> {
  const steps: ProbeStep[] = [];
  let gm: GpuModel | undefined;
  let opt: AdamW | undefined;
  const previousLimit = rt.pool.limitBytes;
  rt.pool.limitBytes = opts.budgetBytes;
  const drop = () => {
    try {
      gm?.release();
      opt?.release();
    } catch {
      /* the device may be gone */
    }
    gm = undefined;
    opt = undefined;
  };

  const trial = async (groups: number): Promise<ProbeStep> => {
    throwIfAborted(hooks.signal);
    hooks.beforeTrial?.(groups, rt);
    if (rt.lostError) await rt.recreate();
    rt.pool.trim();
    rt.pool.resetPeak();
    const pairs = groups * opts.groupSize;
    try {
      if (!gm) {
        gm = await GpuModel.create(rt, model.config, model.params);
        opt = await gm.optimizer();
      }
      const g = probeGroups(sample, groups, opts.groupSize);
      const batch = padBatchTo(model.tokenizer.encodePairs(g.queries, g.docs, { maxLength: opts.maxLength }), opts.maxLength, model.config.padTokenId);
      const run = async () => {
        await gm!.trainStep(batch, { loss: opts.loss, labels: g.labels, groupSize: opts.groupSize, dropout: 0, seed: 1, readLogits: false });
        await opt!.update(0);
        await rt.flush();
      };
      await run(); // allocates the workspace; compiles pipelines on the first size
      const t0 = performance.now();
      await run();
      const s = (performance.now() - t0) / 1000;
      return { batchSize: groups, ok: true, peakBytes: rt.pool.peakHeldBytes, pairsPerSec: pairs / s };
    } catch (e) {
      // A lost device explains whatever failed after it (a budget check may have run first).
      const failure = rt.lostError ? 'device-lost' : classify(e);
      if (!failure) throw e;
      if (failure === 'device-lost' || rt.lostError) {
        drop(); // its buffers died with the device
        await rt.recreate();
      }
      return { batchSize: groups, ok: false, failure, peakBytes: rt.pool.peakHeldBytes };
    } finally {
      gm?.encoder.releaseWorkspace();
      rt.pool.trim();
    }
  };

  const record = async (groups: number) => {
    const s = await trial(groups);
    steps.push(s);
    hooks.onStep?.(s);
    hooks.onProgress?.({ stage: 'probe', done: steps.length, total: steps.length + 1, detail: `${groups} groups: ${s.ok ? 'ok' : s.failure}` });
    return s.ok;
  };

  try {
    let lo = 0; // largest size that passed
    let hi = 0; // smallest size that failed (0 = none yet)
    for (let b = 1; b <= opts.maxBatch; b *= 2) {
      if (await record(b)) lo = b;
      else {
        hi = b;
        break;
      }
    }
    if (hi === 0 && lo < opts.maxBatch && lo > 0) {
      // everything passed up to the last power of two: try the cap itself
      if (await record(opts.maxBatch)) lo = opts.maxBatch;
      else hi = opts.maxBatch;
    }
    // binary search between the last good and the first bad size, to within an eighth
    while (hi && lo && hi - lo > Math.max(1, Math.floor(lo / 8))) {
      const mid = Math.floor((lo + hi) / 2);
      if (await record(mid)) lo = mid;
      else hi = mid;
    }
    const recommended = lo ? Math.max(1, Math.floor(lo * (1 - opts.marginPercent / 100))) : 0;
    return { steps, largestOk: lo, recommended, maxLength: opts.maxLength, groupSize: opts.groupSize };
  } finally {
    drop();
    rt.pool.trim();
    rt.pool.limitBytes = previousLimit;
  }
}
