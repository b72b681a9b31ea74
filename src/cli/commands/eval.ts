// `rerank-lab eval --base DIR --tuned DIR --data val.jsonl [--html report.html] [--csv report.csv]`: the page's
// Evaluate step from the command line — both models score each validation example's candidates, then the ranking
// metrics and the seed's per-case report (scores, gap, labels, conclusions) are printed as a table and written as
// HTML / CSV, by the same library the page uses (src/eval/compare.ts, report.ts, export.ts).

import { parseArgs } from 'node:util';
import { checkExample, type TrainExample } from '../../data/jsonl.ts';
import { compareModels } from '../../eval/compare.ts';
import { reportCsv, reportHtml } from '../../eval/export.ts';
import { reportText } from '../../eval/report-text.ts';
import { GpuRuntime } from '../../gpu/runtime.ts';
import type { HfModel } from '../../model/hf-folder.ts';
import { GpuModel } from '../../train/gpu-model.ts';
import { scorePairs } from '../../train/score.ts';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import { loadModel, scoringMaxLength } from '../model-source.ts';
import { readJsonlFile } from '../read-jsonl.ts';
import { abortOnSigint, createProgressBar } from '../progress-bar.ts';

export const help = `rerank-lab eval --base DIR --tuned DIR --data val.jsonl [--html report.html] [--csv report.csv]
  --base DIR|ID      the model before fine-tuning
  --tuned DIR        the fine-tuned model (leave out to report on the base model alone)
  --data FILE        validation set, FlagEmbedding JSONL {"query": str, "pos": [str], "neg": [str]}; each example's
                     positives and negatives are its candidate list
  --html FILE        also write the report as a self-contained HTML page
  --csv FILE         also write the per-case report as CSV (UTF-8 with BOM, opens in spreadsheet programs)
  --max-length N     tokens per pair for both models (default: the fine-tuned folder's model_max_length, i.e. the
                     trained length; else the base folder's; else the position table's limit)
  --cases N          cases shown in the terminal table (default 30; the files hold all)
Prints the ranking metrics (MRR@10, NDCG@10, Hit@1, mean gap), one line per case (positive vs hardest negative:
scores, gap, label) and the conclusions.`;

function intOpt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v === '' || !Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

async function readValidation(file: string): Promise<TrainExample[]> {
  const r = await readJsonlFile(file, checkExample);
  const usable = r.items.filter((e) => e.pos.length);
  if (!usable.length) throw new RangeError(`${file} has no example with a positive: each line must be {"query": str, "pos": [str, …], "neg": [str, …]}`);
  if (usable.length < r.items.length) console.error(`${file}: ${r.items.length - usable.length} example(s) without a positive left out`);
  return usable;
}

/** `runtime`: tests pass one shared GPU runtime (its compiled pipelines are reused); otherwise one is made and destroyed. */
export async function run(argv: string[], deps: { runtime?: GpuRuntime } = {}): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: { base: { type: 'string' }, tuned: { type: 'string' }, data: { type: 'string' }, html: { type: 'string' }, csv: { type: 'string' }, 'max-length': { type: 'string' }, cases: { type: 'string' } },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${help}`);
    return 2;
  }
  if (!values.base || !values.data) {
    console.error(`eval needs --base and --data (and --tuned to compare).\n\n${help}`);
    return 2;
  }
  let val: TrainExample[];
  let requested: number | undefined;
  let cases: number;
  try {
    requested = intOpt(values['max-length'], 'max-length');
    cases = intOpt(values.cases, 'cases') ?? 30;
    val = await readValidation(values.data);
  } catch (e) {
    if (e instanceof RangeError || (e as Error).name === 'OutputError') {
      console.error((e as Error).message);
      return 2;
    }
    throw e;
  }

  const bar = createProgressBar();
  const models: { base: HfModel; tuned?: HfModel } = { base: await loadModel(values.base, 'base', bar.onProgress) };
  if (values.tuned) models.tuned = await loadModel(values.tuned, 'fine-tuned', bar.onProgress);
  bar.stop();
  let maxLength: number;
  try {
    const budget = requested ?? models.tuned?.modelMaxLength ?? models.base.modelMaxLength;
    // One budget for both models, each within its own position table.
    maxLength = Math.min(scoringMaxLength(models.base, requested), models.tuned ? scoringMaxLength(models.tuned, requested) : Infinity, budget ?? Infinity);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  console.error(`${val.length} validation example(s), max length ${maxLength}`);

  const rt = deps.runtime ?? (await GpuRuntime.create());
  const ac = abortOnSigint();
  let result;
  try {
    result = await compareModels(
      val,
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
      { tuned: !!models.tuned, activation: (models.tuned ?? models.base).activation === 'sigmoid' ? 'sigmoid' : 'identity' },
    );
  } finally {
    bar.stop();
    if (!deps.runtime) rt.destroy();
  }
  const { report } = result;
  console.log(reportText(report, { maxCases: cases }));
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
