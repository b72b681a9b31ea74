// Training throughput with random weights of a named shape: pairs/s, ms per step, peak bytes. Same recipe as
// ../shared/device/torch_reference.py (BCE on random labels, AdamW, every pair max_length tokens, full attention mask),
// so the two can run side by side on one card.
import type { GpuRuntime } from '../gpu/runtime.ts';
import { paramSpecs } from '../model/params.ts';
import { presetConfig } from '../model/presets.ts';
import type { PairBatch } from '../model/tokenize.ts';
import { GpuModel } from './gpu-model.ts';
import { estimateTrainingMemory } from './memory.ts';

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

export async function runBench(rt: GpuRuntime, arch: string, batch: number, length: number, steps: number): Promise<BenchResult> {
  const cfg = presetConfig(arch);
  const params = new Map<string, Float32Array>();
  let seed = 1;
  for (const s of paramSpecs(cfg)) {
    const t = new Float32Array(s.shape.reduce((x, y) => x * y, 1));
    if (s.name.includes('LayerNorm.weight')) t.fill(1);
    else if (!s.name.endsWith('bias')) fillRandom(t, seed++, 0.02 * Math.sqrt(3));
    params.set(s.name, t);
  }
  const ids = new Int32Array(batch * length);
  fillIds(ids, cfg.vocabSize);
  const tokens: PairBatch = {
    input_ids: ids,
    attention_mask: new Int32Array(batch * length).fill(1),
    token_type_ids: new Int32Array(batch * length),
    batch,
    length,
    truncatedDocuments: 0,
    truncatedQueries: 0,
  };
  const labels = Float32Array.from({ length: batch }, (_, i) => i % 2);
  rt.pool.resetPeak();
  const gm = await GpuModel.create(rt, cfg, params);
  params.clear();
  try {
    const opt = await gm.optimizer({ weightDecay: 0.01 });
    // As the trainer runs: each step is recorded while the previous one's loss and norm are read back.
    const step = async (): Promise<{ done: Promise<unknown> }> => {
      const r = await gm.recordStep(tokens, { loss: 'bce', labels, groupSize: 2, dropout: 0, seed: 0, readLogits: false });
      const { report } = await opt.record(2e-5);
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
    };
  } finally {
    gm.release();
    rt.pool.trim();
  }
}

function fillIds(ids: Int32Array, vocab: number): void {
  let x = 12345;
  for (let i = 0; i < ids.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    ids[i] = 5 + (x % (vocab - 6));
  }
}
