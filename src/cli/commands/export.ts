// `rerank-lab export`: the two ways out of the lab besides the Hugging Face folder `train` saves.
//   --onnx    the model as ONNX for serving (onnxruntime, onnxruntime-web, transformers.js): DIR/onnx/model.onnx
//   --recipe  the dataset in FlagEmbedding JSONL (optionally with the base model's teacher scores) and a torchrun
//             recipe for sentence-transformers' CrossEncoderTrainer with the lab's settings, for multi-GPU training

import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkExample } from '../../data/jsonl.ts';
import { readJsonlFile } from '../read-jsonl.ts';
import { EXTERNAL_DATA_THRESHOLD, ONNX_OPSET } from '../../export/onnx.ts';
import { ONNX_DATA_PATH, ONNX_MODEL_PATH, onnxFolderFiles } from '../../export/onnx-folder.ts';
import { ONNX_LOGITS_TOLERANCE, maxAbsDiff, onnxLogits, openOnnx } from '../../export/onnx-run.ts';
import { addTeacherScores, recipeFiles, type ScoredExample } from '../../export/recipe.ts';
import { writeExportFolder } from '../../export/write-node.ts';
import { GpuRuntime } from '../../gpu/runtime.ts';
import { type HfModel, loadHfFolder } from '../../model/hf-folder.ts';
import { GpuModel } from '../../train/gpu-model.ts';
import type { TrainExample, TrainOptions } from '../../train/types.ts';
import { modelFiles } from '../model-source.ts';
import { type Values as ParsedValues, defineCommand, helpText, parseCommand } from '../args.ts';
import { abortOnSigint, createProgressBar } from '../progress-bar.ts';
import { RECIPE_OPTIONS, TRAIN_DEFAULTS, asOverrides } from '../train-options.ts';

export const command = defineCommand({
  name: 'export',
  usage: ['--model DIR --onnx [--out DIR] [options]', '--recipe DIR --data train.jsonl --model BASE [options]'],
  options: {
    model: { value: 'DIR', help: "--onnx: the fine-tuned model folder (what `train` saved); --recipe: the model the recipe\nfine-tunes, a hub id (e.g. BAAI/bge-reranker-base) or a folder" },
    force: { kind: 'flag', help: 'replace an existing onnx/model.onnx, or write into a non-empty recipe folder' },
    onnx: {
      kind: 'flag',
      section: 'ONNX for serving (onnxruntime in any language, onnxruntime-web, transformers.js):',
      help: `write onnx/model.onnx: inputs input_ids, attention_mask (+ token_type_ids for BERT), int64\n[batch_size, sequence_length]; output logits [batch_size, num_labels]; opset ${ONNX_OPSET}`,
    },
    out: { value: 'DIR', help: 'write a transformers.js folder there (config.json, tokenizer files, onnx/model.onnx)', defaultText: 'into --model itself, which then serves transformers, sentence-transformers\nand transformers.js alike: config.json gains "transformers.js_config", nothing else changes' },
    'external-data': { kind: 'flag', help: `weights in onnx/model.onnx_data (automatic above ${(EXTERNAL_DATA_THRESHOLD / 1024 ** 3).toFixed(1)} GB, protobuf's limit)` },
    verify: { kind: 'flag', help: `score sample pairs with onnxruntime-web and with the engine (needs a WebGPU adapter);\nexit 1 when they differ by more than ${ONNX_LOGITS_TOLERANCE}` },
    pairs: { value: 'FILE', help: 'the pairs for --verify: JSONL {"query": str, "document": str}', defaultText: 'built-in samples' },
    recipe: {
      value: 'DIR',
      section: 'Multi-GPU training recipe (sentence-transformers CrossEncoderTrainer under torchrun):',
      help: 'the folder to write: README.md, recipe.json, train_reranker.py, run.sh, requirements.txt,\ndata/train.jsonl (+ data/val.jsonl)',
    },
    data: { value: 'FILE', help: 'training set, FlagEmbedding JSONL {"query": str, "pos": [str], "neg": [str]}' },
    val: { value: 'FILE', help: 'validation set (same format), copied to data/val.jsonl' },
    'teacher-scores': { kind: 'flag', help: "score every (query, pos/neg) pair with --model here (GPU) and write the logits as\npos_scores / neg_scores (FlagEmbedding's teacher scores; the recipe's --loss distill)" },
    'from-run': { value: 'DIR', help: 'take the settings from a `train` run (DIR/rerank_lab_train.json); the flags below override' },
    ...asOverrides(RECIPE_OPTIONS, "--from-run's, else"),
  },
  footer: 'The training settings mean what they mean for `train`; --batch is query groups per GPU per micro-batch.',
});

class UsageError extends Error {}

type Values = ParsedValues<typeof command.options>;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(command, argv);
  if (typeof args === 'number') return args;
  const { values } = args;
  try {
    if (values.onnx && values.recipe) throw new UsageError('give --onnx or --recipe, not both: --model means the fine-tuned model for --onnx and the base model for --recipe');
    if (values.onnx) return await exportOnnxCommand(values);
    if (values.recipe) return await exportRecipeCommand(values);
    throw new UsageError('export what? give --onnx (with --model) or --recipe DIR (with --data and --model)');
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${e.message}\n\n${helpText(command)}`);
      return 2;
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// --onnx

const SAMPLE_PAIRS = [
  { query: '失业保险金的领取条件是什么', document: '失业人员符合下列条件的，从失业保险基金中领取失业保险金：失业前用人单位和本人已经缴纳失业保险费满一年的。' },
  { query: '失业保险金的领取条件是什么', document: '小规模纳税人月销售额未超过10万元的，免征增值税。' },
  { query: 'How do I renew a passport?', document: 'Passport renewals can be submitted online or by post with a recent photo and the old passport.' },
  { query: 'How do I renew a passport?', document: 'The museum is open from 9am to 5pm on weekdays.' },
];

async function readPairs(file: string): Promise<{ query: string; document: string }[]> {
  const r = await readJsonlFile(file, (v) => {
    const o = v as Record<string, unknown>;
    return o && typeof o.query === 'string' && typeof o.document === 'string' ? { query: o.query, document: o.document } : 'expected {"query": str, "document": str}';
  });
  if (!r.items.length) throw new UsageError(`${file} has no valid pair: each line must be {"query": str, "document": str}`);
  return r.items;
}

/** What a serving folder needs besides config.json and the graph: tokenizer files and the model card. */
const SERVING_FILES = /^(tokenizer(_config)?\.json|special_tokens_map\.json|added_tokens\.json|vocab\.(txt|json)|merges\.txt|sentencepiece\.bpe\.model|spiece\.model|README\.md)$/;

async function exportOnnxCommand(values: Values): Promise<number> {
  const spec = values.model;
  if (!spec) throw new UsageError('--onnx needs --model DIR (the fine-tuned model folder)');
  const local = existsSync(spec);
  if (!local && !values.out) throw new UsageError(`${spec} is not a folder here; give --out DIR to write the export somewhere`);
  const out = values.out ?? spec;
  if (existsSync(join(out, ONNX_MODEL_PATH)) && !values.force) {
    console.error(`${join(out, ONNX_MODEL_PATH)} exists already; add --force to replace it`);
    return 1;
  }
  const bar = createProgressBar();
  const files = await modelFiles(spec, bar.onProgress);
  const model = await loadHfFolder(files, { onProgress: bar.onProgress });
  bar.stop();
  for (const n of model.notes) console.error(`model: ${n}`);
  if (model.newHead.length) console.error('warning: this folder has no trained classification head (a random one was made): is it the fine-tuned model?');
  const t0 = Date.now();
  const r = onnxFolderFiles(model, files, { externalData: values['external-data'] ? true : undefined, metadata: { source: local ? resolve(spec) : spec } });
  const toWrite = new Map<string, Uint8Array | Uint8Array[]>(r.files);
  if (values.out) for (const [k, v] of model.extraFiles) if (SERVING_FILES.test(k) && !toWrite.has(k)) toWrite.set(k, v);
  const written = await writeExportFolder(out, toWrite);
  const c = model.config;
  console.log(`Wrote ${written.length} file(s) to ${out} in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${[...r.files.keys()].join(', ')}${values.out ? ' and the tokenizer files' : ''} (${(r.bytes / 1024 ** 2).toFixed(1)} MB)`);
  console.log(`ONNX opset ${ONNX_OPSET}: inputs ${r.inputNames.join(', ')} (int64 [batch_size, sequence_length]) → logits [batch_size, ${c.numLabels}]`);
  console.log(`Serve it: onnxruntime.InferenceSession("${join(out, ONNX_MODEL_PATH)}"), or transformers.js AutoModelForSequenceClassification.from_pretrained on ${out}`);
  if (!values.verify) return 0;
  return verifyOnnx(model, out, values.pairs ? await readPairs(values.pairs) : SAMPLE_PAIRS);
}

async function verifyOnnx(model: HfModel, out: string, pairs: { query: string; document: string }[]): Promise<number> {
  const ort = await import('onnxruntime-web');
  const external = existsSync(join(out, ONNX_DATA_PATH)) ? new Uint8Array(await readFile(join(out, ONNX_DATA_PATH))) : undefined;
  const session = await openOnnx(ort, new Uint8Array(await readFile(join(out, ONNX_MODEL_PATH))), external);
  const maxLength = Math.min(512, model.config.maxSequenceLength);
  const batch = model.tokenizer.encodePairs(pairs.map((p) => p.query), pairs.map((p) => p.document), { maxLength });
  const onnx = await onnxLogits(ort, session, batch);
  const rt = await GpuRuntime.create();
  let engine: Float32Array;
  try {
    const gm = await GpuModel.create(rt, model.config, model.params);
    engine = await gm.score(batch);
    gm.release();
  } finally {
    rt.destroy();
  }
  const d = maxAbsDiff(onnx, engine);
  const ok = d <= ONNX_LOGITS_TOLERANCE;
  console.log(`verify: ${pairs.length} pair(s), max |onnxruntime-web − engine| = ${d.toExponential(2)} (${ok ? 'within' : 'OVER'} ${ONNX_LOGITS_TOLERANCE}) on ${rt.info.name}`);
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------------------------
// --recipe

async function readExamples(file: string): Promise<TrainExample[]> {
  const r = await readJsonlFile(file, checkExample);
  if (!r.items.length) throw new UsageError(`${file} has no valid example${r.errors.length ? ` (${r.errors.length} bad line(s))` : ''}: each line must be {"query": str, "pos": [str, …], "neg": [str, …]}`);
  return r.items;
}

async function settingsFrom(values: Values): Promise<{ options: TrainOptions; provenance: string[] }> {
  let options: TrainOptions = { ...TRAIN_DEFAULTS };
  const provenance: string[] = [];
  const run = values['from-run'];
  if (run) {
    const file = join(run, 'rerank_lab_train.json');
    let saved: { options?: Partial<TrainOptions> };
    try {
      saved = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new UsageError(`--from-run: cannot read ${file} (${(e as Error).message}); it is written by \`rerank-lab train\` next to the model`);
    }
    if (!saved.options || typeof saved.options !== 'object') throw new UsageError(`--from-run: ${file} has no "options"`);
    options = { ...options, ...saved.options };
    provenance.push(`settings of the training run in ${resolve(run)} (rerank_lab_train.json)`);
  } else {
    provenance.push("rerank-lab train's defaults, except the flags given to export");
  }
  const set = <K extends keyof TrainOptions>(k: K, flag: keyof typeof RECIPE_OPTIONS) => {
    const v = values[flag];
    if (typeof v === 'number') {
      (options[k] as number) = v;
      provenance.push(`--${flag} ${v}`);
    }
  };
  if (values.loss !== undefined) {
    options.loss = values.loss as TrainOptions['loss'];
    provenance.push(`--loss ${values.loss}`);
  }
  set('batchSize', 'batch');
  set('groupSize', 'group-size');
  set('epochs', 'epochs');
  set('lr', 'lr');
  set('warmupRatio', 'warmup-ratio');
  set('maxLength', 'max-length');
  set('seed', 'seed');
  set('gradAccum', 'grad-accum');
  set('weightDecay', 'weight-decay');
  set('maxGradNorm', 'max-grad-norm');
  set('dropout', 'dropout');
  if (options.batchSize < 1 || options.groupSize < 2 || options.epochs < 1 || options.maxLength < 8) {
    throw new UsageError(`settings out of range: batch ${options.batchSize} (≥ 1), group size ${options.groupSize} (≥ 2), epochs ${options.epochs} (≥ 1), max length ${options.maxLength} (≥ 8)`);
  }
  return { options, provenance };
}

async function exportRecipeCommand(values: Values): Promise<number> {
  const dir = values.recipe!;
  if (!values.data) throw new UsageError('--recipe needs --data train.jsonl (FlagEmbedding JSONL, as `mine` writes it)');
  if (!values.model) throw new UsageError('--recipe needs --model BASE: the model the recipe fine-tunes (a hub id such as BAAI/bge-reranker-base, or a folder)');
  if (existsSync(dir) && (await readdir(dir)).length > 0 && !values.force) {
    console.error(`${dir} is not empty; add --force to write the recipe into it anyway (files of the same name are replaced)`);
    return 1;
  }
  const { options, provenance } = await settingsFrom(values);
  const train = await readExamples(values.data);
  const val = values.val ? await readExamples(values.val) : undefined;
  const spec = values.model;
  let scored: ScoredExample[] = train;
  let scoredVal: ScoredExample[] | undefined = val;
  if (values['teacher-scores']) [scored, scoredVal] = await teacherScores(spec, [train, val ?? []], options.maxLength);
  const files = await recipeFiles({
    baseModel: existsSync(spec) ? resolve(spec) : spec,
    train: scored,
    val: val ? scoredVal : undefined,
    options,
    provenance: [...provenance, values['teacher-scores'] ? `teacher scores: raw logits of ${spec} computed by Rerank Lab's engine at max length ${options.maxLength}` : ''].filter(Boolean),
  });
  const written = await writeExportFolder(dir, files);
  console.log(`Wrote the recipe (${written.length} files) to ${dir}: ${train.length} training example(s)${val ? `, ${val.length} validation` : ''}${values['teacher-scores'] ? ', with teacher scores' : ''}`);
  console.log(`Run it on the GPU machine: cd ${dir} && pip install -r requirements.txt && bash run.sh   (see ${join(dir, 'README.md')})`);
  return 0;
}

/** The base model's raw logits for every pair of each set, on this machine's GPU. */
async function teacherScores(spec: string, sets: TrainExample[][], maxLength: number): Promise<ScoredExample[][]> {
  const bar = createProgressBar();
  const model = await loadHfFolder(await modelFiles(spec, bar.onProgress), { onProgress: bar.onProgress });
  if (model.newHead.length) console.error(`warning: ${spec} has no classification head; its "teacher scores" would come from a random head`);
  const length = Math.min(maxLength, model.config.maxSequenceLength);
  const rt = await GpuRuntime.create();
  const ac = abortOnSigint();
  try {
    const gm = await GpuModel.create(rt, model.config, model.params);
    const out: ScoredExample[][] = [];
    for (const examples of sets) {
      out.push(await addTeacherScores(examples, async (q, d) => gm.score(model.tokenizer.encodePairs(q, d, { maxLength: length })), { onProgress: bar.onProgress, signal: ac.signal, batch: 16 }));
    }
    gm.release();
    return out;
  } finally {
    bar.stop();
    rt.destroy();
  }
}
