// "When one GPU is not enough": the lab's dataset in FlagEmbedding's reranker JSONL and a ready-to-run recipe folder
// for multi-GPU training with sentence-transformers' CrossEncoderTrainer under torchrun, carrying the
// hyper-parameters and the batch size chosen in the lab.
//
//   recipe/
//     README.md            how to run it (one GPU, N GPUs, several nodes), what each setting is and where it came from
//     recipe.json          the settings (train_reranker.py reads them; its flags override them)
//     train_reranker.py    the training script (src/export/recipe/train_reranker.py)
//     run.sh               torchrun --nproc_per_node=${NPROC:-<GPUs>} train_reranker.py "$@"
//     requirements.txt     sentence-transformers[train] (torch: the user's CUDA build)
//     data/train.jsonl     {"query", "pos", "neg"[, "pos_scores", "neg_scores"]} per line
//     data/val.jsonl       same format, when there is a validation set

import type { TrainExample, TrainOptions } from '../train/types.ts';
import { throwIfAborted, type LongRunning } from '../util/progress.ts';
import { RECIPE_SCRIPT, recipeScript } from './recipe-script.ts';

/** A FlagEmbedding example, with the base model's logits as teacher scores when they were computed. */
export interface ScoredExample extends TrainExample {
  pos_scores?: number[];
  neg_scores?: number[];
}

export interface RecipeInput {
  /** The model the recipe fine-tunes, as the GPU machine will reach it: a hub id, or a path there. */
  baseModel: string;
  train: readonly ScoredExample[];
  val?: readonly ScoredExample[];
  /** The lab's settings (batchSize = query groups per step on one GPU, as the probe or the user chose). */
  options: TrainOptions;
  /** Where the settings came from, for the README (e.g. "batch size 8: the probe's recommendation on RTX 3090"). */
  provenance?: string[];
  createdAt?: string;
}

/** The lab's defaults where TrainOptions leaves a field out (same as the trainer's). */
const DEFAULTS = { weightDecay: 0.01, maxGradNorm: 1.0, gradAccum: 1 };

/** FlagEmbedding JSONL: one example per line, teacher scores kept when present. */
export function flagEmbeddingJsonl(examples: readonly ScoredExample[]): string {
  let out = '';
  for (const e of examples) {
    const row: ScoredExample = { query: e.query, pos: e.pos, neg: e.neg };
    if (e.pos_scores) row.pos_scores = e.pos_scores.map(round6);
    if (e.neg_scores) row.neg_scores = e.neg_scores.map(round6);
    out += JSON.stringify(row) + '\n';
  }
  return out;
}

const round6 = (x: number) => Number(x.toFixed(6));

/** Scores one batch of pairs: raw logits, one per pair, in order. */
export type PairScorer = (queries: string[], documents: string[]) => Promise<ArrayLike<number>>;

/**
 * Adds pos_scores / neg_scores (the scorer's raw logits: FlagEmbedding's teacher scores) to every example, scoring
 * `batch` pairs at a time, with progress and cancellation.
 */
export async function addTeacherScores(examples: readonly TrainExample[], score: PairScorer, opts: LongRunning & { batch?: number } = {}): Promise<ScoredExample[]> {
  const pairs: { q: string; d: string }[] = [];
  for (const e of examples) for (const d of [...e.pos, ...e.neg]) pairs.push({ q: e.query, d });
  const batch = opts.batch ?? 32;
  const logits = new Float64Array(pairs.length);
  for (let i = 0; i < pairs.length; i += batch) {
    throwIfAborted(opts.signal);
    const part = pairs.slice(i, i + batch);
    const got = await score(part.map((p) => p.q), part.map((p) => p.d));
    if (got.length !== part.length) throw new Error(`the teacher returned ${got.length} scores for ${part.length} pairs`);
    for (let j = 0; j < part.length; j++) {
      if (!Number.isFinite(got[j])) throw new Error(`the teacher's score for pair ${i + j + 1} is not finite (${got[j]}): the base model is broken, or the pair is empty`);
      logits[i + j] = got[j];
    }
    opts.onProgress?.({ stage: 'teacher-scores', done: Math.min(pairs.length, i + batch), total: pairs.length });
  }
  let at = 0;
  return examples.map((e) => {
    const pos_scores = Array.from(logits.subarray(at, at + e.pos.length));
    at += e.pos.length;
    const neg_scores = Array.from(logits.subarray(at, at + e.neg.length));
    at += e.neg.length;
    return { ...e, pos_scores, neg_scores };
  });
}

/** recipe.json: what train_reranker.py reads. Paths are relative to the recipe folder. */
export function recipeSettings(input: RecipeInput): Record<string, unknown> {
  const o = input.options;
  return {
    base_model: input.baseModel,
    train_file: 'data/train.jsonl',
    val_file: input.val?.length ? 'data/val.jsonl' : null,
    loss: o.loss,
    group_size: o.groupSize,
    per_device_batch_groups: o.batchSize,
    gradient_accumulation_steps: o.gradAccum ?? DEFAULTS.gradAccum,
    epochs: o.epochs,
    learning_rate: o.lr,
    warmup_ratio: o.warmupRatio,
    weight_decay: o.weightDecay ?? DEFAULTS.weightDecay,
    max_grad_norm: o.maxGradNorm ?? DEFAULTS.maxGradNorm,
    max_length: o.maxLength,
    seed: o.seed,
    hidden_dropout_prob: o.dropout ?? null,
    teacher_scores: input.train.some((e) => e.pos_scores !== undefined),
    output_dir: 'output',
    logging_steps: 10,
    exported_by: 'rerank-lab 0.1.0',
    exported_at: input.createdAt ?? new Date().toISOString(),
  };
}

function readme(input: RecipeInput, s: Record<string, unknown>): string {
  const o = input.options;
  const scored = s.teacher_scores === true;
  const pairs = input.train.reduce((n, e) => n + e.pos.length + e.neg.length, 0);
  const isPath = /^(\/|\.|[A-Za-z]:\\)/.test(input.baseModel) || input.baseModel.split('/').length > 2;
  return `# Multi-GPU reranker training recipe (from Rerank Lab)

Fine-tunes \`${input.baseModel}\` as a cross-encoder reranker on ${input.train.length} training example(s)
(${pairs} query–document pairs)${input.val?.length ? ` with ${input.val.length} validation example(s)` : ''}, using
sentence-transformers' \`CrossEncoderTrainer\` and PyTorch DDP, with the settings chosen in Rerank Lab.

## Run it

\`\`\`bash
pip install -r requirements.txt        # after installing the torch build for your CUDA: https://pytorch.org/get-started/locally/
bash run.sh                            # all GPUs of this machine (torchrun --nproc_per_node=<GPUs>)
NPROC=4 bash run.sh                    # four of them
python train_reranker.py               # one GPU, no torchrun
# several machines: on each, with the same HOST:PORT
torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 train_reranker.py
\`\`\`

Every setting below can be overridden on the command line (\`python train_reranker.py --help\`), e.g.
\`--model /data/models/base\`${isPath ? ' (the base model path above is the one on the machine that exported this recipe: copy the folder along, or point --model at it)' : ''},
\`--epochs 1\`, \`--per-device-batch-groups 16\`, \`--loss bce\`.

A checkpoint is saved after each epoch (the last two are kept): \`--resume\` continues an interrupted run.
The result: \`output/final\` — a Hugging Face folder that sentence-transformers (\`CrossEncoder("output/final")\`),
transformers and Rerank Lab load. \`output/train_log.jsonl\` has the loss per logging step, \`output/run_summary.json\`
the world size, steps, losses and whether every process ended with the same weights.

## Settings (recipe.json)

| setting | value | meaning |
|---|---|---|
| loss | ${o.loss} | ${o.loss === 'listwise' ? 'softmax cross-entropy over each query group (positive first), as FlagEmbedding trains rerankers' : 'binary cross-entropy on each pair (1 for the positive, 0 for negatives)'} |
| group_size | ${o.groupSize} | documents per query: 1 positive + ${o.groupSize - 1} hard negatives (sampled once per run, seeded) |
| per_device_batch_groups | ${o.batchSize} | query groups per GPU per micro-batch (${o.batchSize * o.groupSize} pairs): what fitted one GPU in the lab |
| gradient_accumulation_steps | ${s.gradient_accumulation_steps} | micro-batches per optimizer step |
| epochs | ${o.epochs} | |
| learning_rate | ${o.lr} | peak, linear warmup then linear decay |
| warmup_ratio | ${o.warmupRatio} | |
| weight_decay | ${s.weight_decay} | AdamW, not on biases and LayerNorm |
| max_grad_norm | ${s.max_grad_norm} | gradient clipping |
| max_length | ${o.maxLength} | tokens per pair, document cut first (as in the lab; longest-first if some query alone is too long) |
| seed | ${o.seed} | |
| hidden_dropout_prob | ${o.dropout ?? "the model's own"} | |
| precision | bf16 where the GPU supports it, else fp32 | the lab trains in fp32; \`--precision fp32\` to match it exactly |

The global batch is per_device_batch_groups × GPUs × gradient_accumulation_steps query groups: with N GPUs it is
N times the lab's. If you want the lab's exact batch instead, divide \`--per-device-batch-groups\` by N (or raise
the learning rate, roughly with √N, when you keep the larger batch).
${input.provenance?.length ? `\nWhere the settings came from:\n${input.provenance.map((p) => `- ${p}`).join('\n')}\n` : ''}
## Data (data/train.jsonl${input.val?.length ? ', data/val.jsonl' : ''})

FlagEmbedding's reranker format, one JSON object per line: \`{"query": str, "pos": [str], "neg": [str]}\`${scored
    ? `, plus
\`pos_scores\` / \`neg_scores\`: the base model's raw logits for each positive and negative (teacher scores). Train on
them with \`--loss distill\` (ListNet: the student's softmax over a group follows the teacher's), or use the file
with FlagEmbedding's own reranker trainer, which reads the same fields.`
    : '. No teacher scores were computed (`rerank-lab export --recipe … --teacher-scores` adds `pos_scores` / `neg_scores`).'}

The same file trains with FlagEmbedding's own reranker trainer too (an alternative; our checks run only
train_reranker.py):

\`\`\`bash
pip install FlagEmbedding
torchrun --nproc_per_node=N -m FlagEmbedding.finetune.reranker.encoder_only.base \\
  --model_name_or_path ${input.baseModel} --train_data data/train.jsonl --output_dir output-flag \\
  --train_group_size ${o.groupSize} --per_device_train_batch_size ${o.batchSize} --gradient_accumulation_steps ${s.gradient_accumulation_steps} \\
  --learning_rate ${o.lr} --num_train_epochs ${o.epochs} --warmup_ratio ${o.warmupRatio} --weight_decay ${s.weight_decay} \\
  --query_max_len ${Math.min(64, o.maxLength)} --passage_max_len ${o.maxLength} --seed ${o.seed} --logging_steps 10${scored ? ' \\\n  --knowledge_distillation True' : ''}
\`\`\`

## Checked

\`train_reranker.py\` is run by Rerank Lab's own checks (\`npm run check:python\`, tests/python/check_recipe.py): two
processes on CPU with the gloo backend (\`torchrun --nproc_per_node=2 train_reranker.py --cpu --max-steps 4\`), a tiny
model, checking the loss at every step and that both processes end with the same weights. Tested with
sentence-transformers 6.2, transformers 5.24, torch 2.15.
`;
}

/** Every file of the recipe folder (relative names, data/ included). */
export async function recipeFiles(input: RecipeInput): Promise<Map<string, Uint8Array>> {
  if (!input.train.length) throw new Error('the recipe needs at least one training example');
  if (!input.baseModel.trim()) throw new Error('the recipe needs the base model (a hub id such as BAAI/bge-reranker-base, or a folder path)');
  const s = recipeSettings(input);
  const enc = new TextEncoder();
  const files = new Map<string, Uint8Array>();
  files.set('README.md', enc.encode(readme(input, s)));
  files.set('recipe.json', enc.encode(JSON.stringify(s, null, 2) + '\n'));
  files.set(RECIPE_SCRIPT, enc.encode(await recipeScript()));
  files.set('run.sh', enc.encode(`#!/usr/bin/env bash
# Trains on every GPU of this machine (or NPROC of them). Extra arguments go to train_reranker.py.
set -euo pipefail
cd "$(dirname "$0")"
NPROC=\${NPROC:-$(python -c 'import torch; print(max(1, torch.cuda.device_count()))')}
exec torchrun --standalone --nproc_per_node="$NPROC" ${RECIPE_SCRIPT} "$@"
`));
  files.set('requirements.txt', enc.encode('# Install the torch build for your CUDA first: https://pytorch.org/get-started/locally/\ntorch>=2.2\nsentence-transformers[train]>=6.2,<7\n'));
  files.set('data/train.jsonl', enc.encode(flagEmbeddingJsonl(input.train)));
  if (input.val?.length) files.set('data/val.jsonl', enc.encode(flagEmbeddingJsonl(input.val)));
  return files;
}
