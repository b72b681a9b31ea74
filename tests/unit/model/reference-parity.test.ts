// The float64 reference against transformers run in float64 (tests/fixtures/hf-parity): logits, both losses, every
// gradient, and weights after three AdamW steps (lr from the linear warmup/decay schedule; step 0 has lr 0); then six
// hard AdamW steps with every gradient clipped (tests/python/dump_adamw_fixture.py: Trainer's decay groups,
// clip_grad_norm_, lr up to 2e-2, weight decay 0.5), where a wrong decay group moves weights by percents.
import { describe, expect, it } from 'vitest';
import { hasWeightDecay } from '../../../src/model/params.ts';
import { referenceBackward, referenceForward, toFloat64Params, type ReferenceBatch } from '../../../src/model/reference/index.ts';
import { adamwStepRef, clipGradNormRef, createAdamWRefState } from '../../../src/model/reference/adamw.ts';
import { bceWithLogitsRef, listwiseSoftmaxRef } from '../../../src/model/reference/losses.ts';
import { lrAt } from '../../../src/train/schedule.ts';
import { FIXTURES, loadFixture, relErr, type FixtureBatch } from './fixture.ts';

const TOL = 1e-9;

function fixtureBatch(b: FixtureBatch): ReferenceBatch {
  const flat = (x: number[][]) => Int32Array.from(x.flat());
  return { input_ids: flat(b.input_ids), attention_mask: flat(b.attention_mask), token_type_ids: flat(b.token_type_ids), batch: b.input_ids.length, length: b.input_ids[0].length };
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * Max over tensors of max|a−b| / max|b|. A tensor whose expected values are all at rounding level (the attention
 * key bias: adding a constant to every score of a softmax row changes nothing, so its true gradient is exactly 0 and
 * both sides hold ~1e-19 noise) cannot be compared relatively; it is listed in `zero` and compared against the
 * largest gradient of the whole model instead.
 */
function maxErrOver(got: Map<string, Float64Array>, want: Map<string, Float64Array>): { max: number; worst: string; zero: string[]; zeroErr: number } {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  const scale = Math.max(...[...want.values()].map(maxAbs));
  let max = 0;
  let worst = '';
  let zeroErr = 0;
  const zero: string[] = [];
  for (const [k, w] of want) {
    if (maxAbs(w) < 1e-12 * scale) {
      zero.push(k);
      zeroErr = Math.max(zeroErr, relErr(got.get(k)!, w) * maxAbs(w) / scale);
      continue;
    }
    const e = relErr(got.get(k)!, w);
    if (e > max) [max, worst] = [e, k];
  }
  return { max, worst, zero, zeroErr };
}

describe.each(FIXTURES)('float64 reference vs transformers (%s)', (name) => {
  it('matches logits, losses, gradients and three AdamW steps', async () => {
    const fx = await loadFixture(name);
    const cfg = fx.model.config;
    const batch = fixtureBatch(fx.batch);
    const params = toFloat64Params(fx.model.params);
    const { logits, cache } = referenceForward(cfg, params, batch);
    const logitsErr = relErr(logits, fx.expected.logits);

    const bce = bceWithLogitsRef(logits, fx.batch.labels);
    const lw = listwiseSoftmaxRef(logits, fx.expected.group_size);
    const gBce = maxErrOver(referenceBackward(cfg, params, cache, bce.dLogits), fx.f64('grads_bce'));
    const gLw = maxErrOver(referenceBackward(cfg, params, cache, lw.dLogits), fx.f64('grads_listwise'));

    // Three AdamW steps on the BCE loss, re-running forward/backward at each step's weights.
    const a = fx.expected.adamw;
    const state = createAdamWRefState(params);
    const lossPerStep: number[] = [];
    for (let s = 0; s < a.steps.length; s++) {
      const f = referenceForward(cfg, params, batch);
      const l = bceWithLogitsRef(f.logits, fx.batch.labels);
      lossPerStep.push(l.loss);
      const grads = referenceBackward(cfg, params, f.cache, l.dLogits);
      const lr = lrAt(s, { baseLr: a.lr, warmupSteps: 1, totalSteps: 4 });
      expect(lr).toBeCloseTo(a.steps[s].lr, 15);
      adamwStepRef(params, grads, state, { lr, beta1: a.betas[0], beta2: a.betas[1], eps: a.eps, weightDecay: a.weight_decay }, hasWeightDecay);
    }
    const after = maxErrOver(params, fx.f64('after_adamw'));
    const logitsAfterErr = relErr(referenceForward(cfg, params, batch).logits, fx.expected.logits_after_adamw);
    const stepLossErr = Math.max(...lossPerStep.map((l, i) => Math.abs(l - a.steps[i].loss_bce)));

    const figures = {
      logits_max_rel_err: logitsErr,
      loss_bce_abs_err: Math.abs(bce.loss - fx.expected.loss_bce),
      loss_listwise_abs_err: Math.abs(lw.loss - fx.expected.loss_listwise),
      grads_bce_max_rel_err: gBce.max,
      grads_listwise_max_rel_err: gLw.max,
      after_adamw_max_rel_err: after.max,
      logits_after_adamw_rel_err: logitsAfterErr,
      step_loss_abs_err: stepLossErr,
      zero_grads_err_vs_largest_grad: Math.max(gBce.zeroErr, gLw.zeroErr),
    };
    // Only these may sit at rounding level, because their true gradient is exactly 0: the key biases (softmax over
    // keys ignores a shift shared by a row) and, under the listwise loss, the classifier's output bias (softmax over
    // a group ignores a shift shared by the group).
    for (const z of gBce.zero) expect(z).toMatch(/attention\.self\.key\.bias$/);
    for (const z of gLw.zero) expect(z).toMatch(/attention\.self\.key\.bias$|^classifier\.(out_proj\.)?bias$/);
    expect(after.zero).toEqual([]);
    console.log(`[reference parity ${name}] ${JSON.stringify(figures)} (worst grads: ${gBce.worst}, ${gLw.worst}; worst after AdamW: ${after.worst}; exactly-zero grads compared absolutely: bce ${gBce.zero.join(', ')}; listwise ${gLw.zero.join(', ')})`);
    for (const [k, v] of Object.entries(figures)) expect(v, k).toBeLessThan(TOL);
  });
});

describe.each(FIXTURES)('float64 reference vs transformers, hard AdamW with clipping (%s)', (name) => {
  it('matches the loss and gradient norm of every step and the weights and logits after six clipped steps', async () => {
    const fx = await loadFixture(name);
    const cfg = fx.model.config;
    const batch = fixtureBatch(fx.batch);
    const params = toFloat64Params(fx.model.params);
    const h = fx.adamwHard();
    const state = createAdamWRefState(params);
    let lossErr = 0;
    let normErr = 0;
    for (const s of h.steps) {
      const f = referenceForward(cfg, params, batch);
      const l = bceWithLogitsRef(f.logits, fx.batch.labels);
      lossErr = Math.max(lossErr, Math.abs(l.loss - s.loss_bce));
      const grads = referenceBackward(cfg, params, f.cache, l.dLogits);
      const norm = clipGradNormRef(grads, h.max_grad_norm);
      expect(norm, 'every step clips').toBeGreaterThan(2 * h.max_grad_norm);
      normErr = Math.max(normErr, Math.abs(norm - s.grad_norm) / s.grad_norm);
      adamwStepRef(params, grads, state, { lr: s.lr, beta1: h.betas[0], beta2: h.betas[1], eps: h.eps, weightDecay: h.weight_decay }, hasWeightDecay);
    }
    const after = maxErrOver(params, fx.f64('after_adamw_hard'));
    const figures = {
      step_loss_abs_err: lossErr,
      grad_norm_rel_err: normErr,
      after_adamw_hard_max_rel_err: after.max,
      logits_after_rel_err: relErr(referenceForward(cfg, params, batch).logits, h.logits_after),
    };
    console.log(`[reference hard AdamW ${name}] ${JSON.stringify(figures)} (worst: ${after.worst})`);
    for (const [k, v] of Object.entries(figures)) expect(v, k).toBeLessThan(TOL);
  });
});
