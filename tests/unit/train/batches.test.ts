// Groups, epoch plans, micro-batches and hold-out: reproducible from the seed, positive first, top-up rules.
import { describe, expect, it } from 'vitest';
import { buildGroups, documentPool, epochGroups, holdOut, microBatches, pairsOf, stepsOf } from '../../../src/train/batches.ts';
import { mulberry32 } from '../../../src/util/rng.ts';
import type { TrainExample } from '../../../src/train/types.ts';

const ex = (i: number, negs: number): TrainExample => ({
  query: `q${i}`,
  pos: [`p${i}`],
  neg: Array.from({ length: negs }, (_, j) => `n${i}.${j}`),
});

describe('training groups', () => {
  it('puts the positive first, samples distinct negatives, and labels 1/0', () => {
    const data = [ex(0, 10), ex(1, 10)];
    const { groups, stats } = buildGroups(data, 4, mulberry32(1), documentPool(data));
    expect(stats).toEqual({ noPositive: 0, toppedUp: 0 });
    for (const [i, g] of groups.entries()) {
      expect(g.docs).toHaveLength(4);
      expect(g.docs[0]).toBe(`p${i}`);
      expect(new Set(g.docs).size).toBe(4);
      for (const d of g.docs.slice(1)) expect(d.startsWith(`n${i}.`)).toBe(true);
    }
    const p = pairsOf(groups);
    expect(Array.from(p.labels)).toEqual([1, 0, 0, 0, 1, 0, 0, 0]);
    expect(p.queries).toEqual(['q0', 'q0', 'q0', 'q0', 'q1', 'q1', 'q1', 'q1']);
  });

  it("tops up short examples from other examples' documents, never with one of their own positives", () => {
    const data: TrainExample[] = [{ query: 'a', pos: ['pa', 'pa2'], neg: ['na'] }, ex(1, 3), ex(2, 3)];
    data[1].neg.push('pa2'); // another example's negative that is a positive of 'a'
    const { groups, stats } = buildGroups(data, 4, mulberry32(3), documentPool(data));
    expect(stats.toppedUp).toBe(1);
    const g = groups[0];
    expect(g.docs).toHaveLength(4);
    expect(['pa', 'pa2']).toContain(g.docs[0]);
    expect(g.docs.slice(1)).not.toContain('pa');
    expect(g.docs.slice(1)).not.toContain('pa2');
    expect(g.docs).toContain('na');
  });

  it('mixes a share of random documents of other examples in with the mined negatives', () => {
    const data = Array.from({ length: 30 }, (_, i) => ex(i, 10));
    const pool = documentPool(data);
    const mined = (i: number, d: string) => d.startsWith(`n${i}.`);
    const count = (share: number) => {
      const { groups, stats } = buildGroups(data, 8, mulberry32(9), pool, share);
      expect(stats.toppedUp).toBe(0); // enough mined negatives: random ones are asked for, not a top-up
      return groups.map((g, i) => {
        expect(g.docs[0]).toBe(`p${i}`);
        expect(new Set(g.docs).size).toBe(8);
        expect(g.docs.slice(1)).not.toContain(`p${i}`);
        return g.docs.slice(1).filter((d) => !mined(i, d)).length;
      });
    };
    // 7 negatives per group: share 0 → 0 random, 0.3 → round(2.1) = 2, 1 → all 7 from other examples
    expect(count(0)).toEqual(data.map(() => 0));
    expect(count(0.3)).toEqual(data.map(() => 2));
    expect(count(1)).toEqual(data.map(() => 7));
    // share 0 is the plan without the option, draw for draw
    expect(buildGroups(data, 8, mulberry32(9), pool, 0)).toEqual(buildGroups(data, 8, mulberry32(9), pool));
    expect(() => buildGroups(data, 8, mulberry32(9), pool, 1.5)).toThrow(/between 0 and 1/);
  });

  it('skips examples without a positive and refuses groups it cannot fill', () => {
    const data: TrainExample[] = [{ query: 'x', pos: [], neg: ['a'] }, ex(1, 1)];
    expect(buildGroups(data, 2, mulberry32(1), documentPool(data)).stats.noPositive).toBe(1);
    expect(() => buildGroups([ex(1, 1)], 4, mulberry32(1), documentPool([ex(1, 1)]))).toThrow(/lower the group size/);
  });

  it('plans an epoch from (seed, epoch) alone: same seed same plan, other epochs differ', () => {
    const data = Array.from({ length: 20 }, (_, i) => ex(i, 6));
    const pool = documentPool(data);
    const a = epochGroups(data, 3, 42, 1, pool).groups;
    const b = epochGroups(data, 3, 42, 1, pool).groups;
    const c = epochGroups(data, 3, 42, 2, pool).groups;
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(a.map((g) => g.query).sort()).toEqual(data.map((d) => d.query).sort());
  });

  it('cuts steps and micro-batches evenly', () => {
    expect(stepsOf([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(microBatches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2, 3], [4, 5]]);
    expect(microBatches([1], 4)).toEqual([[1]]);
  });

  it('holds out a seeded tenth', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const a = holdOut(items, 0.1, 5);
    expect(a.val).toHaveLength(5);
    expect(a.train).toHaveLength(45);
    expect(holdOut(items, 0.1, 5)).toEqual(a);
    expect(new Set([...a.train, ...a.val]).size).toBe(50);
  });
});
