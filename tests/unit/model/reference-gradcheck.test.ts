// Finite-difference check of the float64 reference on randomly configured tiny models whose shapes differ from the
// fixtures (hidden 24, 3 heads, 3 layers, length 11, intermediate 40; and an XLM-R layout), with padding, two token
// types and both losses, so no part of the reference assumes hidden 32, 4 heads, 2 layers or length 48.
import { describe, expect, it } from 'vitest';
import { parseModelConfig, type ModelConfig } from '../../../src/model/config.ts';
import { paramSpecs } from '../../../src/model/params.ts';
import { erf, referenceBackward, referenceForward, type ReferenceBatch, type ReferenceDropout } from '../../../src/model/reference/index.ts';
import { bceWithLogitsRef, listwiseSoftmaxRef } from '../../../src/model/reference/losses.ts';
import { rng } from '../helpers/gpu.ts';

function randomModel(cfg: ModelConfig, r: () => number): Map<string, Float64Array> {
  const m = new Map<string, Float64Array>();
  for (const s of paramSpecs(cfg)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const isLnWeight = s.name.includes('LayerNorm.weight');
    m.set(s.name, Float64Array.from({ length: n }, () => (isLnWeight ? 1 + 0.3 * (r() - 0.5) : 0.5 * (r() - 0.5))));
  }
  return m;
}

function randomBatch(cfg: ModelConfig, B: number, L: number, r: () => number): ReferenceBatch {
  const ids = new Int32Array(B * L);
  const mask = new Int32Array(B * L);
  const types = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    const len = b === 0 ? L : 3 + Math.floor(r() * (L - 3)); // row 0 full, others padded
    for (let t = 0; t < L; t++) {
      const i = b * L + t;
      if (t < len) {
        let id = Math.floor(r() * cfg.vocabSize);
        if (id === cfg.padTokenId) id = (id + 1) % cfg.vocabSize;
        ids[i] = id;
        mask[i] = 1;
        types[i] = cfg.typeVocabSize > 1 && t >= len / 2 ? 1 : 0;
      } else ids[i] = cfg.padTokenId;
    }
  }
  return { input_ids: ids, attention_mask: mask, token_type_ids: types, batch: B, length: L };
}

const CONFIGS = {
  bert: { model_type: 'bert', architectures: ['BertForSequenceClassification'], hidden_size: 24, num_attention_heads: 3, num_hidden_layers: 3, intermediate_size: 40, vocab_size: 37, max_position_embeddings: 16, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0, hidden_act: 'gelu', id2label: { 0: 'LABEL_0' } },
  'xlm-roberta': { model_type: 'xlm-roberta', architectures: ['XLMRobertaForSequenceClassification'], hidden_size: 20, num_attention_heads: 5, num_hidden_layers: 2, intermediate_size: 36, vocab_size: 29, max_position_embeddings: 15, type_vocab_size: 1, layer_norm_eps: 1e-5, pad_token_id: 1, hidden_act: 'gelu', id2label: { 0: 'LABEL_0' } },
};

// Train-mode dropout at every site (hidden, attention probabilities, classifier): the masks depend on the seed only,
// so the dropped forward is differentiable and its backward must match its own finite differences too.
const DROPOUT: ReferenceDropout = { rates: { hidden: 0.2, attention: 0.3, classifier: 0.25 }, seed: 99 };

describe.each(
  (Object.keys(CONFIGS) as (keyof typeof CONFIGS)[]).flatMap((arch) => [
    [arch, 'no dropout', undefined],
    [arch, 'dropout on', DROPOUT],
  ] as const),
)('finite-difference gradient check (%s, odd shapes, %s)', (arch, _label, dropout) => {
  it('every parameter tensor: analytic vs central differences on sampled entries', () => {
    const cfg = parseModelConfig(CONFIGS[arch]);
    const r = rng(arch === 'bert' ? 7 : 11);
    const params = randomModel(cfg, r);
    const L = arch === 'bert' ? 11 : 13;
    const batch = randomBatch(cfg, 6, L, r);
    const labels = [1, 0, 0, 1, 0, 0];
    // A smooth scalar mixing both losses so both dLogits paths are exercised.
    const lossOf = (logits: Float64Array) => bceWithLogitsRef(logits, labels).loss + 0.7 * listwiseSoftmaxRef(logits, 3).loss;
    const f = referenceForward(cfg, params, batch, dropout);
    const b = bceWithLogitsRef(f.logits, labels).dLogits;
    const l = listwiseSoftmaxRef(f.logits, 3).dLogits;
    const grads = referenceBackward(cfg, params, f.cache, b.map((x, i) => x + 0.7 * l[i]));

    const h = 1e-5;
    let worst = 0;
    let worstName = '';
    let checked = 0;
    for (const [name, p] of params) {
      const g = grads.get(name)!;
      // Sample entries: the largest-gradient entry plus a few random ones.
      let iMax = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[iMax])) iMax = i;
      const idx = [iMax, ...Array.from({ length: 3 }, () => Math.floor(r() * p.length))];
      for (const i of idx) {
        const old = p[i];
        p[i] = old + h;
        const up = lossOf(referenceForward(cfg, params, batch, dropout).logits);
        p[i] = old - h;
        const down = lossOf(referenceForward(cfg, params, batch, dropout).logits);
        p[i] = old;
        const fd = (up - down) / (2 * h);
        const err = Math.abs(fd - g[i]) / Math.max(1e-4, Math.abs(fd) + Math.abs(g[i]));
        checked++;
        if (err > worst) [worst, worstName] = [err, `${name}[${i}] fd ${fd} analytic ${g[i]}`];
      }
    }
    console.log(`[gradcheck ${arch}${dropout ? ' dropout' : ''}] hidden ${cfg.hidden}, heads ${cfg.heads}, layers ${cfg.layers}, length ${L}, intermediate ${cfg.intermediate}: ${checked} entries, worst rel err ${worst.toExponential(2)} (${worstName})`);
    expect(worst).toBeLessThan(1e-6);
  });
});

describe('reference building blocks', () => {
  it('erf matches known values to a few ulp (the one erf: the model and the GPU erf test use it)', () => {
    // Values from mpmath at 30 digits (Python's math.erf agrees to the last bit).
    const known: [number, number][] = [
      [0.1, 0.112462916018284892203275071744], [0.5, 0.520499877813046537682746653892], [1, 0.842700792949714869341220635083],
      [2, 0.995322265018952734162069256367], [2.9, 0.999958902121900541010592930657], [3.1, 0.999988351342632800554674163407],
      [4, 0.999999984582742099719981147840], [-1.5, -0.966105146475310727066976261646],
      [2.5, 0.99959304798255504106043578426], [5, 0.99999999999846254020557196515],
    ];
    for (const [x, y] of known) expect(Math.abs(erf(x) - y)).toBeLessThan(1e-15);
  });

  it('padding positions and the padding rows of the embedding tables get no gradient', () => {
    const cfg = parseModelConfig(CONFIGS['xlm-roberta']);
    const r = rng(3);
    const params = randomModel(cfg, r);
    const batch = randomBatch(cfg, 3, 9, r);
    const f = referenceForward(cfg, params, batch);
    const g = referenceBackward(cfg, params, f.cache, [0.3, -0.2, 0.1]);
    const H = cfg.hidden;
    const pad = cfg.padTokenId;
    expect(g.get('roberta.embeddings.word_embeddings.weight')!.subarray(pad * H, pad * H + H).every((x) => x === 0)).toBe(true);
    expect(g.get('roberta.embeddings.position_embeddings.weight')!.subarray(pad * H, pad * H + H).every((x) => x === 0)).toBe(true);
    // Logits do not depend on what sits at padded positions.
    const changed = { ...batch, input_ids: batch.input_ids.map((id, i) => (batch.attention_mask[i] ? id : 5)) };
    const mask = batch.attention_mask;
    const again = referenceForward(cfg, params, { ...changed, attention_mask: mask });
    // Position ids for changed padding differ (they are no longer pad), but masked keys still contribute nothing
    // to the first token.
    expect(Math.max(...again.logits.map((x, i) => Math.abs(x - f.logits[i])))).toBeLessThan(1e-12);
  });
});
