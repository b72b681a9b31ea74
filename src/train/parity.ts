// Parity with Hugging Face transformers on a dumped fixture folder (tests/fixtures/hf-parity/*): tokenisation,
// forward, both losses, backward, and three AdamW steps, each compared with the dump. Used by `rerank-lab parity`
// and by the engine tests.
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
      worst,
      zero_gradient_tensors: [...new Set([...gB.zeroTensors, ...gL.zeroTensors])],
      adapter: rt.info.name,
      pass: false,
    };
    const t = TOL.parity;
    report.pass =
      ids_equal &&
      report.logits_max_rel_err <= t.logitsRel &&
      report.loss_bce_abs_err <= t.lossAbs &&
      report.loss_listwise_abs_err <= t.lossAbs &&
      report.grads_bce_max_rel_err <= t.gradRel &&
      report.grads_listwise_max_rel_err <= t.gradRel &&
      report.after_adamw_max_rel_err <= t.adamwRel;
    return report;
  } finally {
    gm.release();
  }
}
