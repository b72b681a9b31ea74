// Which matmul tile to use, per adapter and shape: a short autotune the first time a shape is seen, remembered in
// memory and, where a store is installed (the command line keeps a JSON file), across runs. Never a guess from the
// vendor's name: candidates are the tiles whose workgroup memory fits the adapter, and the fastest one wins.
//
// Every tile gives the same bits (see shaders/matmul.wgsl), so the pick only changes the speed. On a software
// adapter (SwiftShader: tests, CI) there is nothing to learn and compiling extra pipelines is slow, so the default
// tile is used without timing.

import type { Tensor } from '../gpu/buffers.ts';
import { GpuError, GpuValidationError } from '../gpu/errors.ts';
import type { GpuRuntime } from '../gpu/runtime.ts';

/** R: 64·R rows and columns per workgroup (R x R blocks of 4x4 per thread); BK: K per tile; stages: 2 = double-buffered. */
export interface MatmulTile {
  name: string;
  R: 1 | 2;
  BK: 8 | 16;
  stages: 1 | 2;
}

/** The tile family (16 x 16 threads each). Names are stable: they are what the tune store keeps. */
export const MATMUL_TILES: readonly Omit<MatmulTile, 'stages'>[] = [
  { name: '128x128k8', R: 2, BK: 8 },
  { name: '128x128k16', R: 2, BK: 16 },
  { name: '64x64k16', R: 1, BK: 16 },
];
/** Bumped whenever the shader changes in a way that could change which tile is fastest (old picks are ignored). */
const TUNE_VERSION = 'matmul-v2';

/** Workgroup bytes a tile needs (mirrors the shader's As/Bs declarations). */
export function matmulTileBytes(R: number, BK: number, stages: number): number {
  return stages * BK * 2 * (64 * R + 4) * 4;
}

/**
 * The tile by name, double-buffered where the adapter's workgroup memory allows (and `single` is not asked for),
 * else single-buffered; undefined when it does not fit at all.
 */
export function fitTile(name: string, workgroupBytes: number, single = false): MatmulTile | undefined {
  const t = MATMUL_TILES.find((x) => x.name === name);
  if (!t) return undefined;
  for (const stages of single ? ([1] as const) : ([2, 1] as const)) {
    if (matmulTileBytes(t.R, t.BK, stages) <= workgroupBytes) return { ...t, stages };
  }
  return undefined;
}

/** Where picks persist between runs (the command line installs a JSON file; the page keeps them in memory only). */
export interface MatmulTuneStore {
  get(key: string): string | undefined;
  set(key: string, tile: string): void;
}

export interface MatmulTuning {
  /** Time the candidates (default true on hardware adapters; software adapters never tune). */
  autotune: boolean;
  /** Use this tile everywhere (bench variants, bisecting a driver problem). */
  force?: string;
  /** The candidates (default: every tile of MATMUL_TILES that fits). */
  candidates?: string[];
  store?: MatmulTuneStore;
}

const tuning: MatmulTuning = { autotune: true };
/** Picks by key, in memory (promises, so concurrent first calls tune once). */
const picks = new Map<string, Promise<string>>();
let tuneRuns = 0;
/** How many candidate timings have run (tests check that a remembered shape is not tuned again). */
export function tuneRunCount(): number {
  return tuneRuns;
}

export function setMatmulTuning(t: Partial<MatmulTuning>): void {
  Object.assign(tuning, t);
}

export function getMatmulTuning(): Readonly<MatmulTuning> {
  return tuning;
}

/** Forgets the in-memory picks (tests). */
export function clearMatmulPicks(): void {
  picks.clear();
}

/** What the autotune has settled on so far: key → tile name. */
export async function matmulPicks(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [k, p] of picks) {
    try {
      out.set(k, await p);
    } catch {
      /* a failed tune is retried next time; nothing settled */
    }
  }
  return out;
}

/**
 * The tile used without tuning: 128x128 double-buffered on hardware; on software adapters 64x64 single-buffered,
 * whose pipelines SwiftShader compiles in half the time (double buffering buys nothing on a CPU).
 */
export function defaultTile(rt: GpuRuntime): MatmulTile {
  const limit = rt.info.limits.maxComputeWorkgroupStorageSize;
  const soft = rt.info.isSoftware;
  const t = fitTile(soft ? '64x64k16' : '128x128k8', limit, soft) ?? fitTile('64x64k16', limit);
  if (!t) throw new GpuValidationError(`no matmul tile fits ${limit} bytes of workgroup memory (needs ${matmulTileBytes(1, 16, 1)})`, 'matmul');
  return t;
}

function adapterKey(rt: GpuRuntime): string {
  const i = rt.info;
  return [i.vendor, i.architecture, i.device, i.description, i.limits.maxComputeWorkgroupStorageSize].join('/');
}

export interface TuneShape {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  bias?: Tensor;
  accumulate?: boolean;
  biasGrad?: Tensor;
  c: Tensor;
}

/**
 * A size class: exact up to 512, then the next power of two. Batches padded to their longest pair change B·L from
 * step to step; one tune per class (not per length) keeps the autotune to the first steps of a run.
 */
export function sizeClass(n: number): number {
  return n <= 512 ? n : 2 ** Math.ceil(Math.log2(n));
}

/** The key a pick is remembered under: adapter, shader version, form and the shape's size classes. */
export function tuneKey(rt: GpuRuntime, x: TuneShape, plan: { batch: number; splits: number }): string {
  const form = `${x.transA ? 'T' : 'N'}${x.transB ? 'T' : 'N'}${x.bias ? 'b' : ''}${x.accumulate ? 'a' : ''}${x.biasGrad ? 'g' : ''}`;
  const dims = [x.M, x.N, x.K].map(sizeClass).join('x');
  return `${adapterKey(rt)}|${TUNE_VERSION}|${form}|${dims}|b${sizeClass(plan.batch)}|s${plan.splits}`;
}

/** The tiles worth timing on this adapter. */
export function tileCandidates(rt: GpuRuntime): MatmulTile[] {
  const limit = rt.info.limits.maxComputeWorkgroupStorageSize;
  if (tuning.force) {
    const t = fitTile(tuning.force, limit);
    if (!t) throw new GpuValidationError(`matmul tile '${tuning.force}' is unknown or does not fit this adapter (tiles: ${MATMUL_TILES.map((x) => x.name).join(', ')})`, 'matmul');
    return [t];
  }
  if (rt.info.isSoftware && !tuning.candidates) return [defaultTile(rt)];
  if (!tuning.autotune) return [defaultTile(rt)];
  const names = tuning.candidates ?? MATMUL_TILES.map((t) => t.name);
  const fits = names.map((n) => fitTile(n, limit, rt.info.isSoftware)).filter((t): t is MatmulTile => t !== undefined);
  return fits.length ? fits : [defaultTile(rt)];
}

/**
 * The tile for this call. `run(tile, args)` records the product with a tile; the autotune calls it with scratch
 * outputs where the real ones accumulate (so timing never adds into a gradient twice).
 */
export async function matmulTileFor<X extends TuneShape>(
  rt: GpuRuntime,
  x: X & { tile?: string },
  plan: { batch: number; splits: number },
  run: (t: MatmulTile, args: X) => Promise<void>,
): Promise<MatmulTile> {
  const limit = rt.info.limits.maxComputeWorkgroupStorageSize;
  if (x.tile) {
    const t = x.tile === defaultTile(rt).name ? defaultTile(rt) : fitTile(x.tile, limit);
    if (!t) throw new GpuValidationError(`matmul tile '${x.tile}' is unknown or does not fit this adapter`, 'matmul');
    return t;
  }
  const cands = tileCandidates(rt);
  if (cands.length === 1) return cands[0];
  const key = tuneKey(rt, x, plan);
  let pick = picks.get(key);
  if (!pick) {
    const stored = tuning.store?.get(key);
    pick = stored && cands.some((c) => c.name === stored) ? Promise.resolve(stored) : autotune(rt, x, cands, run, key);
    picks.set(key, pick);
    pick.catch(() => picks.delete(key));
  }
  const name = await pick;
  return cands.find((c) => c.name === name) ?? cands[0];
}

async function autotune<X extends TuneShape>(
  rt: GpuRuntime,
  x: X,
  cands: MatmulTile[],
  run: (t: MatmulTile, args: X) => Promise<void>,
  key: string,
): Promise<string> {
  // Outputs that accumulate get scratch stand-ins; a plain output is simply overwritten again by the real call.
  const scratch: Tensor[] = [];
  const stand = async (t: Tensor | undefined, need: boolean): Promise<Tensor | undefined> => {
    if (!t || !need) return t;
    const s = await rt.pool.tensor(t.shape, `matmul.tune:${t.label}`);
    scratch.push(s);
    return s;
  };
  const args = { ...x, c: (await stand(x.c, !!x.accumulate))!, biasGrad: await stand(x.biasGrad, true) };
  let best = { name: cands[0].name, ms: Infinity };
  try {
    for (const t of cands) {
      try {
        await run(t, args);
        await rt.flush(); // pipeline creation and a first run, untimed
        tuneRuns++;
        const once = await rt.time(() => run(t, args));
        const reps = Math.max(1, Math.min(10, Math.ceil(2 / Math.max(once, 1e-3))));
        const ms = reps === 1 ? once : (await rt.time(async () => { for (let i = 0; i < reps; i++) await run(t, args); })) / reps;
        if (ms < best.ms) best = { name: t.name, ms };
      } catch (e) {
        // A candidate this driver rejects is skipped; anything else (device lost, out of memory) is real.
        if (!(e instanceof GpuValidationError) || rt.lostError) throw e;
      }
    }
  } finally {
    for (const s of scratch) rt.pool.release(s);
  }
  if (!Number.isFinite(best.ms)) throw new GpuError(`matmul autotune: no tile ran for ${key}`);
  tuning.store?.set(key, best.name);
  return best.name;
}
