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
import { parseArgs } from 'node:util';
import { checkExample } from '../../data/jsonl.ts';
import { readJsonlFile } from '../read-jsonl.ts';
import { GpuRuntime } from '../../gpu/runtime.ts';
import { modelCard, type ValidationPoint } from '../../eval/model-card.ts';
import { loadHfFolder, saveHfFolder } from '../../model/hf-folder.ts';
import { NonFiniteError } from '../../model/finite.ts';
import { paramCount } from '../../train/memory.ts';
import { writeFilesAtomic } from '../../util/atomic-file.ts';
import { modelFiles } from '../model-source.ts';
import { buildTinyModel } from '../../model/tiny.ts';
import { buildRerankSet, DEFAULT_RERANK_DEPTH } from '../../eval/candidates.ts';
import { DEFAULT_SELECT_BY, SELECT_METRICS, formatSelect, isSelectBy, type RerankMetrics } from '../../eval/ranking.ts';
import { holdOut } from '../../train/batches.ts';
import { type Checkpoint, checkCheckpointTensors } from '../../train/checkpoint.ts';
import { loadCheckpointFolder, peekCheckpointFolder, removeCheckpointFolder, saveCheckpointFolder } from '../../train/checkpoint-node.ts';
import { trainResilient } from '../../train/resilient.ts';
import { TrainOptionsError, resolveTrainOptions } from '../../train/trainer.ts';
import { recipeSettings } from '../../eval/model-card.ts';
import type { TrainEvent, TrainExample, TrainOptions } from '../../train/types.ts';
import { abortOnSigint, createProgressBar } from '../progress-bar.ts';

export const help = `rerank-lab train --model <dir> --data train.jsonl --out <dir> [options]
  --model DIR|ID        Hugging Face model folder (config.json, tokenizer.json, model.safetensors), or a hub id
                        such as BAAI/bge-reranker-base when online (HF_TOKEN, HF_ENDPOINT are honoured)
  --tiny                instead of --model: a tiny random char-level BERT built from the data (demos, smoke tests)
  --data FILE           training set, FlagEmbedding JSONL {"query": str, "pos": [str], "neg": [str]}
  --val FILE            validation set (same format), e.g. mine's --val-out (split by source document); without it
                        10% of the examples are held out at random by --seed (not split by source document)
  --select-by M         what picks the best epoch (the base model, epoch 0, included): ${SELECT_METRICS.join('|')}
                        (default ${DEFAULT_SELECT_BY}; the ranking metrics are over each validation query's BM25 top
                        --val-candidates of the validation documents plus its positives; loss is validation loss)
  --val-candidates N    BM25 candidates per validation query (default ${DEFAULT_RERANK_DEPTH})
  --out DIR             where the best model is saved (a Hugging Face folder); the checkpoint goes to DIR/checkpoint
  --loss bce|listwise   pointwise BCE (sentence-transformers CrossEncoder) or listwise softmax CE (FlagEmbedding); default listwise
  --batch N             query groups per optimizer step (default 8)
  --group-size N        documents per query: 1 positive + N-1 negatives (default 8)
  --epochs N            default 2
  --lr X                peak learning rate (default 2e-5)
  --warmup-ratio X      linear warmup over this fraction of the steps, then linear decay (default 0.1)
  --max-length N        tokens per pair (default 256)
  --seed N              negatives, order, dropout and hold-out (default 42)
  --grad-accum N        micro-batches per step (default 1)
  --dropout X           hidden dropout (default: the model's hidden_dropout_prob)
  --attention-dropout X dropout on the attention probabilities (default: the model's attention_probs_dropout_prob)
  --classifier-dropout X dropout in the classification head, Hugging Face's placement (default: the model's
                        classifier_dropout, else the hidden dropout)
  --pos-weight X        bce only: weight of the positive pairs, torch's pos_weight (default: negatives per group,
                        i.e. --group-size − 1, as sentence-transformers v4's reranker recipe; 1 = plain BCE)
  --random-negatives X  share 0–1 of each group's negatives drawn at random from other examples' documents instead
                        of the mined hard negatives (default 0: hard negatives only)
  --query-max-length N  keep only a query's first N tokens before pair truncation (FlagEmbedding's query_max_len;
                        default 0: no cap)
  --weight-decay X      AdamW weight decay (default 0.01)
  --max-grad-norm X     gradient clipping (default 1.0)
  --log-every K         print a loss line every K steps (default 1; 10 on a terminal, with a progress bar between)
  --checkpoint-every N  also checkpoint every N steps (default: at the end of each epoch and when stopped)
  --resume              continue the run saved in DIR/checkpoint (same options, data and model: checked)
  --restart             start over although DIR holds a checkpoint or a model (they are replaced)
Ctrl-C stops after the current step and still saves the best model so far.`;

class UsageError extends Error {}

function numberOpt(values: Record<string, unknown>, name: string, fallback: number | undefined, kind: 'int' | 'float'): number | undefined {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v === '' || !Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) throw new UsageError(`--${name} must be ${kind === 'int' ? 'an integer' : 'a number'}, got '${String(v)}'`);
  return n;
}

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

export async function run(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' }, tiny: { type: 'boolean', default: false },
        data: { type: 'string' }, val: { type: 'string' }, out: { type: 'string' },
        loss: { type: 'string', default: 'listwise' },
        batch: { type: 'string' }, 'group-size': { type: 'string' }, epochs: { type: 'string' }, lr: { type: 'string' },
        'warmup-ratio': { type: 'string' }, 'max-length': { type: 'string' }, seed: { type: 'string' },
        'grad-accum': { type: 'string' }, dropout: { type: 'string' }, 'weight-decay': { type: 'string' }, 'max-grad-norm': { type: 'string' },
        'attention-dropout': { type: 'string' }, 'classifier-dropout': { type: 'string' }, 'pos-weight': { type: 'string' },
        'random-negatives': { type: 'string' }, 'query-max-length': { type: 'string' },
        'log-every': { type: 'string' }, 'checkpoint-every': { type: 'string' }, resume: { type: 'boolean', default: false },
        'select-by': { type: 'string' }, 'val-candidates': { type: 'string' },
        restart: { type: 'boolean', default: false },
      },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${help}`);
    return 2;
  }
  if ((!values.model && !values.tiny) || !values.data || !values.out) {
    console.error(`train needs --model (or --tiny), --data and --out.\n\n${help}`);
    return 2;
  }
  if (values.model && values.tiny) {
    console.error('give either --model or --tiny, not both.');
    return 2;
  }
  if (values.resume && values.restart) {
    console.error('give either --resume (continue the saved run) or --restart (start over), not both.');
    return 2;
  }
  const refusal = await refuseToReplace(values.out as string, !!values.resume, !!values.restart);
  if (refusal) {
    console.error(refusal);
    return 2;
  }
  let opts: TrainOptions;
  let logEvery: number;
  let checkpointEvery: number | undefined;
  let examples: TrainExample[];
  let valExamples: TrainExample[];
  try {
    if (values.loss !== 'bce' && values.loss !== 'listwise') throw new UsageError(`--loss must be bce or listwise, got '${String(values.loss)}'`);
    const selectBy = String(values['select-by'] ?? DEFAULT_SELECT_BY).toLowerCase();
    if (!isSelectBy(selectBy)) throw new UsageError(`--select-by must be one of ${SELECT_METRICS.join(', ')}, got '${String(values['select-by'])}'`);
    const valCandidates = numberOpt(values, 'val-candidates', DEFAULT_RERANK_DEPTH, 'int')!;
    if (valCandidates < 1) throw new UsageError('--val-candidates must be ≥ 1');
    opts = {
      loss: values.loss,
      batchSize: numberOpt(values, 'batch', 8, 'int')!,
      groupSize: numberOpt(values, 'group-size', 8, 'int')!,
      epochs: numberOpt(values, 'epochs', 2, 'int')!,
      lr: numberOpt(values, 'lr', 2e-5, 'float')!,
      warmupRatio: numberOpt(values, 'warmup-ratio', 0.1, 'float')!,
      maxLength: numberOpt(values, 'max-length', 256, 'int')!,
      seed: numberOpt(values, 'seed', 42, 'int')!,
      gradAccum: numberOpt(values, 'grad-accum', 1, 'int'),
      dropout: numberOpt(values, 'dropout', undefined, 'float'),
      weightDecay: numberOpt(values, 'weight-decay', undefined, 'float'),
      maxGradNorm: numberOpt(values, 'max-grad-norm', undefined, 'float'),
      attentionDropout: numberOpt(values, 'attention-dropout', undefined, 'float'),
      classifierDropout: numberOpt(values, 'classifier-dropout', undefined, 'float'),
      posWeight: numberOpt(values, 'pos-weight', undefined, 'float'),
      randomNegatives: numberOpt(values, 'random-negatives', undefined, 'float'),
      queryMaxLength: numberOpt(values, 'query-max-length', undefined, 'int'),
      selectBy,
      valCandidates,
    };
    logEvery = numberOpt(values, 'log-every', process.stderr.isTTY ? 10 : 1, 'int')!;
    if (logEvery < 1) throw new UsageError('--log-every must be ≥ 1');
    checkpointEvery = numberOpt(values, 'checkpoint-every', undefined, 'int');
    examples = await readExamples(values.data as string);
    if (values.val) {
      valExamples = await readExamples(values.val as string);
    } else if (examples.length >= 2) {
      ({ train: examples, val: valExamples } = holdOut(examples, 0.1, opts.seed));
      console.error(
        `no --val: holding out ${valExamples.length} of ${examples.length + valExamples.length} examples for validation (seed ${opts.seed}); ` +
          'they are held out at random, not by source document, so their documents may also occur in training — ' +
          'for an honest split give --val from `rerank-lab mine --val-out val.jsonl --val-ratio 0.1`',
      );
    } else {
      valExamples = [];
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }

  const out = values.out as string;
  const ckptDir = join(out, 'checkpoint');
  let resumeFrom: Checkpoint | undefined;
  if (values.resume) {
    try {
      resumeFrom = await loadCheckpointFolder(ckptDir, (note) => console.error(`checkpoint: ${note}`));
    } catch (e) {
      console.error(`--resume: no usable checkpoint: ${(e as Error).message}`);
      return 1;
    }
    console.error(`resuming at step ${resumeFrom.step} of ${resumeFrom.totalSteps} (epoch ${resumeFrom.epoch + 1})`);
  }

  const bar = createProgressBar();
  const files = values.tiny
    ? buildTinyModel({ corpus: [...examples, ...valExamples].flatMap((e) => [e.query, ...e.pos, ...e.neg]), maxPositions: Math.max(64, opts.maxLength), seed: opts.seed })
    : await modelFiles(values.model as string, bar.onProgress);
  const model = await loadHfFolder(files, { onProgress: bar.onProgress });
  bar.stop();
  for (const n of model.notes) console.error(`model: ${n}`);
  const c = model.config;
  console.error(`model: ${c.architecture || c.modelType}, hidden ${c.hidden}, ${c.layers} layers, vocabulary ${c.vocabSize}${values.tiny ? ' (tiny, random)' : ''}`);

  let recipe;
  try {
    recipe = resolveTrainOptions(model.config, opts);
  } catch (e) {
    if (!(e instanceof TrainOptionsError)) throw e;
    console.error(e.message);
    return 2;
  }
  console.error(`recipe: ${Object.entries(recipeSettings(recipe)).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  // The realistic validation lists: built once, before the GPU work (BM25 over jieba tokens of the validation corpus).
  const rerank = valExamples.length
    ? await buildRerankSet(valExamples, { depth: opts.valCandidates, onProgress: bar.onProgress })
    : undefined;
  bar.stop();

  const rt = await GpuRuntime.create();
  console.error(`adapter: ${rt.info.name}${rt.info.isSoftware ? ' (software: slow)' : ''}`);
  const ac = abortOnSigint();
  // --restart: the earlier run is given up now (everything before could still fail), so a later --resume can only
  // continue this run
  if (values.restart) await removeCheckpointFolder(ckptDir);
  // A bar only on a terminal (between loss lines); in logs the loss lines say it all.
  const tty = !!process.stderr.isTTY;
  const evals: ValidationPoint[] = [];
  const onEvent = (e: TrainEvent) => {
    switch (e.type) {
      case 'step': {
        if (tty) bar.onProgress({ stage: `train epoch ${e.epoch}`, done: e.step, total: e.totalSteps, detail: `loss ${e.loss.toFixed(4)} ETA ${fmtTime(e.etaSeconds)}` });
        if (e.step % logEvery === 0 || e.step === e.totalSteps) {
          bar.stop();
          console.log(`step ${e.step}/${e.totalSteps}  epoch ${e.epoch}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${e.pairsPerSec.toFixed(1)} pairs/s  ETA ${fmtTime(e.etaSeconds)}`);
        }
        break;
      }
      case 'validation': {
        bar.stop();
        console.log(
          `validation: ${e.queries} queries, built from validation documents only${values.val ? ` (${values.val as string})` : ' (held out from --data)'}; ` +
            `each reranks BM25's top ${e.depth} of the ${e.documents} validation documents plus its positives ` +
            `(BM25 put ${(100 * e.positivesRetrieved).toFixed(0)}% of the positives in its top ${e.depth}); ` +
            `loss over ${e.lossGroups} groups of ${opts.groupSize}${e.lossGroupsSkipped ? ` (${e.lossGroupsSkipped} left out: too few validation documents)` : ''}`,
        );
        console.log(`BM25 alone (the floor): ${metricsText(e.bm25)}`);
        console.log(`the best epoch is chosen by ${e.selectBy} (epoch 0, the base model, included)`);
        break;
      }
      case 'eval': {
        evals.push({ epoch: e.epoch, valLoss: e.valLoss, meanGap: e.meanGap, mrr: e.mrr });
        bar.stop();
        const name = e.epoch === 0 ? 'epoch 0 (base)' : `epoch ${e.epoch}`;
        const ranking = e.ranking ? `${metricsText(e.ranking, e.bm25)}  ` : '';
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
  let result;
  try {
    result = await trainResilient(rt, model, { train: examples, val: valExamples, rerank }, opts, {
      onEvent,
      signal: ac.signal,
      resumeFrom,
      checkpointEverySteps: checkpointEvery,
      onCheckpoint: async (ck) => {
        // a checkpoint of diverged weights would only be refused on resume: keep the previous one instead
        try {
          checkCheckpointTensors(ck);
        } catch (e) {
          bar.stop();
          console.error(`checkpoint at step ${ck.step} not saved (the previous one is kept): ${(e as Error).message}`);
          return;
        }
        await saveCheckpointFolder(ckptDir, ck);
      },
    });
  } finally {
    bar.stop();
    rt.destroy();
  }
  const { summary, best } = result;
  const card = modelCard({
    baseModel: values.tiny ? 'a tiny random char-level BERT (--tiny)' : String(values.model),
    arch: c.architecture || c.modelType,
    paramCount: paramCount(c),
    data: { trainExamples: examples.length, valExamples: valExamples.length },
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
    const kept = await peekCheckpointFolder(ckptDir);
    console.error(`${e.message}${kept ? `. The checkpoint of step ${kept.step} is kept in ${ckptDir}` : ''}`);
    return 1;
  }
  saved.set(TRAIN_LOG, new TextEncoder().encode(JSON.stringify({ options: opts, summary, data: values.data, val: values.val ?? 'held out 10%' }, null, 2) + '\n'));
  await writeFilesAtomic(out, saved);
  if (summary.stopped === 'finished') await removeCheckpointFolder(ckptDir);
  const bestText = summary.bestValue !== undefined && summary.selectBy
    ? summary.keptBase
      ? `the base model: no fine-tuned epoch beat epoch 0 on ${formatSelect(summary.selectBy, summary.bestValue)}`
      : `best epoch ${summary.bestEpoch} by ${formatSelect(summary.selectBy, summary.bestValue)} (validation loss ${summary.bestValLoss.toFixed(4)})`
    : !valExamples.length
      ? 'the last parameters (no validation set)'
      : `the parameters after step ${summary.steps} (no epoch was evaluated yet)`;
  console.log(
    [
      '',
      `${summary.stopped === 'finished' ? 'Finished' : 'Stopped'}: ${summary.steps}/${summary.totalSteps} steps, ${summary.epochs} epoch(s) in ${fmtTime(summary.seconds)}${summary.skippedSteps ? `, ${summary.skippedSteps} update(s) skipped (NaN/Inf)` : ''}`,
      `Saved ${bestText} → ${out}`,
      summary.stopped === 'stopped' ? `Checkpoint: ${ckptDir} (continue with the same command and --resume)` : '',
    ].filter(Boolean).join('\n'),
  );
  return summary.stopped === 'finished' ? 0 : 130;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));

/** "NDCG@10 0.6123 (BM25 0.5234)  MRR@10 …" — the model's figures, with BM25's on the same lists when given. */
function metricsText(m: RerankMetrics, bm25?: RerankMetrics): string {
  const rows: [string, keyof RerankMetrics][] = [['NDCG@10', 'ndcg10'], ['MRR@10', 'mrr10'], ['Hit@1', 'hit1'], ['Recall@10', 'recall10']];
  return rows.map(([label, k]) => `${label} ${fmt(m[k])}${bm25 ? ` (BM25 ${fmt(bm25[k])})` : ''}`).join('  ');
}
