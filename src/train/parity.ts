// Parity with Hugging Face transformers on a dumped fixture folder (tests/fixtures/hf-parity/*): tokenisation,
// forward, both losses, backward, three gentle AdamW steps, and (when the folder has adamw_hard.*) six hard ones —
// large learning rate and weight decay, every gradient clipped — each compared with the dump. Used by
// `rerank-lab parity` and by the engine tests. `pass` is true only when every figure of the report is within its
// bound (TOL.parity).
//
// Per-tensor error = max |ours − theirs| / max |theirs|, then the max over tensors (the measure).

import type { GpuRuntime } from '../gpu/runtime.ts';
import { TOL, relErr } from '../kernels/tolerances.ts';
import type { HfModel } from '../model/hf-folder.ts';
import type { PairBatch } from '../model/tokenize.ts';
import { GpuModel } from './gpu-model.ts';

export interface ParityFixture {
  model: HfModel;
  batch: {
    queries: string[];
    documents: string[];
    labels: number[];
    group_size: number;
    max_length: number;
    input_ids: number[][];
    attention_mask: number[][];
    token_type_ids: number[][];
  };
  expected: {
    logits: number[];
    loss_bce: number;
    loss_listwise: number;
    adamw: { lr: number; betas: [number, number]; eps: number; weight_decay: number; steps: { lr: number; loss_bce: number }[] };
    logits_after_adamw: number[];
  };
  gradsBce: Map<string, Float64Array>;
  gradsListwise: Map<string, Float64Array>;
  afterAdamw: Map<string, Float64Array>;
  /** tests/python/dump_adamw_fixture.py's output, when the folder has it. */
  adamwHard?: { expected: AdamwHardExpected; after: Map<string, Float64Array> };
}

/** adamw_hard.json: AdamW as transformers' Trainer runs it (decay groups, clip_grad_norm_), float64. */
export interface AdamwHardExpected {
  betas: [number, number];
  eps: number;
  weight_decay: number;
  max_grad_norm: number;
  /** Per step: the learning rate, the BCE loss before it, the global gradient norm before clipping. */
  steps: { lr: number; loss_bce: number; grad_norm: number; clip_coef: number }[];
  logits_after: number[];
}

export interface ParityReport {
  ids_equal: boolean;
  logits_max_rel_err: number;
  loss_bce_abs_err: number;
  loss_listwise_abs_err: number;
  grads_bce_max_rel_err: number;
  grads_listwise_max_rel_err: number;
  after_adamw_max_rel_err: number;
  logits_after_adamw_max_rel_err: number;
  adamw_step_losses_max_abs_err: number;
  /** The hard AdamW run (absent when the fixture has no adamw_hard.*): per-step BCE losses, gradient norms before
   * clipping (relative), parameters and logits after the last step. */
  adamw_hard_step_losses_max_abs_err?: number;
  adamw_hard_grad_norm_max_rel_err?: number;
  after_adamw_hard_max_rel_err?: number;
  logits_after_adamw_hard_max_rel_err?: number;
  /** The figures over their bound (empty when pass). */
  failed: string[];
  /** The tensor with the largest error in each comparison, to say where to look. */
  worst: Record<string, string>;
  /** Gradient tensors that are zero in exact arithmetic (compared against the largest gradient instead). */
  zero_gradient_tensors: string[];
  adapter: string;
  pass: boolean;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * The max per-tensor error over every tensor of `want`, and the name of the worst.
 * A reference tensor whose largest entry is below 1e-12 of the largest entry of all tensors is zero in exact
 * arithmetic (the dumps hold float64 rounding noise there: the attention key biases, whose gradient softmax's shift
 * invariance makes exactly 0, and the classifier bias under the listwise loss). Relative error is meaningless
 * for noise, so those are measured against the largest entry of all tensors, and listed in `zeroTensors`.
 */
function compareMaps(got: Map<string, Float32Array>, want: Map<string, Float64Array>): { err: number; worst: string; zeroTensors: string[] } {
  let err = 0;
  let worst = '';
  const scale = Math.max(...[...want.values()].map(maxAbs));
  const zeroTensors: string[] = [];
  for (const [name, w] of want) {
    const g = got.get(name);
    if (!g) throw new Error(`parity: the engine has no parameter '${name}'`);
    const zero = maxAbs(w) < 1e-12 * scale;
    if (zero) zeroTensors.push(name);
    const e = zero ? maxAbsDiff(g, w) / scale : relErr(g, w);
    if (!(e <= err)) {
      err = e;
      worst = name;
    }
  }
  return { err, worst, zeroTensors };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function flat(rows: number[][]): number[] {
  return rows.flat();
}

function idsEqual(b: PairBatch, f: ParityFixture['batch']): boolean {
  const same = (a: Int32Array, rows: number[][]) => {
    const w = flat(rows);
    return a.length === w.length && a.every((v, i) => v === w[i]);
  };
  return b.batch === f.input_ids.length && same(b.input_ids, f.input_ids) && same(b.attention_mask, f.attention_mask) && same(b.token_type_ids, f.token_type_ids);
}

export async function runParity(rt: GpuRuntime, fx: ParityFixture): Promise<ParityReport> {
  const { batch, expected } = fx;
  const tokens = fx.model.tokenizer.encodePairs(batch.queries, batch.documents, { maxLength: batch.max_length });
  const ids_equal = idsEqual(tokens, batch);
  const worst: Record<string, string> = {};
  const gm = await GpuModel.create(rt, fx.model.config, fx.model.params);
  let released = false;
  try {
    const labels = Float32Array.from(batch.labels);
    // forward + BCE backward
    const bce = await gm.trainStep(tokens, { loss: 'bce', labels, groupSize: batch.group_size, dropout: 0, seed: 0 });
    const logits_max_rel_err = relErr(bce.logits, expected.logits);
    const gB = compareMaps(await gm.params.read('g'), fx.gradsBce);
    worst.grads_bce = gB.worst;
    await gm.params.zeroGrads();
    // listwise backward
    const lw = await gm.trainStep(tokens, { loss: 'listwise', labels, groupSize: batch.group_size, dropout: 0, seed: 0 });
    const gL = compareMaps(await gm.params.read('g'), fx.gradsListwise);
    worst.grads_listwise = gL.worst;
    await gm.params.zeroGrads();
    // three AdamW steps on the BCE loss, with the fixture's learning rates
    const a = expected.adamw;
    const opt = await gm.optimizer({ beta1: a.betas[0], beta2: a.betas[1], eps: a.eps, weightDecay: a.weight_decay, maxGradNorm: undefined });
    let stepLossErr = 0;
    for (const s of a.steps) {
      const r = await gm.trainStep(tokens, { loss: 'bce', labels, groupSize: batch.group_size, dropout: 0, seed: 0 });
      stepLossErr = Math.max(stepLossErr, Math.abs(r.loss - s.loss_bce));
      await opt.update(s.lr);
    }
    const pA = compareMaps(await gm.params.read('p'), fx.afterAdamw);
    worst.after_adamw = pA.worst;
    const after = await gm.score(tokens);
    opt.release();
    gm.release();
    released = true;
    const hard = fx.adamwHard ? await runAdamwHard(rt, fx, tokens) : undefined;
    if (hard) worst.after_adamw_hard = hard.worst;
    const report: ParityReport = {
      ids_equal,
      logits_max_rel_err,
      loss_bce_abs_err: Math.abs(bce.loss - expected.loss_bce),
      loss_listwise_abs_err: Math.abs(lw.loss - expected.loss_listwise),
      grads_bce_max_rel_err: gB.err,
      grads_listwise_max_rel_err: gL.err,
      after_adamw_max_rel_err: pA.err,
      logits_after_adamw_max_rel_err: relErr(after, expected.logits_after_adamw),
      adamw_step_losses_max_abs_err: stepLossErr,
      ...(hard && {
        adamw_hard_step_losses_max_abs_err: hard.stepLossErr,
        adamw_hard_grad_norm_max_rel_err: hard.normErr,
        after_adamw_hard_max_rel_err: hard.paramsErr,
        logits_after_adamw_hard_max_rel_err: hard.logitsErr,
      }),
      failed: [],
      worst,
      zero_gradient_tensors: [...new Set([...gB.zeroTensors, ...gL.zeroTensors])],
      adapter: rt.info.name,
      pass: false,
    };
    report.failed = failedFigures(report);
    report.pass = report.failed.length === 0;
    return report;
  } finally {
    if (!released) gm.release();
  }
}

/** Each figure of a report with the bound it must meet: `pass` needs every one (a figure that is absent is skipped;
 * NaN fails). */
export function parityBounds(): Record<string, number> {
  const t = TOL.parity;
  return {
    logits_max_rel_err: t.logitsRel,
    loss_bce_abs_err: t.lossAbs,
    loss_listwise_abs_err: t.lossAbs,
    grads_bce_max_rel_err: t.gradRel,
    grads_listwise_max_rel_err: t.gradRel,
    after_adamw_max_rel_err: t.adamwRel,
    logits_after_adamw_max_rel_err: t.logitsAfterAdamwRel,
    adamw_step_losses_max_abs_err: t.lossAbs,
    adamw_hard_step_losses_max_abs_err: t.hardLossAbs,
    adamw_hard_grad_norm_max_rel_err: t.hardNormRel,
    after_adamw_hard_max_rel_err: t.hardAdamwRel,
    logits_after_adamw_hard_max_rel_err: t.hardLogitsRel,
  };
}

/** The names of the figures over their bound ("ids_equal" when the token ids differ). */
export function failedFigures(r: ParityReport): string[] {
  const failed = r.ids_equal ? [] : ['ids_equal'];
  const figures = r as unknown as Record<string, number | undefined>;
  for (const [name, bound] of Object.entries(parityBounds())) {
    const v = figures[name];
    if (v !== undefined && !(v <= bound)) failed.push(name);
  }
  return failed;
}

/**
 * The hard AdamW run on a fresh copy of the fixture's weights: per step, BCE forward/backward, then one update that
 * clips to max_grad_norm, with the dump's learning rate. Compares the loss before each step, the gradient norm
 * before clipping (what clip_grad_norm_ returns), and the parameters and logits after the last step.
 */
async function runAdamwHard(rt: GpuRuntime, fx: ParityFixture, tokens: PairBatch): Promise<{ stepLossErr: number; normErr: number; paramsErr: number; logitsErr: number; worst: string }> {
  const h = fx.adamwHard!.expected;
  const labels = Float32Array.from(fx.batch.labels);
  const gm = await GpuModel.create(rt, fx.model.config, fx.model.params);
  try {
    const opt = await gm.optimizer({ beta1: h.betas[0], beta2: h.betas[1], eps: h.eps, weightDecay: h.weight_decay, maxGradNorm: h.max_grad_norm });
    let stepLossErr = 0;
    let normErr = 0;
    for (const s of h.steps) {
      const r = await gm.trainStep(tokens, { loss: 'bce', labels, groupSize: fx.batch.group_size, dropout: 0, seed: 0, readLogits: false });
      stepLossErr = Math.max(stepLossErr, Math.abs(r.loss - s.loss_bce));
      const u = await opt.update(s.lr);
      const e = Math.abs(u.gradNorm - s.grad_norm) / s.grad_norm;
      normErr = Number.isNaN(e) ? Infinity : Math.max(normErr, e);
    }
    const p = compareMaps(await gm.params.read('p'), fx.adamwHard!.after);
    const logitsErr = relErr(await gm.score(tokens), h.logits_after);
    opt.release();
    return { stepLossErr, normErr, paramsErr: p.err, logitsErr, worst: p.worst };
  } finally {
    gm.release();
  }
}
