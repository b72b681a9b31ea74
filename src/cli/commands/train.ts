// `rerank-lab train --model <dir> --data train.jsonl --out <dir> …`: fine-tunes a cross-encoder on FlagEmbedding
// JSONL with the library's trainer (the same one the page's worker runs), shows a progress bar and a loss line per
// step (or every k), and per epoch the reranking metrics on realistic validation lists (BM25 top N of the validation
// corpus plus the positives) beside BM25's own figures, validation loss and the gap; saves the best epoch by the
// chosen metric (the base model, epoch 0, included) as a Hugging Face folder.
// Ctrl-C finishes the current step, saves the best model so far and a checkpoint that --resume continues from.
// Nothing is lost: an existing checkpoint (or model) in --out is never replaced without --resume or --restart; every
// file is written atomically; NaN/Inf weights are refused when loaded, resumed or saved (exit 1, tensor named).

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { checkExample } from '../../data/jsonl.ts';
import { readJsonlFile } from '../read-jsonl.ts';
import { GpuRuntime } from '../../gpu/runtime.ts';
import { modelCard, recipeSettings, type ValidationPoint } from '../../eval/model-card.ts';
import { type HfModel, loadHfFolder, saveHfFolder } from '../../model/hf-folder.ts';
import { NonFiniteError } from '../../model/finite.ts';
import { paramCount } from '../../train/memory.ts';
import { writeFilesAtomic } from '../../util/atomic-file.ts';
import { modelFiles } from '../model-source.ts';
import { buildTinyModel } from '../../model/tiny.ts';
import { buildRerankSet, DEFAULT_RERANK_DEPTH, type RerankSet } from '../../eval/candidates.ts';
import { DEFAULT_SELECT_BY, SELECT_METRICS, formatSelect, rerankMetricsText } from '../../eval/ranking.ts';
import { holdOut } from '../../train/batches.ts';
import { type Checkpoint, checkCheckpointTensors } from '../../train/checkpoint.ts';
import { loadCheckpointFolder, peekCheckpointFolder, removeCheckpointFolder, saveCheckpointFolder } from '../../train/checkpoint-node.ts';
import { trainResilient } from '../../train/resilient.ts';
import { TrainOptionsError, type TrainResult, resolveTrainOptions } from '../../train/trainer.ts';
import type { TrainEvent, TrainExample, TrainOptions } from '../../train/types.ts';
import { type Values, defineCommand, helpText, parseCommand } from '../args.ts';
import { type ProgressBar, abortOnSigint, createProgressBar } from '../progress-bar.ts';
import { RECIPE_OPTIONS } from '../train-options.ts';

export const command = defineCommand({
  name: 'train',
  usage: '--model <dir> --data train.jsonl --out <dir> [options]',
  options: {
    model: { value: 'DIR|ID', help: 'Hugging Face model folder (config.json, tokenizer.json, model.safetensors), or a hub id\nsuch as BAAI/bge-reranker-base when online (HF_TOKEN, HF_ENDPOINT are honoured)' },
    tiny: { kind: 'flag', help: 'instead of --model: a tiny random char-level BERT built from the data (demos, smoke tests)' },
    data: { value: 'FILE', help: 'training set, FlagEmbedding JSONL {"query": str, "pos": [str], "neg": [str]}' },
    val: { value: 'FILE', help: "validation set (same format), e.g. mine's --val-out (split by source document); without it\n10% of the examples are held out at random by --seed (not split by source document)" },
    'select-by': {
      value: 'M',
      choices: SELECT_METRICS,
      default: DEFAULT_SELECT_BY,
      help: "what picks the best epoch (the base model, epoch 0, included); the ranking metrics are over each\nvalidation query's BM25 top --val-candidates of the validation documents plus its positives; loss is\nvalidation loss",
    },
    'val-candidates': { kind: 'positive', default: DEFAULT_RERANK_DEPTH, help: 'BM25 candidates per validation query' },
    out: { value: 'DIR', help: 'where the best model is saved (a Hugging Face folder); the checkpoint goes to DIR/checkpoint' },
    ...RECIPE_OPTIONS,
    'attention-dropout': { kind: 'number', defaultText: "the model's attention_probs_dropout_prob", help: 'dropout on the attention probabilities' },
    'classifier-dropout': { kind: 'number', defaultText: "the model's\nclassifier_dropout, else the hidden dropout", help: "dropout in the classification head, Hugging Face's placement" },
    'pos-weight': { kind: 'number', defaultText: "negatives per group,\ni.e. --group-size − 1, as sentence-transformers v4's reranker recipe; 1 = plain BCE", help: "bce only: weight of the positive pairs, torch's pos_weight" },
    'random-negatives': { kind: 'number', default: 0, help: "share 0–1 of each group's negatives drawn at random from other examples' documents instead\nof the mined hard negatives (0: hard negatives only)" },
    'query-max-length': { kind: 'int', default: 0, help: "keep only a query's first N tokens before pair truncation (FlagEmbedding's query_max_len;\n0: no cap)" },
    'log-every': { kind: 'positive', value: 'K', defaultText: '1; 10 on a terminal, with a progress bar between', help: 'print a loss line every K steps' },
    'checkpoint-every': { kind: 'positive', defaultText: 'at the end of each epoch and when stopped', help: 'also checkpoint every N steps' },
    resume: { kind: 'flag', help: 'continue the run saved in DIR/checkpoint (same options, data and model: checked)' },
    restart: { kind: 'flag', help: 'start over although DIR holds a checkpoint or a model (they are replaced)' },
  },
  footer: 'Ctrl-C stops after the current step and still saves the best model so far.',
});

type TrainValues = Values<typeof command.options>;

class UsageError extends Error {}

/** Reads FlagEmbedding JSONL (cli/read-jsonl.ts: encoding detected, bad lines printed with their numbers, counted). */
async function readExamples(file: string): Promise<TrainExample[]> {
  let r;
  try {
    r = await readJsonlFile(file, checkExample);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!r.items.length) {
    throw new UsageError(`${file} has no valid example${r.errors.length ? ` (${r.errors.length} bad line(s))` : ''}: each line must be {"query": str, "pos": [str, …], "neg": [str, …]}`);
  }
  return r.items;
}

const fmtTime = (s: number | undefined) => {
  if (s === undefined || !Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : m ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
};

const TRAIN_LOG = 'rerank_lab_train.json';

/**
 * Why this run may not write into `out`: it holds an unfinished run's checkpoint (continue it with --resume or
 * replace it with --restart), or a model (a finished run, or a model folder given as --out by mistake).
 */
async function refuseToReplace(out: string, resume: boolean, restart: boolean): Promise<string | undefined> {
  const ckptDir = join(out, 'checkpoint');
  const ck = await peekCheckpointFolder(ckptDir);
  if (resume) return ck ? undefined : `--resume: there is no checkpoint in ${ckptDir} to continue; start a run without --resume`;
  if (restart) return undefined;
  if (ck) {
    return `${ckptDir} holds the checkpoint of an unfinished run (step ${ck.step}${ck.totalSteps ? ` of ${ck.totalSteps}` : ''}, saved ${ck.savedAt.toLocaleString()}). ` +
      'Continue it with --resume, or start over with --restart (which replaces it).';
  }
  for (const f of [TRAIN_LOG, 'model.safetensors']) {
    const at = await stat(join(out, f)).catch(() => undefined);
    if (at) return `${out} already holds a model (${f}, ${at.mtime.toLocaleString()}): this run would replace it. Choose another --out, or pass --restart to replace it.`;
  }
  return undefined;
}


/** What is missing from or clashes in the command line; undefined when it is whole. */
function missingOrClashing(v: TrainValues): string | undefined {
  if ((!v.model && !v.tiny) || !v.data || !v.out) return `train needs --model (or --tiny), --data and --out.\n\n${helpText(command)}`;
  if (v.model && v.tiny) return 'give either --model or --tiny, not both.';
  if (v.resume && v.restart) return 'give either --resume (continue the saved run) or --restart (start over), not both.';
  return undefined;
}

/** The trainer's options from the flags (each already checked by its kind; ranges are the trainer's to check). */
function trainOptionsOf(v: TrainValues): TrainOptions {
  return {
    loss: v.loss as TrainOptions['loss'], batchSize: v.batch, groupSize: v['group-size'], epochs: v.epochs, lr: v.lr, warmupRatio: v['warmup-ratio'],
    maxLength: v['max-length'], seed: v.seed, gradAccum: v['grad-accum'], dropout: v.dropout, weightDecay: v['weight-decay'], maxGradNorm: v['max-grad-norm'],
    attentionDropout: v['attention-dropout'], classifierDropout: v['classifier-dropout'], posWeight: v['pos-weight'],
    randomNegatives: v['random-negatives'], queryMaxLength: v['query-max-length'],
    selectBy: v['select-by'] as TrainOptions['selectBy'], valCandidates: v['val-candidates'],
  };
}

/** Training and validation examples: --val, else 10% of --data held out at random (and said so, with the better way). */
async function readData(v: TrainValues, seed: number): Promise<{ train: TrainExample[]; val: TrainExample[] }> {
  const examples = await readExamples(v.data!);
  if (v.val) return { train: examples, val: await readExamples(v.val) };
  if (examples.length < 2) return { train: examples, val: [] };
  const { train, val } = holdOut(examples, 0.1, seed);
  console.error(
    `no --val: holding out ${val.length} of ${examples.length} examples for validation (seed ${seed}); ` +
      'they are held out at random, not by source document, so their documents may also occur in training — ' +
      'for an honest split give --val from `rerank-lab mine --val-out val.jsonl --val-ratio 0.1`',
  );
  return { train, val };
}

/** The model to fine-tune: a tiny random one built from the data (--tiny), or a folder / hub id; its notes printed. */
async function loadTrainModel(v: TrainValues, data: { train: TrainExample[]; val: TrainExample[] }, opts: TrainOptions, bar: ProgressBar): Promise<HfModel> {
  const files = v.tiny
    ? buildTinyModel({ corpus: [...data.train, ...data.val].flatMap((e) => [e.query, ...e.pos, ...e.neg]), maxPositions: Math.max(64, opts.maxLength), seed: opts.seed })
    : await modelFiles(v.model!, bar.onProgress);
  const model = await loadHfFolder(files, { onProgress: bar.onProgress });
  bar.stop();
  for (const n of model.notes) console.error(`model: ${n}`);
  const c = model.config;
  console.error(`model: ${c.architecture || c.modelType}, hidden ${c.hidden}, ${c.layers} layers, vocabulary ${c.vocabSize}${v.tiny ? ' (tiny, random)' : ''}`);
  return model;
}

/**
 * The plan before any GPU work: the recipe checked against the model and printed, and the realistic validation lists
 * built once (BM25 over jieba tokens of the validation corpus). A TrainOptionsError says which option to change.
 */
async function planRun(model: HfModel, opts: TrainOptions, val: TrainExample[], bar: ProgressBar): Promise<RerankSet | undefined> {
  const recipe = resolveTrainOptions(model.config, opts);
  console.error(`recipe: ${Object.entries(recipeSettings(recipe)).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const rerank = val.length ? await buildRerankSet(val, { depth: opts.valCandidates, onProgress: bar.onProgress }) : undefined;
  bar.stop();
  return rerank;
}

/**
 * Prints the trainer's events: a loss line every `logEvery` steps (a bar between them on a terminal; in logs the
 * lines say it all), how validation is built, and per epoch the ranking metrics beside BM25's, loss and gap.
 * `evals` collects the validation points for the model card.
 */
function eventPrinter(bar: ProgressBar, o: { logEvery: number; groupSize: number; valSource: string }): { onEvent: (e: TrainEvent) => void; evals: ValidationPoint[] } {
  const tty = !!process.stderr.isTTY;
  const evals: ValidationPoint[] = [];
  const onEvent = (e: TrainEvent) => {
    switch (e.type) {
      case 'step': {
        if (tty) bar.onProgress({ stage: `train epoch ${e.epoch}`, done: e.step, total: e.totalSteps, detail: `loss ${e.loss.toFixed(4)} ETA ${fmtTime(e.etaSeconds)}` });
        if (e.step % o.logEvery === 0 || e.step === e.totalSteps) {
          bar.stop();
          console.log(`step ${e.step}/${e.totalSteps}  epoch ${e.epoch}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${e.pairsPerSec.toFixed(1)} pairs/s  ETA ${fmtTime(e.etaSeconds)}`);
        }
        break;
      }
      case 'validation': {
        bar.stop();
        console.log(
          `validation: ${e.queries} queries, built from validation documents only (${o.valSource}); ` +
            `each reranks BM25's top ${e.depth} of the ${e.documents} validation documents plus its positives ` +
            `(BM25 put ${(100 * e.positivesRetrieved).toFixed(0)}% of the positives in its top ${e.depth}); ` +
            `loss over ${e.lossGroups} groups of ${o.groupSize}${e.lossGroupsSkipped ? ` (${e.lossGroupsSkipped} left out: too few validation documents)` : ''}`,
        );
        console.log(`BM25 alone (the floor): ${rerankMetricsText(e.bm25)}`);
        console.log(`the best epoch is chosen by ${e.selectBy} (epoch 0, the base model, included)`);
        break;
      }
      case 'eval': {
        evals.push({ epoch: e.epoch, valLoss: e.valLoss, meanGap: e.meanGap, mrr: e.mrr });
        bar.stop();
        const name = e.epoch === 0 ? 'epoch 0 (base)' : `epoch ${e.epoch}`;
        const ranking = e.ranking ? `${rerankMetricsText(e.ranking, e.bm25)}  ` : '';
        console.log(`${name}: ${ranking}val loss ${e.valLoss.toFixed(4)}  gap ${e.meanGap.toFixed(4)}  group MRR ${e.mrr.toFixed(4)}${e.best ? `  ★ best so far by ${e.selectBy}` : ''}`);
        break;
      }
      case 'progress':
        if (tty) bar.onProgress(e);
        break;
      case 'skipped':
        bar.stop();
        console.error(`step ${e.step} skipped: ${e.reason}`);
        break;
      case 'warning':
        bar.stop();
        console.error(`warning (${e.kind}): ${e.message}`);
        break;
      case 'checkpoint':
        break;
    }
  };
  return { onEvent, evals };
}

/** Saves each checkpoint the trainer hands over, except one of diverged weights (it would only be refused on resume). */
function checkpointSaver(ckptDir: string, bar: ProgressBar): (ck: Checkpoint) => Promise<void> {
  return async (ck) => {
    try {
      checkCheckpointTensors(ck);
    } catch (e) {
      bar.stop();
      console.error(`checkpoint at step ${ck.step} not saved (the previous one is kept): ${(e as Error).message}`);
      return;
    }
    await saveCheckpointFolder(ckptDir, ck);
  };
}

/**
 * Writes the best parameters to `out` as a Hugging Face folder with the model card and the training log; false (and
 * why, and which checkpoint is kept) when the weights are not finite.
 */
async function saveModel(v: TrainValues, model: HfModel, opts: TrainOptions, result: TrainResult, evals: ValidationPoint[], data: { train: TrainExample[]; val: TrainExample[] }): Promise<boolean> {
  const { summary, best } = result;
  const c = model.config;
  const out = v.out!;
  const card = modelCard({
    baseModel: v.tiny ? 'a tiny random char-level BERT (--tiny)' : String(v.model),
    arch: c.architecture || c.modelType,
    paramCount: paramCount(c),
    data: { trainExamples: data.train.length, valExamples: data.val.length },
    settings: { loss: opts.loss, 'batch size (query groups)': opts.batchSize, 'group size': opts.groupSize, epochs: opts.epochs, 'learning rate': opts.lr, 'warmup ratio': opts.warmupRatio, 'max length': opts.maxLength, seed: opts.seed, 'gradient accumulation': opts.gradAccum, dropout: opts.dropout, 'weight decay': opts.weightDecay, 'max grad norm': opts.maxGradNorm, 'best epoch chosen by': `${summary.selectBy ?? opts.selectBy} (epoch 0, the base model, a candidate)`, 'validation candidates': `BM25 top ${opts.valCandidates} of the validation documents + positives` },
    training: summary,
    recipe: summary.options,
    validation: { before: evals.find((e) => e.epoch === 0), after: evals.filter((e) => e.epoch === summary.bestEpoch).pop() },
    scoring: { activation: model.activation, maxLength: opts.maxLength },
    createdAt: new Date().toISOString(),
  });
  let saved;
  try {
    saved = saveHfFolder({ ...model, params: best }, { maxLength: opts.maxLength, modelCard: card });
  } catch (e) {
    if (!(e instanceof NonFiniteError)) throw e;
    const ckptDir = join(out, 'checkpoint');
    const kept = await peekCheckpointFolder(ckptDir);
    console.error(`${e.message}${kept ? `. The checkpoint of step ${kept.step} is kept in ${ckptDir}` : ''}`);
    return false;
  }
  saved.set(TRAIN_LOG, new TextEncoder().encode(JSON.stringify({ options: opts, summary, data: v.data, val: v.val ?? 'held out 10%' }, null, 2) + '\n'));
  await writeFilesAtomic(out, saved);
  return true;
}

/** The closing lines: finished or stopped, which parameters were saved where and why, how to continue. */
function closingReport(summary: TrainResult['summary'], out: string, hasVal: boolean): string {
  const bestText = summary.bestValue !== undefined && summary.selectBy
    ? summary.keptBase
      ? `the base model: no fine-tuned epoch beat epoch 0 on ${formatSelect(summary.selectBy, summary.bestValue)}`
      : `best epoch ${summary.bestEpoch} by ${formatSelect(summary.selectBy, summary.bestValue)} (validation loss ${summary.bestValLoss.toFixed(4)})`
    : !hasVal
      ? 'the last parameters (no validation set)'
      : `the parameters after step ${summary.steps} (no epoch was evaluated yet)`;
  return [
    '',
    `${summary.stopped === 'finished' ? 'Finished' : 'Stopped'}: ${summary.steps}/${summary.totalSteps} steps, ${summary.epochs} epoch(s) in ${fmtTime(summary.seconds)}${summary.skippedSteps ? `, ${summary.skippedSteps} update(s) skipped (NaN/Inf)` : ''}`,
    `Saved ${bestText} → ${out}`,
    summary.stopped === 'stopped' ? `Checkpoint: ${join(out, 'checkpoint')} (continue with the same command and --resume)` : '',
  ].filter(Boolean).join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(command, argv);
  if (typeof args === 'number') return args;
  const v = args.values;
  const refusal = missingOrClashing(v) ?? (await refuseToReplace(v.out!, v.resume, v.restart));
  if (refusal) {
    console.error(refusal);
    return 2;
  }
  const opts = trainOptionsOf(v);
  let data;
  try {
    data = await readData(v, opts.seed);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(e.message);
    return 2;
  }
  const out = v.out!;
  const ckptDir = join(out, 'checkpoint');
  let resumeFrom: Checkpoint | undefined;
  if (v.resume) {
    try {
      resumeFrom = await loadCheckpointFolder(ckptDir, (note) => console.error(`checkpoint: ${note}`));
    } catch (e) {
      console.error(`--resume: no usable checkpoint: ${(e as Error).message}`);
      return 1;
    }
    console.error(`resuming at step ${resumeFrom.step} of ${resumeFrom.totalSteps} (epoch ${resumeFrom.epoch + 1})`);
  }

  const bar = createProgressBar();
  const model = await loadTrainModel(v, data, opts, bar);
  let rerank;
  try {
    rerank = await planRun(model, opts, data.val, bar);
  } catch (e) {
    if (!(e instanceof TrainOptionsError)) throw e;
    console.error(e.message);
    return 2;
  }

  const rt = await GpuRuntime.create();
  console.error(`adapter: ${rt.info.name}${rt.info.isSoftware ? ' (software: slow)' : ''}`);
  const ac = abortOnSigint();
  // --restart: the earlier run is given up now (everything before could still fail), so a later --resume can only
  // continue this run
  if (v.restart) await removeCheckpointFolder(ckptDir);
  const printer = eventPrinter(bar, { logEvery: v['log-every'] ?? (process.stderr.isTTY ? 10 : 1), groupSize: opts.groupSize, valSource: v.val ?? 'held out from --data' });
  let result;
  try {
    result = await trainResilient(rt, model, { train: data.train, val: data.val, rerank }, opts, {
      onEvent: printer.onEvent, signal: ac.signal, resumeFrom, checkpointEverySteps: v['checkpoint-every'], onCheckpoint: checkpointSaver(ckptDir, bar),
    });
  } finally {
    bar.stop();
    rt.destroy();
  }
  if (!(await saveModel(v, model, opts, result, printer.evals, data))) return 1;
  if (result.summary.stopped === 'finished') await removeCheckpointFolder(ckptDir);
  console.log(closingReport(result.summary, out, data.val.length > 0));
  return result.summary.stopped === 'finished' ? 0 : 130;
}
