// A model whose tensors do not fit the adapter's binding limit is refused before training, naming the tensor and
// the limit; a batch longer than the model's positions is refused with what to change.
import { describe, expect, it } from 'vitest';
import { GpuLimitError } from '../../../src/gpu/errors.ts';
import { GpuModel } from '../../../src/train/gpu-model.ts';
import { gpu, withLimit } from '../helpers/gpu.ts';
import { loadFixture } from '../model/fixture.ts';

describe('adapter limits', () => {
  it('names the tensor that exceeds maxStorageBufferBindingSize', async () => {
    const rt = await gpu();
    const fx = await loadFixture('bert-tiny');
    // the word embeddings (vocab × hidden × 4 bytes) are larger than 16 KiB
    const err = await withLimit(rt, 'maxStorageBufferBindingSize', 16 * 1024, () =>
      GpuModel.create(rt, fx.model.config, fx.model.params).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect(err).toBeInstanceOf(GpuLimitError);
    expect(rt.pool.currentBytes).toBe(0); // what was allocated before the failing tensor was given back
    expect((err as Error).message).toMatch(/bert\.embeddings\.word_embeddings\.weight.*16\.0 KiB \(maxStorageBufferBindingSize\)/);
  });

  it('refuses a batch longer than the position table', async () => {
    const rt = await gpu();
    const fx = await loadFixture('bert-tiny');
    const gm = await GpuModel.create(rt, fx.model.config, fx.model.params);
    try {
      const L = fx.model.config.maxSequenceLength + 1;
      const batch = { input_ids: new Int32Array(L), attention_mask: new Int32Array(L).fill(1), token_type_ids: new Int32Array(L), batch: 1, length: L, truncatedDocuments: 0, truncatedQueries: 0 };
      await expect(gm.score(batch)).rejects.toThrow(/exceeds the model's \d+ positions; lower max_length/);
    } finally {
      gm.release();
    }
  });
});
