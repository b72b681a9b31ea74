// From FlagEmbedding examples to training groups and optimizer steps, all reproducible from (seed, epoch):
//   group  = one query with 1 positive + (groupSize − 1) negatives, positive first (what the listwise loss expects;
//            BCE gets labels 1, 0, 0, …). Negatives are sampled anew each epoch, as FlagEmbedding's dataset does;
//            an example with too few negatives is topped up with documents of other examples. With a random share
//            r > 0, round(r·(groupSize − 1)) of each group's negatives are random documents of other examples
//            instead of mined ones (hard negatives alone can teach a model to miss easy cases).
//   epoch  = the groups in a seeded shuffled order, cut into steps of batchSize groups, each step cut into
//            gradAccum micro-batches.
// Nothing here keeps generator state between epochs: the plan of epoch e depends only on (seed, e), so a
// checkpoint's "random state" is its position (epoch, next step) and a resumed run sees the very same batches.

import { mulberry32, type Rng } from '../util/rng.ts';
import type { TrainExample } from './types.ts';

export interface Group {
  query: string;
  /** [groupSize] documents, the positive first. */
  docs: string[];
}

export interface GroupStats {
  /** Examples without any positive (skipped). */
  noPositive: number;
  /** Groups whose example had fewer negatives than needed and were topped up from other examples. */
  toppedUp: number;
  /** Examples left out because the pool could not fill their group (only with `skipUnfillable`). */
  unfillable?: number;
}

/** A 32-bit hash of several numbers (seed, epoch, step, …): independent streams from one user seed. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
  }
  return h >>> 0;
}

/** Stream ids so the streams of one seed never coincide. */
export const STREAM = { groups: 1, order: 2, dropout: 3, val: 4, holdout: 5 } as const;

/** k distinct indices of [0, n) in random order (partial Fisher–Yates). */
function sampleIndices(n: number, k: number, rng: Rng): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  const m = Math.min(n, k);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rng() * (n - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, m);
}

/** Every distinct document of a set of examples (positives and negatives), in first-seen order. */
export function documentPool(...sets: readonly (readonly TrainExample[])[]): string[] {
  const seen = new Set<string>();
  for (const set of sets) for (const ex of set) for (const d of [...ex.pos, ...ex.neg]) seen.add(d);
  return [...seen];
}

/**
 * One group per example (examples without a positive are skipped and counted). `pool` supplies top-up documents
 * for examples with fewer than groupSize − 1 negatives, and the random share of negatives (round(randomShare ·
 * (groupSize − 1)) per group, after the mined ones); a pool document is never one of the example's positives nor
 * already in the group. Throws when the pool is too small to fill a group at all (or, with `skipUnfillable`, leaves
 * that example out and counts it).
 */
export function buildGroups(
  examples: readonly TrainExample[], groupSize: number, rng: Rng, pool: readonly string[], randomShare = 0,
  opts: { skipUnfillable?: boolean } = {},
): { groups: Group[]; stats: GroupStats } {
  if (!Number.isInteger(groupSize) || groupSize < 2) throw new Error(`group size must be an integer ≥ 2 (one positive and at least one negative), got ${groupSize}`);
  if (!(randomShare >= 0 && randomShare <= 1)) throw new Error(`the random-negative share must be between 0 and 1, got ${randomShare}`);
  const need = groupSize - 1;
  const randomCount = Math.round(randomShare * need);
  const groups: Group[] = [];
  const stats: GroupStats = { noPositive: 0, toppedUp: 0 };
  for (const ex of examples) {
    if (ex.pos.length === 0) {
      stats.noPositive++;
      continue;
    }
    const pos = ex.pos[Math.floor(rng() * ex.pos.length)];
    const positives = new Set(ex.pos);
    const negs = [...new Set(ex.neg)].filter((d) => !positives.has(d));
    const chosen = sampleIndices(negs.length, need - randomCount, rng).map((i) => negs[i]);
    if (chosen.length < need) {
      // random documents: the share asked for, plus any top-up when the example has too few mined negatives
      if (chosen.length < need - randomCount) stats.toppedUp++;
      // Not the example's own mined negatives either (with a random share they are not all in the group yet).
      const inGroup = new Set([pos, ...chosen, ...negs]);
      const ok = (d: string) => !positives.has(d) && !inGroup.has(d);
      // Random draws first (cheap when the pool is large), then a scan in random order for what is left.
      for (let tries = 0; chosen.length < need && tries < 8 * need; tries++) {
        const d = pool[Math.floor(rng() * pool.length)];
        if (d !== undefined && ok(d)) (chosen.push(d), inGroup.add(d));
      }
      if (chosen.length < need) {
        for (const i of sampleIndices(pool.length, pool.length, rng)) {
          if (chosen.length >= need) break;
          if (ok(pool[i])) (chosen.push(pool[i]), inGroup.add(pool[i]));
        }
      }
      if (chosen.length < need && opts.skipUnfillable) {
        stats.unfillable = (stats.unfillable ?? 0) + 1;
        continue;
      }
      if (chosen.length < need) {
        throw new Error(`cannot fill a group of ${groupSize} for query "${ex.query.slice(0, 40)}": the data has only ${chosen.length + 1} usable documents for it; lower the group size or add documents`);
      }
    }
    groups.push({ query: ex.query, docs: [pos, ...chosen] });
  }
  return { groups, stats };
}

/** The groups of epoch `epoch` (0-based) in training order. Depends only on (examples, groupSize, seed, epoch). */
export function epochGroups(examples: readonly TrainExample[], groupSize: number, seed: number, epoch: number, pool: readonly string[], randomShare = 0): { groups: Group[]; stats: GroupStats } {
  const r = buildGroups(examples, groupSize, mulberry32(mixSeed(seed, STREAM.groups, epoch)), pool, randomShare);
  const order = sampleIndices(r.groups.length, r.groups.length, mulberry32(mixSeed(seed, STREAM.order, epoch)));
  return { groups: order.map((i) => r.groups[i]), stats: r.stats };
}

/** Optimizer steps of an epoch: consecutive slices of batchSize groups (the last may be shorter). */
export function stepsOf<T>(items: readonly T[], batchSize: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += batchSize) out.push(items.slice(i, i + batchSize));
  return out;
}

/** Splits one step's groups into `accum` micro-batches as evenly as possible (sizes differ by at most one). */
export function microBatches<T>(step: readonly T[], accum: number): T[][] {
  const k = Math.max(1, Math.min(accum, step.length));
  const out: T[][] = [];
  let at = 0;
  for (let i = 0; i < k; i++) {
    const n = Math.floor(step.length / k) + (i < step.length % k ? 1 : 0);
    out.push(step.slice(at, at + n));
    at += n;
  }
  return out;
}

/** Flattens groups into aligned pair lists: queries, documents and BCE labels (1 for each group's first). */
export function pairsOf(groups: readonly Group[]): { queries: string[]; docs: string[]; labels: Float32Array } {
  const queries: string[] = [];
  const docs: string[] = [];
  const labels: number[] = [];
  for (const g of groups) {
    g.docs.forEach((d, j) => {
      queries.push(g.query);
      docs.push(d);
      labels.push(j === 0 ? 1 : 0);
    });
  }
  return { queries, docs, labels: Float32Array.from(labels) };
}

/** Holds out a seeded `ratio` of the examples for validation (at least one on each side when there are two). */
export function holdOut<T>(examples: readonly T[], ratio: number, seed: number): { train: T[]; val: T[] } {
  if (!(ratio > 0 && ratio < 1)) throw new Error(`hold-out ratio must be between 0 and 1, got ${ratio}`);
  const n = examples.length;
  const nVal = n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(n * ratio)));
  const order = sampleIndices(n, n, mulberry32(mixSeed(seed, STREAM.holdout)));
  const valIdx = new Set(order.slice(0, nVal));
  return { train: examples.filter((_, i) => !valIdx.has(i)), val: examples.filter((_, i) => valIdx.has(i)) };
}
