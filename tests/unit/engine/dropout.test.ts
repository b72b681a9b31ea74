// Training-mode dropout on the GPU against the float64 reference with the same masks: hidden dropout (embeddings,
// attention output, FFN output), attention-probability dropout inside the fused kernel, and the classification
// head's dropout in Hugging Face's placement (BERT: the pooled output; XLM-R: before dense and before out_proj).
// Forward logits, loss and every gradient, on ragged batches of both architectures.
import { describe, expect, it } from 'vitest';
import { TOL, relErr } from '../../../src/kernels/tolerances.ts';
import { parseModelConfig } from '../../../src/model/config.ts';
import type { DropoutRates } from '../../../src/model/dropout.ts';
import { paramSpecs } from '../../../src/model/params.ts';
import { referenceBackward, referenceForward } from '../../../src/model/reference/index.ts';
import type { PairBatch } from '../../../src/model/tokenize.ts';
import { GpuModel } from '../../../src/train/gpu-model.ts';
import { bceWithLogitsRef } from '../../../src/model/reference/losses.ts';
import { gpu, rng } from '../helpers/gpu.ts';

const shapes = [
  { arch: 'bert', hidden: 32, heads: 2, layers: 2, intermediate: 40, vocab: 30, pairs: 4, length: 19 },
  { arch: 'xlm-roberta', hidden: 24, heads: 3, layers: 1, intermediate: 36, vocab: 27, pairs: 5, length: 14 },
] as const;

function config(s: (typeof shapes)[number]) {
  const base = {
    hidden_size: s.hidden, num_attention_heads: s.heads, num_hidden_layers: s.layers, intermediate_size: s.intermediate,
    vocab_size: s.vocab, hidden_act: 'gelu', num_labels: 1, id2label: { 0: 'LABEL_0' }, label2id: { LABEL_0: 0 },
  };
  return parseModelConfig(
    s.arch === 'bert'
      ? { ...base, model_type: 'bert', architectures: ['BertForSequenceClassification'], max_position_embeddings: 64, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0 }
      : { ...base, model_type: 'xlm-roberta', architectures: ['XLMRobertaForSequenceClassification'], max_position_embeddings: 66, type_vocab_size: 1, layer_norm_eps: 1e-5, pad_token_id: 1 },
  );
}

function batchFor(s: (typeof shapes)[number], r: () => number, padId: number): PairBatch {
  const { pairs: B, length: L } = s;
  const ids = new Int32Array(B * L).fill(padId);
  const mask = new Int32Array(B * L);
  const types = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    const len = b === 0 ? L : 3 + Math.floor(r() * (L - 3));
    for (let t = 0; t < len; t++) {
      ids[b * L + t] = 2 + Math.floor(r() * (s.vocab - 2));
      mask[b * L + t] = 1;
      types[b * L + t] = s.arch === 'bert' && t >= len / 2 ? 1 : 0;
    }
  }
  return { input_ids: ids, attention_mask: mask, token_type_ids: types, batch: B, length: L, truncatedDocuments: 0, truncatedQueries: 0 };
}

const rates: DropoutRates = { hidden: 0.2, attention: 0.25, classifier: 0.3 };

describe('dropout on the GPU vs the float64 reference with the same masks', () => {
  for (const s of shapes) {
    it(`${s.arch}: hidden ${rates.hidden}, attention ${rates.attention}, classifier ${rates.classifier}; ${s.pairs}×${s.length} ragged`, async () => {
      const rt = await gpu();
      const cfg = config(s);
      const r = rng(s.hidden * 13 + s.length);
      const p32 = new Map<string, Float32Array>();
      for (const spec of paramSpecs(cfg)) {
        const n = spec.shape.reduce((a, b) => a * b, 1);
        const ln = spec.name.includes('LayerNorm.weight');
        p32.set(spec.name, Float32Array.from({ length: n }, () => (ln ? 1 + 0.2 * (r() - 0.5) : 0.4 * (r() - 0.5))));
      }
      const p64 = new Map([...p32].map(([k, v]) => [k, Float64Array.from(v)]));
      const batch = batchFor(s, r, cfg.padTokenId);
      const labels = Float32Array.from({ length: s.pairs }, (_, i) => (i % 2 === 0 ? 1 : 0));
      const gm = await GpuModel.create(rt, cfg, p32);
      try {
        const seed = 4242;
        const got = await gm.trainStep(batch, {
          loss: 'bce', labels, groupSize: 2, seed, dropout: rates.hidden, attentionDropout: rates.attention, classifierDropout: rates.classifier,
        });
        const ref = referenceForward(cfg, p64, batch, { rates, seed });
        const lr = bceWithLogitsRef(ref.logits, labels);
        const grads = referenceBackward(cfg, p64, ref.cache, lr.dLogits);
        const g = await gm.params.read('g');
        let gradErr = 0;
        let worst = '';
        for (const [name, want] of grads) {
          if (name.endsWith('attention.self.key.bias')) continue; // exactly zero on the GPU, rounding noise in f64
          const e = relErr(g.get(name)!, want);
          if (e > gradErr) [gradErr, worst] = [e, name];
        }
        const noDrop = referenceForward(cfg, p64, batch);
        console.log(`[dropout ${s.arch}] logits ${relErr(got.logits, ref.logits).toExponential(2)}, loss ${Math.abs(got.loss - lr.loss).toExponential(2)}, grads ${gradErr.toExponential(2)} (${worst}); without dropout the logits differ by ${relErr(got.logits, noDrop.logits).toExponential(2)}`);
        expect(relErr(got.logits, ref.logits)).toBeLessThan(TOL.parity.logitsRel);
        expect(Math.abs(got.loss - lr.loss)).toBeLessThan(TOL.parity.lossAbs);
        expect(gradErr).toBeLessThan(TOL.parity.gradRel);
        expect(relErr(got.logits, noDrop.logits)).toBeGreaterThan(1e-2); // the masks were applied
      } finally {
        gm.release();
      }
    });
  }
});
