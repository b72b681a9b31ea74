// Memory that does not grow with the number of distinct batch shapes: the pool frees what no step reuses, and the
// encoder's workspace is allocated once for the largest batch and viewed at each batch's own shape (which must
// still compute exactly what the float64 reference does, whatever a larger batch left in the buffers).
import { describe, expect, it } from 'vitest';
import { TOL, relErr } from '../../../src/kernels/tolerances.ts';
import { parseModelConfig } from '../../../src/model/config.ts';
import { paramSpecs } from '../../../src/model/params.ts';
import { referenceBackward, referenceForward } from '../../../src/model/reference/index.ts';
import type { PairBatch } from '../../../src/model/tokenize.ts';
import { GpuModel } from '../../../src/train/gpu-model.ts';
import { bceWithLogitsRef } from '../../../src/model/reference/losses.ts';
import { gpu, rng } from '../helpers/gpu.ts';

describe('buffer pool', () => {
  it('reuses a released size, frees what sat unused through a whole step, counts live + free as held', async () => {
    const rt = await gpu();
    const pool = rt.pool;
    pool.trim();
    const base = pool.heldBytes;
    const a = await pool.tensor([1000], 'pool-test.a');
    pool.release(a);
    expect(pool.heldBytes - base).toBe(4000);
    pool.collect(); // the step that released it ends: kept, a later step may want the size
    const again = await pool.tensor([1000], 'pool-test.a2');
    expect(again.buffer).toBe(a.buffer);
    pool.release(again);
    pool.collect(); // released during this step: kept
    expect(pool.freeBytes).toBe(4000);
    pool.collect(); // a whole step without anyone asking for 4000 bytes: destroyed
    expect(pool.freeBytes).toBe(0);
    expect(pool.heldBytes).toBe(base);
  });

  it('gives free lists back before refusing an allocation over the budget', async () => {
    const rt = await gpu();
    const pool = rt.pool;
    pool.trim();
    const live = pool.currentBytes;
    const keep = await pool.tensor([256], 'pool-test.keep');
    for (const n of [300, 400, 500]) pool.release(await pool.tensor([n], `pool-test.${n}`));
    pool.limitBytes = live + 1024 + 2000 * 4;
    try {
      const big = await pool.tensor([2000], 'pool-test.big'); // fits only once the 4800 free bytes are destroyed
      expect(pool.freeBytes).toBe(0);
      expect(pool.heldBytes).toBeLessThanOrEqual(pool.limitBytes);
      pool.release(big);
      await expect(pool.tensor([2100], 'pool-test.too-big')).rejects.toThrow(/memory budget/);
    } finally {
      pool.limitBytes = undefined;
      pool.release(keep);
      pool.trim();
    }
  });
});

const cfg = parseModelConfig({
  model_type: 'bert', architectures: ['BertForSequenceClassification'], hidden_size: 32, num_attention_heads: 2,
  num_hidden_layers: 2, intermediate_size: 48, vocab_size: 40, hidden_act: 'gelu', num_labels: 1, id2label: { 0: 'LABEL_0' },
  label2id: { LABEL_0: 0 }, max_position_embeddings: 64, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0,
});

function randomBatch(B: number, L: number, r: () => number): PairBatch {
  const ids = new Int32Array(B * L);
  const mask = new Int32Array(B * L);
  const types = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    const len = b === 0 ? L : 2 + Math.floor(r() * (L - 2));
    for (let t = 0; t < len; t++) {
      ids[b * L + t] = 1 + Math.floor(r() * (cfg.vocabSize - 1));
      mask[b * L + t] = 1;
      types[b * L + t] = t >= len / 2 ? 1 : 0;
    }
  }
  return { input_ids: ids, attention_mask: mask, token_type_ids: types, batch: B, length: L, truncatedDocuments: 0, truncatedQueries: 0 };
}

describe('encoder workspace', () => {
  it('is allocated once for the largest batch; smaller and shorter batches reuse it and still match the reference', async () => {
    const rt = await gpu();
    const r = rng(99);
    const p32 = new Map(paramSpecs(cfg).map((s) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const ln = s.name.includes('LayerNorm.weight');
      return [s.name, Float32Array.from({ length: n }, () => (ln ? 1 + 0.2 * (r() - 0.5) : 0.3 * (r() - 0.5)))];
    }));
    const p64 = new Map([...p32].map(([k, v]) => [k, Float64Array.from(v)]));
    rt.pool.trim();
    const gm = await GpuModel.create(rt, cfg, p32);
    try {
      await gm.reserve(4, 40);
      const held: number[] = [];
      // the largest shape first (it fills every buffer), then smaller ones of other lengths and pair counts
      const shapes: [number, number][] = [[4, 40], [3, 11], [4, 27], [2, 40], [4, 9], [3, 33], [4, 17], [1, 5], [4, 26], [2, 13]];
      for (const [i, [B, L]] of shapes.entries()) {
        const batch = randomBatch(B, L, r);
        const labels = Float32Array.from({ length: B }, (_, j) => (j % 2 === 0 ? 1 : 0));
        const got = await gm.trainStep(batch, { loss: 'bce', labels, groupSize: 2, dropout: 0, seed: 0 });
        held.push(rt.pool.heldBytes);
        if (i === 2 || i === 7) {
          // a shape smaller than the buffers, after larger ones: logits and every gradient as the reference
          const ref = referenceForward(cfg, p64, batch);
          const grads = referenceBackward(cfg, p64, ref.cache, bceWithLogitsRef(ref.logits, labels).dLogits);
          const g = await gm.params.read('g');
          let gradErr = 0;
          for (const [name, want] of grads) if (!name.endsWith('attention.self.key.bias')) gradErr = Math.max(gradErr, relErr(g.get(name)!, want));
          console.log(`[workspace] ${B}×${L} after larger batches: logits ${relErr(got.logits, ref.logits).toExponential(2)}, grads ${gradErr.toExponential(2)}`);
          expect(relErr(got.logits, ref.logits)).toBeLessThan(TOL.parity.logitsRel);
          expect(gradErr).toBeLessThan(TOL.parity.gradRel);
        }
        await gm.params.zeroGrads();
        // validation-style scoring of another shape within the reserve adds nothing either
        await gm.score(randomBatch(Math.max(1, B - 1), L, r));
      }
      console.log(`[workspace] held bytes per step: ${held.join(', ')}`);
      // The workspace is one size from the first step on; what changes is per-batch scratch (ids, embedding-gradient
      // plans, reduction partials), kept at most one step after its last use. Ten shapes of one workspace each
      // would be several times the first step's figure.
      expect(Math.max(...held)).toBeLessThan(1.1 * held[0]);
    } finally {
      gm.release();
      rt.pool.trim();
    }
  });
});
