// The per-step overhead outside the kernels: a training step records its work without waiting for the GPU, the
// optimizer is a few dispatches over the flat buffers (not a few per tensor), and a step of a shape seen before
// creates no uniform buffer or bind group for the launcher's cache (per-step values such as dropout seeds and the
// learning rate go through one-off uniforms that are freed after submission).
import { describe, expect, it } from 'vitest';
import { launchStats } from '../../../src/gpu/launch.ts';
import { presetConfig } from '../../../src/model/presets.ts';
import { paramSpecs } from '../../../src/model/params.ts';
import { GpuModel } from '../../../src/train/gpu-model.ts';
import { gpu } from '../helpers/gpu.ts';

describe('per-step overhead', () => {
  it('records a step without a blocking readback, updates in a few dispatches, and reuses every cached binding', async () => {
    const rt = await gpu();
    const cfg = presetConfig('tiny');
    const params = new Map(paramSpecs(cfg).map((s) => [s.name, new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(0.01)]));
    const gm = await GpuModel.create(rt, cfg, params);
    const opt = await gm.optimizer();
    try {
      const [pairs, length] = [4, 16];
      const n = pairs * length;
      const ids = Int32Array.from({ length: n }, (_, i) => 5 + (i % 17));
      const batch = { input_ids: ids, attention_mask: new Int32Array(n).fill(1), token_type_ids: new Int32Array(n), batch: pairs, length, truncatedDocuments: 0, truncatedQueries: 0 };
      const labels = Float32Array.of(1, 0, 1, 0);
      const reads: string[] = [];
      const read = rt.read.bind(rt);
      rt.read = (src, bytes, offset) => {
        reads.push(src.label);
        return read(src, bytes, offset);
      };
      const step = async (seed: number) => {
        const r = await gm.recordStep(batch, { loss: 'bce', labels, groupSize: 2, dropout: 0.1, seed, readLogits: false });
        const before = launchStats.dispatches;
        const { report } = await opt.record(1e-3);
        const optimizerDispatches = launchStats.dispatches - before;
        return { done: Promise.all([r.loss, report]), optimizerDispatches };
      };
      for (const seed of [1, 2]) await (await step(seed)).done; // warm-up: pipelines, workspace, cached bindings
      const stats = { ...launchStats };
      const third = await step(3);
      const created = { uniforms: launchStats.uniforms - stats.uniforms, bindGroups: launchStats.bindGroups - stats.bindGroups };
      const [loss, rep] = await third.done;
      console.log(`[overhead] third step: ${launchStats.dispatches - stats.dispatches} dispatches (${third.optimizerDispatches} for AdamW and the norm over ${gm.params.arenas.length} arena(s), ${gm.params.slots.length} tensors), ${launchStats.volatile - stats.volatile} one-off uniforms, new cached: ${JSON.stringify(created)}; loss ${loss}, norm ${rep.gradNorm}`);
      expect(reads).toEqual([]); // nothing waited for the GPU while the steps were recorded
      expect(created).toEqual({ uniforms: 0, bindGroups: 0 });
      expect(third.optimizerDispatches).toBeLessThanOrEqual(1 + 3 * gm.params.arenas.length);
      expect(rep.applied).toBe(true);
      expect(Number.isFinite(loss)).toBe(true);
      expect(opt.step).toBe(3);
    } finally {
      opt.release();
      gm.release();
    }
  });
});
