// Issue 15's experiment: does the lab make a real pretrained reranker better, as well as sentence-transformers does?
//
//   npx tsx scripts/experiment/run.ts prepare --out DIR [--squad FILE] [--eval FILE] [settings]   (here: needs jieba)
//   npx tsx scripts/experiment/run.ts run --dir DIR --model BASE_DIR [--cli "CMD"] [--python PY]  (GPU + Python)
//   npx tsx scripts/experiment/run.ts report --dir DIR
//   npx tsx scripts/experiment/run.ts all --out DIR --model BASE_DIR [...]                      (the three in turn)
//
// prepare: SQuAD-format questions and paragraphs → chunks → mined training/validation sets (`mine`'s defaults, split
//   by article), the validation lists every run reranks (src/eval/candidates.ts buildRerankSet on val.jsonl, the call
//   `rerank-lab train` makes: each query's BM25 top --depth of the validation documents + its positives, exported as
//   JSON for the Python side), the training steps of every epoch, and the settings, fixed here so every run uses them.
// run: the recipe resolved once for the base model by the trainer's own rule (dropout from config.json, BCE
//   pos_weight = negatives per group) and passed explicitly to both trainings; 1. BM25's order; 4. sentence-
//   transformers' CrossEncoder trained on the same steps (tests/python/experiment/st_run.py); 2. the base model scored
//   by our engine (and by sentence-transformers, a cross-check); 3. `rerank-lab train` on WebGPU, its export scored by
//   our engine and by sentence-transformers (the same scores: the export check).
//   Our engine goes last: on the GPU machine it is the riskiest part, and the others are written by then.
//   Every run writes one logit per list entry (DIR/runs/<run>/<set>.scores.jsonl).
// report: src/eval/ranking.ts rerankMetrics (through report.ts) computes every metric from those files →
//   DIR/report.json and a printed table.
//
// BASE_DIR is a cross-encoder folder (tests/python/experiment/models.py fetch + base). On the GPU machine this runs
// bundled (scripts/device-experiment-prepare.sh) with --cli "node .devbuild/rerank-lab.mjs".

import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseModelConfig } from '../../src/model/config.ts';
import type { ResolvedTrainOptions } from '../../src/train/checkpoint.ts';
import { resolveTrainOptions, TrainOptionsError } from '../../src/train/trainer.ts';
import { evalFileLists, type Lists, pairsOf, parseSquad, prepareSplit, splitByList, trainingSteps, validationLists } from './data.ts';
import { bm25Scores, gapTable, gapTableText, metricsOf, parseScoreLines, type RerankMetrics, type RunRow, runsTable } from './report.ts';

const DEFAULT_SQUAD = 'tests/fixtures/data/cmrc2018-trial.json';

/** The hyper-parameters every training run shares (fixed at prepare time). */
export interface Settings {
  loss: 'listwise' | 'bce';
  lr: number;
  epochs: number;
  batch: number;
  groupSize: number;
  maxLength: number;
  warmupRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  valRatio: number;
  depth: number;
  scoreBatch: number;
  /** Share of each group's negatives drawn at random (the trainer's --random-negatives; 0: mined hard ones only). */
  randomNegatives: number;
  /** bce only, torch's pos_weight in both runs; null: the negatives per group (groupSize − 1), the trainer's default
   * and sentence-transformers v4's reranker recipe (BinaryCrossEntropyLoss(pos_weight=num_negatives)). */
  posWeight: number | null;
  /** Hidden, attention and classifier dropout in both runs; null: the base model's config.json (resolved at `run`
   * by the trainer's own rule, then passed to both explicitly). */
  dropout: number | null;
  attentionDropout: number | null;
  classifierDropout: number | null;
}

const DEFAULTS: Settings = {
  loss: 'bce', lr: 5e-5, epochs: 2, batch: 16, groupSize: 8, maxLength: 256, warmupRatio: 0.1, weightDecay: 0.01,
  maxGradNorm: 1.0, seed: 42, valRatio: 0.2, depth: 30, scoreBatch: 64, randomNegatives: 0, posWeight: null,
  dropout: null, attentionDropout: null, classifierDropout: null,
};

const SETTING_FLAGS: Record<string, keyof Settings> = {
  loss: 'loss', lr: 'lr', epochs: 'epochs', batch: 'batch', 'group-size': 'groupSize', 'max-length': 'maxLength',
  'warmup-ratio': 'warmupRatio', 'weight-decay': 'weightDecay', 'max-grad-norm': 'maxGradNorm', seed: 'seed',
  'val-ratio': 'valRatio', depth: 'depth', 'score-batch': 'scoreBatch', 'random-negatives': 'randomNegatives',
  'pos-weight': 'posWeight', dropout: 'dropout', 'attention-dropout': 'attentionDropout', 'classifier-dropout': 'classifierDropout',
};

/** The best epoch of both trainings is picked by this, over the validation lists (epoch 0, the base, a candidate). */
const SELECT_BY = 'ndcg@10';

/**
 * The full recipe of runs 3 and 4 for one base model: the trainer's own option resolution (src/train/trainer.ts
 * resolveTrainOptions: dropout from config.json, BCE pos_weight = negatives per group), so what sentence-transformers
 * is given is what `rerank-lab train` would use; both then get every value explicitly.
 */
export function resolveRecipe(s: Settings, configJson: string): ResolvedTrainOptions {
  try {
    return resolveTrainOptions(parseModelConfig(configJson), {
      loss: s.loss, batchSize: s.batch, groupSize: s.groupSize, epochs: s.epochs, lr: s.lr, warmupRatio: s.warmupRatio,
      maxLength: s.maxLength, seed: s.seed, weightDecay: s.weightDecay, maxGradNorm: s.maxGradNorm,
      dropout: s.dropout ?? undefined, attentionDropout: s.attentionDropout ?? undefined, classifierDropout: s.classifierDropout ?? undefined,
      posWeight: s.posWeight ?? undefined, randomNegatives: s.randomNegatives, selectBy: SELECT_BY, valCandidates: s.depth,
    });
  } catch (e) {
    if (e instanceof TrainOptionsError) throw new UsageError(`the experiment's settings (checked as rerank-lab train checks them): ${e.message}`);
    throw e;
  }
}

/** `rerank-lab train`'s flags for the recipe (the query cap and gradient accumulation stay off: sentence-transformers has neither). */
export function engineTrainFlags(r: ResolvedTrainOptions): string[] {
  return [
    '--loss', r.loss, '--batch', String(r.batchSize), '--group-size', String(r.groupSize), '--epochs', String(r.epochs), '--lr', String(r.lr),
    '--warmup-ratio', String(r.warmupRatio), '--max-length', String(r.maxLength), '--seed', String(r.seed), '--weight-decay', String(r.weightDecay),
    '--max-grad-norm', String(r.maxGradNorm), '--dropout', String(r.dropout), '--attention-dropout', String(r.attentionDropout),
    '--classifier-dropout', String(r.classifierDropout), ...(r.loss === 'bce' ? ['--pos-weight', String(r.posWeight)] : []),
    '--random-negatives', String(r.randomNegatives), '--select-by', r.selectBy, '--val-candidates', String(r.valCandidates),
  ];
}

/** tests/python/experiment/st_run.py train's flags for the same recipe (the groups and steps come from steps.json). */
export function stTrainFlags(r: ResolvedTrainOptions): string[] {
  return [
    '--loss', r.loss, '--lr', String(r.lr), '--warmup-ratio', String(r.warmupRatio), '--weight-decay', String(r.weightDecay),
    '--max-grad-norm', String(r.maxGradNorm), '--max-length', String(r.maxLength), '--seed', String(r.seed),
    '--dropout', String(r.dropout), '--attention-dropout', String(r.attentionDropout), '--classifier-dropout', String(r.classifierDropout),
    ...(r.loss === 'bce' ? ['--pos-weight', String(r.posWeight)] : []),
  ];
}

const log = (s: string) => console.error(`[experiment ${new Date().toISOString().slice(11, 19)}] ${s}`);
const readJson = async <T>(p: string): Promise<T> => JSON.parse(await readFile(p, 'utf8')) as T;
const writeJson = (p: string, v: unknown) => writeFile(p, JSON.stringify(v, null, 2) + '\n');
const jsonl = (items: readonly unknown[]) => items.map((x) => JSON.stringify(x)).join('\n') + '\n';

class UsageError extends Error {}

function settingsFrom(values: Record<string, unknown>): Settings {
  const s: Settings = { ...DEFAULTS };
  for (const [flag, key] of Object.entries(SETTING_FLAGS)) {
    const v = values[flag];
    if (v === undefined) continue;
    if (key === 'loss') {
      if (v !== 'listwise' && v !== 'bce') throw new UsageError(`--loss must be listwise or bce, got '${String(v)}'`);
      s.loss = v;
      continue;
    }
    const n = Number(v);
    if (!Number.isFinite(n) || String(v).trim() === '') throw new UsageError(`--${flag} must be a number, got '${String(v)}'`);
    (s[key] as number) = n;
  }
  if (!(s.valRatio > 0 && s.valRatio < 1)) throw new UsageError(`--val-ratio must be between 0 and 1 (got ${s.valRatio})`);
  if (s.posWeight !== null && s.loss !== 'bce') throw new UsageError(`--pos-weight applies to the bce loss only (the loss is ${s.loss}); leave it out`);
  // everything but the model's own figures is checked now, against a stand-in config, rather than on the GPU machine
  resolveRecipe(s, JSON.stringify({ model_type: 'bert', vocab_size: 2, hidden_size: 4, num_hidden_layers: 1, num_attention_heads: 1, intermediate_size: 4, max_position_embeddings: Math.max(512, s.maxLength) }));
  return s;
}

// ---- prepare ---------------------------------------------------------------------------------------------------

async function prepare(out: string, squadFile: string, evalFiles: string[], s: Settings, limits: { train?: number; val?: number }): Promise<void> {
  const data = join(out, 'data');
  await mkdir(data, { recursive: true });
  log(`mining ${squadFile} (mine's defaults, ${Math.round(s.valRatio * 100)}% of the articles held out for validation)`);
  const p = await prepareSplit(parseSquad(await readFile(squadFile, 'utf8'), squadFile), s.valRatio, s.seed);
  const train = limits.train ? p.train.slice(0, limits.train) : p.train;
  const val = limits.val ? p.val.slice(0, limits.val) : p.val;
  if (!train.length || !val.length) throw new UsageError(`${squadFile} gave ${train.length} training and ${val.length} validation examples: both must be non-empty (more articles, or another --val-ratio)`);
  // the lists search every validation document; --limit-val keeps the first N lists (a sample of the real lists)
  // the lists the trainer builds from val.jsonl (the same call on the same examples): --limit-val shrinks both alike
  const lists = await validationLists(val, s.depth);
  const sets: Record<string, Lists> = { val: lists };
  for (const [i, f] of evalFiles.entries()) {
    const name = `eval${i + 1}`;
    const l = await evalFileLists(parseSquad(await readFile(f, 'utf8'), f), s.depth, limits.val);
    log(`${f}: ${l.lists.length} questions over ${l.corpus} chunks (${l.unplaced} without a chunk holding their answer)`);
    sets[name] = l;
  }
  const steps = trainingSteps(train, { groupSize: s.groupSize, seed: s.seed, epochs: s.epochs, batchSize: s.batch, randomNegatives: s.randomNegatives });
  await writeFile(join(data, 'train.jsonl'), jsonl(train));
  await writeFile(join(data, 'val.jsonl'), jsonl(val));
  for (const [name, l] of Object.entries(sets)) {
    await writeJson(join(data, `${name}.lists.json`), l);
    await writeFile(join(data, `${name}.pairs.jsonl`), jsonl(pairsOf(l)));
  }
  await writeJson(join(data, 'steps.json'), { settings: s, epochs: steps });
  // every text a run tokenizes: what the model's travel form must keep (tests/python/experiment/models.py pack)
  const texts = new Set<string>();
  for (const e of [...train, ...val]) for (const t of [e.query, ...e.pos, ...e.neg]) texts.add(t);
  for (const l of Object.values(sets)) for (const x of l.lists) for (const t of [x.query, ...x.docs]) texts.add(t);
  await writeFile(join(data, 'texts.jsonl'), jsonl([...texts]));
  const info = {
    squad: squadFile, eval: evalFiles, chunks: p.chunks, unplacedQuestions: p.unplaced, mine: p.stats,
    train: train.length, val: val.length, limits,
    lists: Object.fromEntries(Object.entries(sets).map(([k, l]) => [k, { queries: l.lists.length, corpus: l.corpus, depth: l.depth, pairs: l.pairs, positivesRetrieved: l.positivesRetrieved, bm25: l.bm25 }])),
    stepsPerEpoch: steps.map((e) => e.length),
  };
  await writeJson(join(data, 'settings.json'), s);
  await writeJson(join(data, 'prepare.json'), info);
  log(`prepared ${train.length} training / ${val.length} validation queries, ${lists.lists.length} validation lists over ${lists.corpus} documents, ${steps[0].length} steps per epoch → ${data}`);
}

// ---- run -------------------------------------------------------------------------------------------------------

/** Runs a command, its output shown and kept in `logFile` (stdout only kept with quiet); resolves with stdout. Fails on a
 * non-zero exit. */
function runLogged(cmd: string[], logFile: string, o: { quiet?: boolean } = {}): Promise<string> {
  return new Promise((res, rej) => {
    log(`$ ${cmd.join(' ')}`);
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const file = createWriteStream(logFile);
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      if (o.quiet) return;
      file.write(b);
      process.stderr.write(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      file.write(b);
      process.stderr.write(b);
    });
    child.on('error', (e) => rej(new Error(`${cmd[0]} could not start: ${e.message}`)));
    child.on('close', (code) => {
      file.end();
      if (code === 0) res(stdout);
      else rej(new Error(`${cmd.slice(0, 4).join(' ')} … exited with ${code} (log: ${logFile})`));
    });
  });
}

const splitCmd = (s: string) => s.split(/\s+/).filter(Boolean);

interface RunOptions {
  dir: string;
  model: string;
  cli: string[];
  python: string;
  stMaxSteps?: number;
}

/** Our engine's logits for each set's pairs through `rerank-lab score` (issue 11): runs/<run>/<set>.scores.jsonl. */
async function scoreSetsWithEngine(o: RunOptions, s: Settings, modelDir: string, runName: string, sets: string[]): Promise<void> {
  await mkdir(join(o.dir, 'runs', runName), { recursive: true });
  for (const set of sets) {
    const pairsFile = join(o.dir, 'data', `${set}.pairs.jsonl`);
    const t0 = performance.now();
    const stdout = await runLogged([...o.cli, 'score', '--model', modelDir, '--pairs', pairsFile, '--max-length', String(s.maxLength), '--batch', String(s.scoreBatch)],
      join(o.dir, 'runs', runName, `score-${set}.log`), { quiet: true });
    const logits = parseScoreLines(stdout, `rerank-lab score (${runName}/${set})`);
    await writeFile(join(o.dir, 'runs', runName, `${set}.scores.jsonl`), jsonl(logits.map((logit) => ({ logit }))));
    log(`${runName}/${set}: ${logits.length} pairs in ${((performance.now() - t0) / 1000).toFixed(1)} s (rerank-lab score)`);
  }
}

/** Scores (model, set) jobs through sentence-transformers in one Python process: runs/<run>/<set>.scores.jsonl. */
async function scoreWithSt(o: RunOptions, s: Settings, jobs: { model: string; run: string; set: string }[]): Promise<void> {
  const args = jobs.flatMap((j) => ['--job', j.model, join(o.dir, 'data', `${j.set}.pairs.jsonl`), join(o.dir, 'runs', j.run, `${j.set}.scores.jsonl`)]);
  await runLogged([o.python, 'tests/python/experiment/st_run.py', 'score', ...args, '--max-length', String(s.maxLength), '--batch', String(s.scoreBatch)], join(o.dir, 'runs', 'st', 'score.log'));
}

/** Training time and pairs/s of `rerank-lab train` from its last step line (pairs/s over every step so far). */
export function oursTiming(stdout: string, totalPairs: number): { trainSeconds: number; pairsPerSec: number } | undefined {
  const steps = [...stdout.matchAll(/^step (\d+)\/(\d+).*?([\d.]+) pairs\/s/gm)];
  const last = steps.at(-1);
  if (!last) return undefined;
  const pps = Number(last[3]);
  return { pairsPerSec: pps, trainSeconds: totalPairs / pps };
}

async function run(o: RunOptions): Promise<void> {
  const s = await readJson<Settings>(join(o.dir, 'data', 'settings.json'));
  const prep = await readJson<{ lists: Record<string, unknown> }>(join(o.dir, 'data', 'prepare.json'));
  const sets = Object.keys(prep.lists);
  const runs = join(o.dir, 'runs');
  await rm(runs, { recursive: true, force: true });
  await mkdir(runs, { recursive: true });
  const timing: Record<string, unknown> = {};
  const recipe = resolveRecipe(s, await readFile(join(o.model, 'config.json'), 'utf8'));
  await writeJson(join(runs, 'recipe.json'), recipe);
  log(`recipe of runs 3 and 4: ${engineTrainFlags(recipe).join(' ')}`);

  // 1. BM25's order
  await mkdir(join(runs, 'bm25'), { recursive: true });
  for (const set of sets) {
    const l = await readJson<Lists>(join(o.dir, 'data', `${set}.lists.json`));
    await writeFile(join(runs, 'bm25', `${set}.scores.jsonl`), jsonl(bm25Scores(l).flat().map((logit) => ({ logit }))));
  }

  // 4. sentence-transformers first: on the GPU machine our engine is the riskiest part (its first real GPU run),
  // so it goes last and whatever it does, runs 1, 2 and 4 are written already
  const stArgs = [o.python, 'tests/python/experiment/st_run.py', 'train', '--base', o.model, '--steps', join(o.dir, 'data', 'steps.json'),
    '--lists', join(o.dir, 'data', 'val.lists.json'), '--out', join(runs, 'st'), ...stTrainFlags(recipe), '--score-batch', String(s.scoreBatch)];
  if (o.stMaxSteps) stArgs.push('--max-steps', String(o.stMaxSteps));
  await mkdir(join(runs, 'st'), { recursive: true });
  await runLogged(stArgs, join(runs, 'st', 'train.log'));
  await scoreWithSt(o, s, [
    ...sets.map((set) => ({ model: join(runs, 'st', 'model'), run: 'st', set })),
    { model: o.model, run: 'base-in-st', set: 'val' },
  ]);

  // 2. the base model scored by our engine
  await scoreSetsWithEngine(o, s, o.model, 'base', sets);

  // 3. our engine through the command line, its export scored by the engine and by sentence-transformers
  const steps = await readJson<{ epochs: { docs: string[] }[][][] }>(join(o.dir, 'data', 'steps.json'));
  const totalPairs = steps.epochs.flat(2).reduce((n, g) => n + g.docs.length, 0);
  const tuned = join(runs, 'ours', 'model');
  await mkdir(join(runs, 'ours'), { recursive: true });
  const t0 = performance.now();
  const stdout = await runLogged([...o.cli, 'train', '--model', o.model, '--data', join(o.dir, 'data', 'train.jsonl'), '--val', join(o.dir, 'data', 'val.jsonl'),
    '--out', tuned, ...engineTrainFlags(recipe), '--log-every', '1'], join(runs, 'ours', 'train.log'));
  const trainLog = await readJson<{ summary: TrainLogSummary }>(join(tuned, 'rerank_lab_train.json')).catch(() => undefined);
  timing.adapter = (await readFile(join(runs, 'ours', 'train.log'), 'utf8')).match(/^adapter: (.+)$/m)?.[1];
  timing.ours = { ...oursTiming(stdout, totalPairs), pairs: totalPairs, totalSeconds: (performance.now() - t0) / 1000, keptEpoch: trainLog?.summary.bestEpoch, summary: trainLog?.summary };
  const val = await readJson<Lists>(join(o.dir, 'data', 'val.lists.json'));
  const mismatch = sameListsAsTrainer(val, trainLog?.summary.validation);
  if (mismatch) throw new Error(`rerank-lab train validated on other lists than the experiment's: ${mismatch}`);
  await writeJson(join(runs, 'timing.json'), timing);
  await scoreSetsWithEngine(o, s, tuned, 'ours', sets);
  await scoreWithSt(o, s, [{ model: tuned, run: 'ours-in-st', set: 'val' }]);
  await writeJson(join(runs, 'timing.json'), timing);
}

/** What the experiment reads of `rerank-lab train`'s log (rerank_lab_train.json). */
interface TrainLogSummary {
  bestEpoch?: number;
  seconds?: number;
  validation?: { queries: number; documents: number; depth: number; bm25: RerankMetrics };
  evals?: { epoch: number; ranking?: RerankMetrics }[];
}

/** Why the trainer's validation lists are not the experiment's (their size, depth, corpus and BM25 figures), or
 * undefined when they agree: both come from buildRerankSet on val.jsonl, so any difference is a wiring fault. */
export function sameListsAsTrainer(l: Lists, v: TrainLogSummary['validation']): string | undefined {
  if (!v) return 'its log records no validation lists';
  const { queries: bm25Queries, ...bm25 } = l.bm25;
  const { queries: theirBm25Queries, ...theirBm25 } = v.bm25;
  const ours = { queries: l.lists.length, documents: l.corpus, depth: l.depth, bm25Queries, ...bm25 };
  const theirs = { queries: v.queries, documents: v.documents, depth: v.depth, bm25Queries: theirBm25Queries, ...theirBm25 };
  const diff = (Object.keys(ours) as (keyof typeof ours)[]).filter((k) => ours[k] !== theirs[k]);
  return diff.length ? diff.map((k) => `${k}: experiment ${ours[k]}, trainer ${theirs[k]}`).join('; ') : undefined;
}

// ---- baseline: runs 1 and 2 on the CPU through the Python reference ----------------------------------------------

/** BM25's order and the base model scored by sentence-transformers (CPU is enough for a sample), one table. */
async function baseline(o: RunOptions): Promise<void> {
  const s = await readJson<Settings>(join(o.dir, 'data', 'settings.json'));
  const prep = await readJson<{ lists: Record<string, unknown> }>(join(o.dir, 'data', 'prepare.json'));
  const sets = Object.keys(prep.lists);
  await mkdir(join(o.dir, 'runs', 'bm25'), { recursive: true });
  await mkdir(join(o.dir, 'runs', 'st'), { recursive: true });
  for (const set of sets) {
    const l = await readJson<Lists>(join(o.dir, 'data', `${set}.lists.json`));
    await writeFile(join(o.dir, 'runs', 'bm25', `${set}.scores.jsonl`), jsonl(bm25Scores(l).flat().map((logit) => ({ logit }))));
  }
  await scoreWithSt(o, s, sets.map((set) => ({ model: o.model, run: 'base-in-st', set })));
  const out: Record<string, Record<string, RerankMetrics>> = {};
  for (const set of sets) {
    const l = await readJson<Lists>(join(o.dir, 'data', `${set}.lists.json`));
    const m = async (run: string) => metricsOf(l, splitByList(l, parseScoreLines(await readFile(join(o.dir, 'runs', run, `${set}.scores.jsonl`), 'utf8'), run)));
    out[set] = { bm25: await m('bm25'), base: await m('base-in-st') };
    console.log(`\n${set} (${l.lists.length} lists, BM25 top ${s.depth} of ${l.corpus} documents + positives):\n${runsTable([
      { name: '1. BM25 (floor)', metrics: out[set].bm25 }, { name: '2. base model (sentence-transformers, CPU)', metrics: out[set].base }])}`);
  }
  await writeJson(join(o.dir, 'baseline.json'), { settings: s, model: o.model, sets: out });
}

// ---- report ----------------------------------------------------------------------------------------------------

const maxAbsDiff = (a: readonly number[], b: readonly number[]) => {
  if (a.length !== b.length) throw new Error(`cannot compare ${a.length} with ${b.length} scores`);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
};

export interface Report {
  settings: Settings;
  /** The recipe both trainings ran (dropout, pos_weight and the rest resolved for the base model). */
  recipe?: ResolvedTrainOptions;
  data: unknown;
  sets: Record<string, { runs: Record<string, RerankMetrics> }>;
  training: Record<string, { trainSeconds?: number; pairsPerSec?: number; pairs?: number; totalSeconds?: number; keptEpoch?: number; device?: string }>;
  pairsPerSecRatio?: number;
  checks: {
    baseEngineVsSt: { pairs: number; maxAbsDiff: number };
    exportInSt: { pairs: number; maxAbsDiff: number };
    /** Run 1 from its score file vs BM25's figures buildRerankSet computed at prepare (the same code, the same lists). */
    bm25AsPrepared: { maxAbsDiff: number };
    /** The trainer's own ranking figures at its kept epoch (its GPU validation pass) vs run 3 scored from the export. */
    oursAsTrainerSaw?: { epoch: number; ndcg10: number; report: number };
  };
  gapTable: ReturnType<typeof gapTable>;
  adapter?: unknown;
}

export async function report(dir: string): Promise<Report> {
  const s = await readJson<Settings>(join(dir, 'data', 'settings.json'));
  const prep = await readJson<{ lists: Record<string, unknown> }>(join(dir, 'data', 'prepare.json'));
  const timing = await readJson<Record<string, Record<string, number | undefined> & { summary?: TrainLogSummary }>>(join(dir, 'runs', 'timing.json'));
  const st = await readJson<{ train_seconds: number; pairs_per_sec: number; pairs: number; total_seconds: number; kept_epoch: number; device: string }>(join(dir, 'runs', 'st', 'train.json'));
  const scoresOf = async (run: string, set: string) => parseScoreLines(await readFile(join(dir, 'runs', run, `${set}.scores.jsonl`), 'utf8'), `${run}/${set}.scores.jsonl`);
  const names: Record<string, string> = { bm25: '1. BM25 (floor)', base: '2. base model', ours: '3. Rerank Lab (WebGPU)', st: '4. sentence-transformers' };
  const sets: Report['sets'] = {};
  const perList: Record<string, Record<string, number[][]>> = {};
  for (const set of Object.keys(prep.lists)) {
    const l = await readJson<Lists>(join(dir, 'data', `${set}.lists.json`));
    perList[set] = {};
    sets[set] = { runs: {} };
    for (const run of Object.keys(names)) {
      perList[set][run] = splitByList(l, await scoresOf(run, set));
      sets[set].runs[run] = metricsOf(l, perList[set][run]);
    }
  }
  const val = await readJson<Lists>(join(dir, 'data', 'val.lists.json'));
  const baseSt = await scoresOf('base-in-st', 'val');
  const oursSt = await scoresOf('ours-in-st', 'val');
  const o = timing.ours ?? {};
  const metricGap = (a: RerankMetrics, b: RerankMetrics) => Math.max(...(['ndcg10', 'mrr10', 'hit1', 'recall10'] as const).map((k) => Math.abs(a[k] - b[k])));
  const kept = o.summary?.evals?.find((e) => e.epoch === o.keptEpoch)?.ranking;
  const r: Report = {
    settings: s,
    recipe: await readJson<ResolvedTrainOptions>(join(dir, 'runs', 'recipe.json')).catch(() => undefined),
    data: await readJson(join(dir, 'data', 'prepare.json')),
    sets,
    training: {
      ours: { trainSeconds: o.trainSeconds, pairsPerSec: o.pairsPerSec, pairs: o.pairs, totalSeconds: o.totalSeconds, keptEpoch: o.keptEpoch },
      st: { trainSeconds: st.train_seconds, pairsPerSec: st.pairs_per_sec, pairs: st.pairs, totalSeconds: st.total_seconds, keptEpoch: st.kept_epoch, device: st.device },
    },
    pairsPerSecRatio: o.pairsPerSec !== undefined ? o.pairsPerSec / st.pairs_per_sec : undefined,
    checks: {
      baseEngineVsSt: { pairs: baseSt.length, maxAbsDiff: maxAbsDiff(await scoresOf('base', 'val'), baseSt) },
      exportInSt: { pairs: oursSt.length, maxAbsDiff: maxAbsDiff(await scoresOf('ours', 'val'), oursSt) },
      bm25AsPrepared: { maxAbsDiff: metricGap(sets.val.runs.bm25, val.bm25) },
      oursAsTrainerSaw: kept && o.keptEpoch !== undefined ? { epoch: o.keptEpoch, ndcg10: kept.ndcg10, report: sets.val.runs.ours.ndcg10 } : undefined,
    },
    gapTable: gapTable(val, perList.val.base, { 'Rerank Lab': perList.val.ours, 'sentence-transformers': perList.val.st }),
    adapter: (timing as Record<string, unknown>).adapter,
  };
  await writeJson(join(dir, 'report.json'), r);
  for (const [set, v] of Object.entries(sets)) {
    const rows: RunRow[] = Object.entries(names).map(([k, name]) => ({
      name, metrics: v.runs[k],
      ...(set === 'val' && (k === 'ours' || k === 'st') ? { trainSeconds: r.training[k].trainSeconds, pairsPerSec: r.training[k].pairsPerSec, keptEpoch: r.training[k].keptEpoch } : {}),
    }));
    console.log(`\n${set === 'val' ? 'Validation lists' : set} (BM25 top ${s.depth} + positives):\n${runsTable(rows)}`);
  }
  console.log(`\npairs/s ratio (Rerank Lab / sentence-transformers): ${r.pairsPerSecRatio?.toFixed(3) ?? '—'}`);
  console.log(`base model, engine vs sentence-transformers: max |Δlogit| ${r.checks.baseEngineVsSt.maxAbsDiff.toExponential(2)} over ${r.checks.baseEngineVsSt.pairs} pairs`);
  console.log(`exported tuned model in sentence-transformers vs engine: max |Δlogit| ${r.checks.exportInSt.maxAbsDiff.toExponential(2)} over ${r.checks.exportInSt.pairs} pairs`);
  const seen = r.checks.oursAsTrainerSaw;
  if (seen) console.log(`rerank-lab train's own NDCG@10 at its kept epoch ${seen.epoch}: ${seen.ndcg10.toFixed(4)} (the report, from the export's scores: ${seen.report.toFixed(4)})`);
  if (r.recipe) console.log(`recipe (runs 3 and 4): loss ${r.recipe.loss}${r.recipe.loss === 'bce' ? ` pos_weight ${r.recipe.posWeight}` : ''}, lr ${r.recipe.lr}, ${r.recipe.epochs} epochs, batch ${r.recipe.batchSize} × group ${r.recipe.groupSize}, max length ${r.recipe.maxLength}, dropout hidden/attention/classifier ${r.recipe.dropout}/${r.recipe.attentionDropout}/${r.recipe.classifierDropout}, random negatives ${r.recipe.randomNegatives}, best epoch by ${r.recipe.selectBy}`);
  console.log(`\nGap table (first ${r.gapTable.length} validation queries; positive vs BM25's top non-positive; logits):\n${gapTableText(r.gapTable)}`);
  console.log(`\n→ ${join(dir, 'report.json')}`);
  return r;
}

// ---- command line ----------------------------------------------------------------------------------------------

const HELP = `usage:
  run.ts prepare --out DIR [--squad FILE] [--eval FILE …] [--limit-train N] [--limit-val N] [settings]
  run.ts run --dir DIR --model BASE_DIR [--cli "CMD"] [--python PY] [--st-max-steps N]
  run.ts report --dir DIR
  run.ts baseline --dir DIR --model BASE_DIR [--python PY]      (runs 1–2 only, the base through sentence-transformers)
  run.ts all --out DIR --model BASE_DIR [the options of prepare and run]
  run.ts metrics --lists LISTS.json --scores SCORES.jsonl    (src/eval/ranking.ts on one score file, as JSON)
settings (fixed at prepare, shared by every run): --loss listwise|bce (${DEFAULTS.loss}) --lr (${DEFAULTS.lr}) --epochs (${DEFAULTS.epochs})
  --batch (${DEFAULTS.batch} groups) --group-size (${DEFAULTS.groupSize}) --max-length (${DEFAULTS.maxLength}) --warmup-ratio (${DEFAULTS.warmupRatio})
  --weight-decay (${DEFAULTS.weightDecay}) --max-grad-norm (${DEFAULTS.maxGradNorm}) --seed (${DEFAULTS.seed}) --val-ratio (${DEFAULTS.valRatio}) --depth (${DEFAULTS.depth}) --score-batch (${DEFAULTS.scoreBatch})
  --random-negatives (${DEFAULTS.randomNegatives}) --pos-weight (bce: the negatives per group, group size − 1)
  --dropout --attention-dropout --classifier-dropout (default: the base model's config.json, as the trainer reads it)
--cli: the rerank-lab command (default: this checkout through tsx); --python: a Python with sentence-transformers
  (default: $RERANK_LAB_PYENV/bin/python, else python3).`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      out: { type: 'string' }, dir: { type: 'string' }, squad: { type: 'string' }, eval: { type: 'string', multiple: true },
      model: { type: 'string' }, cli: { type: 'string' }, python: { type: 'string' }, 'st-max-steps': { type: 'string' },
      'limit-train': { type: 'string' }, 'limit-val': { type: 'string' }, lists: { type: 'string' }, scores: { type: 'string' },
      ...Object.fromEntries(Object.keys(SETTING_FLAGS).map((k) => [k, { type: 'string' as const }])),
    },
  });
  const dir = values.dir ?? values.out;
  const python = values.python ?? (process.env.RERANK_LAB_PYENV ? join(process.env.RERANK_LAB_PYENV, 'bin', 'python') : 'python3');
  const cli = values.cli ? splitCmd(values.cli) : [process.execPath, '--import', 'tsx', 'src/cli/main.ts'];
  const runOpts = (): RunOptions => {
    if (!values.model) throw new UsageError('--model BASE_DIR is needed (a cross-encoder folder: tests/python/experiment/models.py fetch + base)');
    if (!existsSync(join(values.model, 'config.json'))) throw new UsageError(`${values.model} is not a model folder (no config.json)`);
    return { dir: dir!, model: resolve(values.model), cli, python, stMaxSteps: values['st-max-steps'] ? Number(values['st-max-steps']) : undefined };
  };
  try {
    if (cmd === 'metrics') {
      if (!values.lists || !values.scores) throw new UsageError(`metrics needs --lists and --scores\n\n${HELP}`);
      const l = await readJson<Lists>(values.lists);
      console.log(JSON.stringify(metricsOf(l, splitByList(l, parseScoreLines(await readFile(values.scores, 'utf8'), values.scores)))));
      return 0;
    }
    if (!dir || !['prepare', 'run', 'report', 'all', 'baseline'].includes(cmd)) throw new UsageError(HELP);
    if (cmd === 'baseline') {
      await baseline(runOpts());
      return 0;
    }
    if (cmd === 'prepare' || cmd === 'all') {
      const limit = (k: 'limit-train' | 'limit-val') => (values[k] ? Number(values[k]) : undefined);
      const o = cmd === 'all' ? runOpts() : undefined;
      await prepare(dir, values.squad ?? DEFAULT_SQUAD, values.eval ?? [], settingsFrom(values), { train: limit('limit-train'), val: limit('limit-val') });
      if (o) await run(o);
    } else if (cmd === 'run') {
      await run(runOpts());
    }
    if (cmd !== 'prepare') await report(dir);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
}

if (process.argv[1] && /run\.(ts|mjs)$|experiment\.mjs$/.test(process.argv[1])) {
  main(process.argv.slice(2)).then((c) => (process.exitCode = c), (e: Error) => {
    console.error(`experiment: ${e.message}`);
    process.exitCode = 1;
  });
}
