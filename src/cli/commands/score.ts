// `rerank-lab score --model DIR --pairs FILE [--max-length N]`: one JSON line per pair on stdout, in input order,
// {"query", "document", "logit", "score"}, where score is the folder's declared activation applied to the logit
// (sentence-transformers' keys; sigmoid when nothing is declared) — the number CrossEncoder(DIR).predict gives.
// Pairs are truncated as in training (document side first). Exit 0 only when every pair was scored.

import { GpuRuntime } from '../../gpu/runtime.ts';
import { applyActivation } from '../../model/activation.ts';
import { GpuModel } from '../../train/gpu-model.ts';
import { scorePairs } from '../../train/score.ts';
import { defineCommand, helpText, parseCommand } from '../args.ts';
import { loadModel, scoringMaxLength } from '../model-source.ts';
import { inputErrorExit, readJsonlFile } from '../read-jsonl.ts';
import { abortOnSigint, createProgressBar } from '../progress-bar.ts';

export const command = defineCommand({
  name: 'score',
  usage: '--model DIR --pairs FILE [--max-length N] [--batch N]',
  options: {
    model: { value: 'DIR|ID', help: 'a cross-encoder folder (any form the lab loads: tokenizer.json or vocab.txt / sentencepiece,\nsafetensors or pytorch_model.bin), or a hub id when online' },
    pairs: { value: 'FILE', help: 'JSONL, one {"query": str, "document": str} per line' },
    'max-length': { kind: 'positive', help: 'tokens per pair, document cut first', defaultText: "the folder's tokenizer_config.json\nmodel_max_length, i.e. the trained length of a Rerank Lab export; else the position table's limit" },
    batch: { kind: 'positive', default: 16, help: 'pairs per forward pass' },
  },
  footer: `Prints one JSON line per pair, in input order: {"query", "document", "logit", "score"}; score is the folder's
declared activation (config.json sentence_transformers.activation_fn) applied to the logit, sigmoid by default.`,
});

export interface PairLine {
  query: string;
  document: string;
}

export function checkPair(v: unknown): PairLine | string {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'expected an object {"query": str, "document": str}';
  const o = v as Record<string, unknown>;
  if (typeof o.query !== 'string') return 'field "query" must be a string';
  if (typeof o.document !== 'string') return 'field "document" must be a string';
  return { query: o.query, document: o.document };
}

/** `runtime`: tests pass one shared GPU runtime (its compiled pipelines are reused); otherwise one is made and destroyed. */
export async function run(argv: string[], deps: { runtime?: GpuRuntime } = {}): Promise<number> {
  const args = parseCommand(command, argv);
  if (typeof args === 'number') return args;
  const { values } = args;
  if (!values.model || !values.pairs) {
    console.error(`score needs --model and --pairs.\n\n${helpText(command)}`);
    return 2;
  }
  let pairs: PairLine[];
  try {
    // The command line's one JSON Lines reader (UTF-8, UTF-16 or GBK; bad lines printed with their numbers).
    const r = await readJsonlFile(values.pairs, checkPair, { verb: 'bad line' });
    // Nothing is scored while a line is bad: the output must line up with the input, one line per pair.
    if (r.errors.length) throw new RangeError(`${values.pairs}: ${r.errors.length} bad line(s); each line must be {"query": str, "document": str}. Nothing was scored.`);
    if (!r.items.length) throw new RangeError(`${values.pairs} has no pairs`);
    pairs = r.items;
  } catch (e) {
    return inputErrorExit(e);
  }

  const bar = createProgressBar();
  const model = await loadModel(values.model, 'model', bar.onProgress);
  bar.stop();
  let maxLength: number;
  try {
    maxLength = scoringMaxLength(model, values['max-length']);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  console.error(`model: ${model.config.architecture || model.config.modelType}; ${pairs.length} pair(s), max length ${maxLength}, score = ${model.activation}(logit)`);
  const rt = deps.runtime ?? (await GpuRuntime.create());
  const ac = abortOnSigint();
  let scored;
  try {
    const gm = await GpuModel.create(rt, model.config, model.params);
    scored = await scorePairs(gm, model.tokenizer, pairs.map((p) => ({ query: p.query, doc: p.document })), { maxLength, batchSize: values.batch, onProgress: bar.onProgress, signal: ac.signal });
    gm.release();
  } finally {
    bar.stop();
    if (!deps.runtime) rt.destroy();
  }
  const lines = scored.logits.map((logit, i) => JSON.stringify({ query: pairs[i].query, document: pairs[i].document, logit, score: applyActivation(model.activation, logit) }));
  process.stdout.write(lines.join('\n') + '\n');
  if (scored.truncatedDocuments) console.error(`${scored.truncatedDocuments} document(s) were cut to fit ${maxLength} tokens${scored.truncatedQueries ? `, ${scored.truncatedQueries} query(ies) too` : ''}`);
  const bad = scored.logits.filter((x) => !Number.isFinite(x)).length;
  if (bad) {
    console.error(`${bad} pair(s) scored NaN/Inf: the model's weights are broken`);
    return 1;
  }
  return 0;
}
