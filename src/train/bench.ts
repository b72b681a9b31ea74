// Training throughput with random weights of a named shape: pairs/s, ms per step, peak bytes. Same recipe as
// ../shared/device/torch_reference.py (BCE on random labels, AdamW, every pair max_length tokens, full attention mask),
// so the two can run side by side on one card.
// With `lengths` [min, max] each step's padded length is drawn uniformly from that range instead (a real run's
// batches pad to their longest row), and the result adds the bytes the pool holds (live + free lists) after the
// first step, at most, and at the end: a workspace that grows with every new shape shows here.
import type { GpuRuntime } from '../gpu/runtime.ts';
import { paramSpecs } from '../model/params.ts';
import { presetConfig } from '../model/presets.ts';
import type { PairBatch } from '../model/tokenize.ts';
import { GpuModel } from './gpu-model.ts';
import { estimateTrainingMemory } from './memory.ts';
import { mulberry32 } from '../util/rng.ts';

export interface BenchResult {
  arch: string;
  batch: number;
  length: number;
  steps: number;
  pairs_per_s: number;
  ms_per_step: number;
  peak_bytes: number;
  peak_gib: number;
  estimated_bytes: number;
  adapter: string;
  /** With random lengths: "min-max". */
  lengths?: string;
  held_bytes_first?: number;
  held_bytes_max?: number;
  held_bytes_last?: number;
}

/** xorshift32 in [-a, a): fast enough to fill hundreds of millions of weights. */
function fillRandom(out: Float32Array, seed: number, a: number): void {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = (x / 4294967296 - 0.5) * 2 * a;
  }
}

export async function runBench(
  rt: GpuRuntime, arch: string, batch: number, length: number, steps: number, lengths?: [number, number],
  onStep?: (s: { step: number; length: number; heldBytes: number }) => void,
): Promise<BenchResult> {
  const cfg = presetConfig(arch);
  const params = new Map<string, Float32Array>();
  let seed = 1;
  for (const s of paramSpecs(cfg)) {
    const t = new Float32Array(s.shape.reduce((x, y) => x * y, 1));
    if (s.name.includes('LayerNorm.weight')) t.fill(1);
    else if (!s.name.endsWith('bias')) fillRandom(t, seed++, 0.02 * Math.sqrt(3));
    params.set(s.name, t);
  }
  const maxLength = lengths ? lengths[1] : length;
  const ids = new Int32Array(batch * maxLength);
  fillIds(ids, cfg.vocabSize);
  const tokensOf = (L: number): PairBatch => ({
    input_ids: ids.subarray(0, batch * L),
    attention_mask: new Int32Array(batch * L).fill(1),
    token_type_ids: new Int32Array(batch * L),
    batch,
    length: L,
    truncatedDocuments: 0,
    truncatedQueries: 0,
  });
  const fixed = tokensOf(maxLength);
  const drawLength = lengths ? lengthSampler(lengths) : () => maxLength;
  const held: number[] = [];
  const labels = Float32Array.from({ length: batch }, (_, i) => i % 2);
  rt.pool.resetPeak();
  const gm = await GpuModel.create(rt, cfg, params);
  params.clear();
  try {
    const opt = await gm.optimizer({ weightDecay: 0.01 });
    await gm.reserve(batch, maxLength); // as the trainer does: one workspace for the longest batch
    // As the trainer runs: each step is recorded while the previous one's loss and norm are read back.
    const step = async (): Promise<{ done: Promise<unknown> }> => {
      const L = drawLength();
      const r = await gm.recordStep(L === maxLength ? fixed : tokensOf(L), { loss: 'bce', labels, groupSize: 2, dropout: 0, seed: 0, readLogits: false });
      const { report } = await opt.record(2e-5);
      held.push(rt.pool.heldBytes);
      onStep?.({ step: held.length, length: L, heldBytes: rt.pool.heldBytes });
      return { done: Promise.all([r.loss, report]) };
    };
    const run = async (n: number) => {
      let previous: Promise<unknown> = Promise.resolve();
      for (let i = 0; i < n; i++) {
        const { done } = await step();
        await previous;
        previous = done;
      }
      await previous;
    };
    await run(2); // warm-up: pipelines, allocation, the matmul autotune
    await rt.flush();
    const t0 = performance.now();
    await run(steps);
    await rt.flush();
    const ms = (performance.now() - t0) / steps;
    return {
      arch,
      batch,
      length,
      steps,
      pairs_per_s: +(batch / (ms / 1000)).toFixed(2),
      ms_per_step: +ms.toFixed(1),
      peak_bytes: rt.pool.peakBytes,
      peak_gib: +(rt.pool.peakBytes / 2 ** 30).toFixed(2),
      estimated_bytes: estimateTrainingMemory(cfg, batch, length).totalBytes,
      adapter: rt.info.name,
      ...(lengths && {
        lengths: `${lengths[0]}-${lengths[1]}`,
        held_bytes_first: held[0],
        held_bytes_max: Math.max(...held),
        held_bytes_last: held.at(-1),
      }),
    };
  } finally {
    gm.release();
    rt.pool.trim();
  }
}

/** Uniform integer lengths in [min, max], seeded so two runs see the same sequence. */
function lengthSampler([min, max]: [number, number]): () => number {
  const r = mulberry32(0x1e9a7);
  return () => min + Math.floor(r() * (max - min + 1));
}

function fillIds(ids: Int32Array, vocab: number): void {
  let x = 12345;
  for (let i = 0; i < ids.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    ids[i] = 5 + (x % (vocab - 6));
  }
}
