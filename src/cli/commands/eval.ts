// `rerank-lab eval --base DIR --tuned DIR --data val.jsonl [--candidates N] [--html report.html] [--csv report.csv]`:
// the page's Evaluate step from the command line, on realistic lists — each validation query reranks BM25's top N
// of the validation corpus plus its positives (src/eval/candidates.ts, as in training's validation) — with BM25's
// own figures beside as the floor, then the seed's per-case report (positive vs its hardest mined negative: scores,
// gap, labels, conclusions), printed as a table and written as HTML / CSV by the library the page uses
// (src/eval/compare.ts, report.ts, export.ts).

import { checkExample, type TrainExample } from '../../data/jsonl.ts';
import { buildRerankSet, DEFAULT_RERANK_DEPTH } from '../../eval/candidates.ts';
import { compareModels, rerankPairs } from '../../eval/compare.ts';
import { reportCsv, reportHtml } from '../../eval/export.ts';
import { reportText } from '../../eval/report-text.ts';
import { GpuRuntime } from '../../gpu/runtime.ts';
import type { HfModel } from '../../model/hf-folder.ts';
import { GpuModel } from '../../train/gpu-model.ts';
import { scorePairs } from '../../train/score.ts';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import { defineCommand, helpText, parseCommand } from '../args.ts';
import { loadModel, scoringMaxLength } from '../model-source.ts';
import { inputErrorExit, readJsonlFile } from '../read-jsonl.ts';
import { abortOnSigint, createProgressBar } from '../progress-bar.ts';

export const command = defineCommand({
  name: 'eval',
  usage: '--base DIR --tuned DIR --data val.jsonl [--candidates N] [--html report.html] [--csv report.csv]',
  options: {
    base: { value: 'DIR|ID', help: 'the model before fine-tuning' },
    tuned: { value: 'DIR', help: 'the fine-tuned model (leave out to report on the base model alone)' },
    data: { value: 'FILE', help: "validation set, FlagEmbedding JSONL {\"query\": str, \"pos\": [str], \"neg\": [str]}, e.g. mine's\n--val-out; its documents (positives and negatives) are the corpus BM25 searches" },
    candidates: { kind: 'positive', default: DEFAULT_RERANK_DEPTH, help: "BM25 candidates per query: each query reranks BM25's top N of the corpus plus its positives" },
    html: { value: 'FILE', help: 'also write the report as a self-contained HTML page' },
    csv: { value: 'FILE', help: 'also write the per-case report as CSV (UTF-8 with BOM, opens in spreadsheet programs)' },
    'max-length': { kind: 'positive', help: 'tokens per pair for both models', defaultText: "the fine-tuned folder's model_max_length, i.e. the\ntrained length; else the base folder's; else the position table's limit" },
    cases: { kind: 'positive', default: 30, help: 'cases shown in the terminal table (the files hold all)' },
  },
  footer: `Prints the reranking metrics (NDCG@10, MRR@10, Hit@1, Recall@10) of each model beside BM25's own order of the same
lists (the floor to beat), one line per case (positive vs hardest negative: scores, gap, label) and the conclusions.`,
});

async function readValidation(file: string): Promise<TrainExample[]> {
  const r = await readJsonlFile(file, checkExample);
  const usable = r.items.filter((e) => e.pos.length);
  if (!usable.length) throw new RangeError(`${file} has no example with a positive: each line must be {"query": str, "pos": [str, …], "neg": [str, …]}`);
  if (usable.length < r.items.length) console.error(`${file}: ${r.items.length - usable.length} example(s) without a positive left out`);
  return usable;
}

/** `runtime`: tests pass one shared GPU runtime (its compiled pipelines are reused); otherwise one is made and destroyed. */
export async function run(argv: string[], deps: { runtime?: GpuRuntime } = {}): Promise<number> {
  const args = parseCommand(command, argv);
  if (typeof args === 'number') return args;
  const { values } = args;
  if (!values.base || !values.data) {
    console.error(`eval needs --base and --data (and --tuned to compare).\n\n${helpText(command)}`);
    return 2;
  }
  let val: TrainExample[];
  try {
    val = await readValidation(values.data);
  } catch (e) {
    return inputErrorExit(e);
  }

  const bar = createProgressBar();
  // The realistic lists first (BM25 over jieba tokens of the validation documents): no GPU work is wasted on a
  // set that cannot be built.
  const lists = await buildRerankSet(val, { depth: values.candidates, onProgress: bar.onProgress });
  const models: { base: HfModel; tuned?: HfModel } = { base: await loadModel(values.base, 'base', bar.onProgress) };
  if (values.tuned) models.tuned = await loadModel(values.tuned, 'fine-tuned', bar.onProgress);
  bar.stop();
  let maxLength: number;
  try {
    maxLength = evalMaxLength(models, values['max-length']);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const plan = rerankPairs(val, lists);
  console.error(`${val.length} validation example(s): ${lists.lists.length} queries, each reranking BM25's top ${lists.depth} of ${lists.corpus} documents plus its positives (${plan.pairs.length} pairs per model with the cases); max length ${maxLength}`);

  const rt = deps.runtime ?? (await GpuRuntime.create());
  const ac = abortOnSigint();
  let result;
  try {
    result = await compareModels(
      val,
      lists,
      async (pairs, which) => {
        const m = models[which]!;
        const gm = await GpuModel.create(rt, m.config, m.params);
        try {
          const r = await scorePairs(gm, m.tokenizer, pairs, { maxLength, stage: which === 'base' ? 'score base' : 'score fine-tuned', onProgress: bar.onProgress, signal: ac.signal });
          if (r.truncatedDocuments) console.error(`${which}: ${r.truncatedDocuments} of ${pairs.length} document(s) cut to ${maxLength} tokens`);
          return r.logits;
        } finally {
          gm.release();
        }
      },
      // The report's scale: the activation CrossEncoder applies to the model being judged (tanh is shown raw).
      { tuned: !!models.tuned, activation: (models.tuned ?? models.base).activation === 'sigmoid' ? 'sigmoid' : 'identity', plan },
    );
  } finally {
    bar.stop();
    if (!deps.runtime) rt.destroy();
  }
  const { report } = result;
  console.log(reportText(report, { maxCases: values.cases }));
  const meta = { model: values.tuned ? `${values.tuned} (base ${values.base})` : values.base, generatedAt: new Date().toISOString() };
  if (values.html) {
    await writeFileAtomic(values.html, reportHtml(report, meta));
    console.error(`wrote ${values.html}`);
  }
  if (values.csv) {
    await writeFileAtomic(values.csv, reportCsv(report));
    console.error(`wrote ${values.csv}`);
  }
  return 0;
}

/** One token budget for both models, each within its own position table (see --max-length). */
function evalMaxLength(models: { base: HfModel; tuned?: HfModel }, requested: number | undefined): number {
  const budget = requested ?? models.tuned?.modelMaxLength ?? models.base.modelMaxLength;
  return Math.min(scoringMaxLength(models.base, requested), models.tuned ? scoringMaxLength(models.tuned, requested) : Infinity, budget ?? Infinity);
}
