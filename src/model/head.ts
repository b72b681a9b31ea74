// A two-label classification head (softmax over [not relevant, relevant], as some rerankers and NLI-style models
// ship) becomes the one-logit head the engine trains: logit = z1 − z0, i.e. weight w1 − w0 and bias b1 − b0.
// softmax([z0, z1])[1] = sigmoid(z1 − z0), so the collapsed model with a sigmoid gives exactly the old probability of
// label 1 and ranks every pair in the same order.

import type { ModelConfig } from './config.ts';
import { modelParamNames } from './params.ts';
import type { FloatTensor } from './safetensors.ts';

export class HeadError extends Error {
  override name = 'HeadError';
}

/** The label the single logit stands for after collapsing (id2label[1], or LABEL_1). */
function positiveLabel(cfg: ModelConfig): string {
  const id2label = cfg.raw.id2label as Record<string, unknown> | undefined;
  const l = id2label?.['1'];
  return typeof l === 'string' && l ? l : 'LABEL_1';
}

/**
 * For num_labels = 2: the config and tensors of the equivalent one-logit model and a note for the user; for
 * num_labels = 1 (or a new head) the inputs unchanged; more labels are refused (no order of scores to keep).
 */
export function collapseHead(cfg: ModelConfig, tensors: ReadonlyMap<string, FloatTensor>): { config: ModelConfig; tensors: ReadonlyMap<string, FloatTensor>; note?: string } {
  if (cfg.numLabels === 1 || cfg.headIsNew) return { config: cfg, tensors };
  if (cfg.numLabels !== 2) {
    throw new HeadError(
      `the classifier has ${cfg.numLabels} labels (${JSON.stringify(cfg.raw.id2label ?? {})}); a reranker needs one relevance score per pair: ` +
        'use a cross-encoder with num_labels 1 (or 2, relevant / not relevant), or the encoder alone (BertModel / XLMRobertaModel) to start a new head',
    );
  }
  const { outW, outB } = modelParamNames(cfg).head;
  const w = tensors.get(outW);
  const b = tensors.get(outB);
  if (!w || !b) throw new HeadError(`num_labels is 2 but the checkpoint has no ${!w ? outW : outB}`);
  const H = cfg.hidden;
  if (w.data.length !== 2 * H || b.data.length !== 2) throw new HeadError(`num_labels is 2 but ${outW} has shape [${w.shape}] and ${outB} [${b.shape}] (expected [2,${H}] and [2])`);
  const w1 = new Float32Array(H);
  for (let i = 0; i < H; i++) w1[i] = w.data[H + i] - w.data[i];
  const b1 = Float32Array.of(b.data[1] - b.data[0]);
  const out = new Map(tensors);
  out.set(outW, { dtype: w.dtype, shape: [1, H], data: w1 });
  out.set(outB, { dtype: b.dtype, shape: [1], data: b1 });
  const label = positiveLabel(cfg);
  const raw: Record<string, unknown> = { ...cfg.raw, num_labels: 1, id2label: { '0': label }, label2id: { [label]: 0 } };
  delete raw.problem_type; // 'single_label_classification' with one label would make transformers' loss fail
  const config: ModelConfig = { ...cfg, numLabels: 1, raw };
  return {
    config,
    tensors: out,
    note: `the classifier had 2 labels (a softmax pair); it is now one logit = logit[${label}] − logit[other] (weights w1 − w0, bias b1 − b0): sigmoid of it equals the old softmax probability of "${label}", and every ranking is unchanged`,
  };
}
