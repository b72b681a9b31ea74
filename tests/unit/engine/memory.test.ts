// The training-memory estimate (shown before anything is allocated) against what a real step allocates.
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../../../src/model/presets.ts';
import { paramSpecs } from '../../../src/model/params.ts';
import { GpuModel } from '../../../src/train/gpu-model.ts';
import { estimateTrainingMemory } from '../../../src/train/memory.ts';
import { gpu } from '../helpers/gpu.ts';

describe('training memory estimate', () => {
  for (const [pairs, length] of [[4, 32], [8, 64]] as const) {
    it(`covers a real step's peak without overshooting by much: ${pairs} pairs × ${length} tokens`, async () => {
      const rt = await gpu();
      const cfg = presetConfig('tiny');
      const params = new Map(paramSpecs(cfg).map((s) => [s.name, new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(0.01)]));
      rt.pool.trim();
      rt.pool.resetPeak();
      const before = rt.pool.currentBytes;
      const gm = await GpuModel.create(rt, cfg, params);
      try {
        const opt = await gm.optimizer();
        const n = pairs * length;
        const batch = { input_ids: new Int32Array(n).fill(5), attention_mask: new Int32Array(n).fill(1), token_type_ids: new Int32Array(n), batch: pairs, length, truncatedDocuments: 0, truncatedQueries: 0 };
        await gm.trainStep(batch, { loss: 'bce', labels: new Float32Array(pairs).fill(1), groupSize: 2, dropout: 0, seed: 0 });
        await opt.update(1e-3);
        const peak = rt.pool.peakBytes - before;
        const est = estimateTrainingMemory(cfg, pairs, length).totalBytes;
        console.log(`[memory] ${pairs}×${length}: estimate ${est} B, measured peak ${peak} B (ratio ${(est / peak).toFixed(2)})`);
        expect(est).toBeGreaterThanOrEqual(peak);
        expect(est).toBeLessThan(1.5 * peak);
        opt.release();
      } finally {
        gm.release();
      }
    });
  }
});
