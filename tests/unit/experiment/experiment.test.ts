// Issue 15's experiment driver (scripts/experiment): its scoring (src/eval/ranking.ts over src/eval/candidates.ts's
// lists), the recipe both trainings get, and the data it mines from SQuAD-format files. No GPU: the end-to-end dry run
// is tests/python/check_experiment.py.
import { describe, expect, it } from 'vitest';
import { evalFileLists, pairsOf, parseSquad, splitByList, squadToChunks, trainingSteps, validationLists } from '../../../scripts/experiment/data.ts';
import { bm25Scores, gapTable, metricsOf, parseScoreLines } from '../../../scripts/experiment/report.ts';
import { engineTrainFlags, oursTiming, resolveRecipe, sameListsAsTrainer, stTrainFlags, type Settings } from '../../../scripts/experiment/run.ts';
import { buildRerankSet } from '../../../src/eval/candidates.ts';
import { epochGroups, stepsOf, documentPool } from '../../../src/train/batches.ts';

const lists = {
  lists: [
    { query: 'a', docs: ['d1', 'd2', 'd3'], relevant: [false, true, false] },
    { query: 'b', docs: ['d2', 'd3', 'd4', 'd1'], relevant: [false, false, false, true] },
  ],
};

describe('experiment scorer', () => {
  it('gives hand-computed NDCG@10, MRR@10, Hit@1, Recall@10', () => {
    // list a: the positive ranked 1st by these scores; list b: ranked 3rd (two negatives above it)
    const m = metricsOf(lists, [[0.1, 0.9, 0.5], [3, 0, 2, 1]]);
    expect(m.queries).toBe(2);
    expect(m.mrr10).toBeCloseTo((1 + 1 / 3) / 2, 12);
    expect(m.ndcg10).toBeCloseTo((1 + 1 / Math.log2(4)) / 2, 12);
    expect(m.hit1).toBeCloseTo(0.5, 12);
    expect(m.recall10).toBeCloseTo(1, 12);
  });

  it("scores BM25's order as the list's order (the floor)", () => {
    // list a: positive 2nd → RR 1/2; list b: positive 4th (appended after BM25's top 3) → RR 1/4
    expect(metricsOf(lists, bm25Scores(lists)).mrr10).toBeCloseTo((1 / 2 + 1 / 4) / 2, 12);
  });

  it('counts Recall@10 over every positive and misses the ones past 10', () => {
    const docs = Array.from({ length: 12 }, (_, i) => `d${i}`);
    const relevant = docs.map((_, i) => i === 0 || i === 11);
    const scores = docs.map((_, i) => -i); // d11 ranks 12th
    expect(metricsOf({ lists: [{ query: 'q', docs, relevant }] }, [scores]).recall10).toBeCloseTo(0.5, 12);
  });

  it('ranks a negative that ties a positive above it (the trainer\'s rule: no credit from list order)', () => {
    const m = metricsOf(lists, [[0.5, 0.5, 0.5], [1, 1, 1, 1]]);
    expect(m.mrr10).toBeCloseTo((1 / 3 + 1 / 4) / 2, 12);
    expect(m.hit1).toBe(0);
  });

  it('refuses scores that do not line up with the lists, or are not finite', () => {
    expect(() => metricsOf(lists, [[1, 2, 3]])).toThrow(/2 lists/);
    expect(() => metricsOf(lists, [[1, 2], [1, 2, 3, 4]])).toThrow(/list 0: 3 documents but 2 scores/);
    expect(() => metricsOf(lists, [[1, NaN, 3], [1, 2, 3, 4]])).toThrow(/NaN/);
    expect(() => splitByList(lists, [1, 2, 3])).toThrow(/expected 7 scores/);
    expect(splitByList(lists, [1, 2, 3, 4, 5, 6, 7])).toEqual([[1, 2, 3], [4, 5, 6, 7]]);
    expect(pairsOf(lists).map((p) => `${p.query}:${p.document}`)).toEqual(['a:d1', 'a:d2', 'a:d3', 'b:d2', 'b:d3', 'b:d4', 'b:d1']);
  });

  it('reads score lines and says which line is bad', () => {
    expect(parseScoreLines('{"logit": 1.5}\n{"logit": -2}\n', 'x')).toEqual([1.5, -2]);
    expect(() => parseScoreLines('{"logit": 1}\n{"score": 2}\n', 'x.jsonl')).toThrow(/x.jsonl:2: no numeric "logit"/);
  });

  it("builds the seed's gap rows from the first positive and BM25's top non-positive", () => {
    const rows = gapTable(lists, [[0, 1, 0], [0, 0, 0, 0.5]], { tuned: [[0, 3, 0], [2, 0, 0, 0.4]] });
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ positive: 'd2', negative: 'd1', base: { gap: 1, label: '尚可' }, tuned: { tuned: { gap: 3, label: '优秀' } } });
    expect(rows[1]).toMatchObject({ positive: 'd1', negative: 'd2', base: { gap: 0.5, label: '危险' }, tuned: { tuned: { label: '翻车' } } });
  });

  it("reads the engine's training pairs/s from the train command's last step line", () => {
    const out = 'step 1/2  epoch 1  loss 1.0  lr 1e-5  10.0 pairs/s  ETA 1s\nbefore training: …\nstep 2/2  epoch 1  loss 0.9  lr 0  20.0 pairs/s  ETA 0s\n';
    expect(oursTiming(out, 40)).toEqual({ pairsPerSec: 20, trainSeconds: 2 });
    expect(oursTiming('no steps', 40)).toBeUndefined();
  });
});

describe('experiment data', () => {
  const squad = parseSquad(JSON.stringify({
    data: [
      { title: 'A', paragraphs: [{ context: '北京是中国的首都。长城很长。', qas: [{ question: '中国的首都是哪里？', answers: [{ text: '北京', answer_start: 0 }] }] }] },
      { title: 'B', paragraphs: [{ context: '上海是一座港口城市。', qas: [{ question: '哪座城市是港口？', answers: [{ text: '上海', answer_start: 0 }] }, { question: '无答案？', answers: [] }] }] },
    ],
  }), 't.json');

  it('turns articles into chunks and each question into the chunk that holds its answer', () => {
    const { chunks, queries, unplaced } = squadToChunks(squad, '');
    expect(chunks.length).toBe(2);
    expect(queries.map((q) => chunks.find((c) => c.id === q.chunk_id)!.text)).toEqual(['北京是中国的首都。长城很长。', '上海是一座港口城市。']);
    expect(queries[0].answers).toEqual(['北京']);
    expect(unplaced).toBe(1); // a question without an answer has no positive: left out and counted
  });

  it('refuses a file that is not SQuAD format, saying what is expected', () => {
    expect(() => parseSquad('[1]', 'x.json')).toThrow(/x.json is not in SQuAD format/);
    expect(() => parseSquad('{', 'x.json')).toThrow(/x.json is not JSON/);
  });

  const val = [
    { query: '港口 城市', pos: ['广州 美食'], neg: ['上海 港口 城市', '长城 很长'] },
    { query: '长城', pos: ['北京 首都 长城'], neg: ['长城 很长'] },
  ];

  it("validates on the trainer's own lists (src/eval/candidates.ts on the validation examples), BM25 figures included", async () => {
    const l = await validationLists(val, 1);
    expect(l).toEqual(await buildRerankSet(val, { depth: 1 }));
    expect(l.lists[0].docs).toEqual(['上海 港口 城市', '广州 美食']); // BM25's top 1, then the positive it missed
    expect(l.lists[0].relevant).toEqual([false, true]);
    // run 1's scores are BM25's order, and give the figures buildRerankSet computed
    expect(metricsOf(l, bm25Scores(l))).toEqual(l.bm25);
    // the run stops when the trainer's log shows other lists
    const seen = { queries: l.lists.length, documents: l.corpus, depth: l.depth, bm25: l.bm25 };
    expect(sameListsAsTrainer(l, seen)).toBeUndefined();
    expect(sameListsAsTrainer(l, { ...seen, documents: l.corpus + 1 })).toMatch(/documents: experiment 4, trainer 5/);
    expect(sameListsAsTrainer(l, { ...seen, bm25: { ...l.bm25, ndcg10: 0.1 } })).toMatch(/ndcg10/);
    expect(sameListsAsTrainer(l, undefined)).toMatch(/no validation lists/);
  });

  it('ranks every question of an extra file against every chunk of that file', async () => {
    const l = await evalFileLists(squad, 5);
    expect(l.corpus).toBe(2);
    expect(l.lists.map((x) => x.relevant.filter(Boolean).length)).toEqual([1, 1]);
    expect(l.lists.every((x) => x.docs.length === 2)).toBe(true);
    expect((await evalFileLists(squad, 5, 1)).lists).toHaveLength(1);
  });

  it("hands sentence-transformers the trainer's own groups and steps (random negatives included)", () => {
    const train = Array.from({ length: 7 }, (_, i) => ({ query: `q${i}`, pos: [`p${i}`], neg: [`n${i}a`, `n${i}b`, `n${i}c`] }));
    const steps = trainingSteps(train, { groupSize: 3, seed: 7, epochs: 2, batchSize: 3, randomNegatives: 0 });
    expect(steps.map((e) => e.map((s) => s.length))).toEqual([[3, 3, 1], [3, 3, 1]]);
    for (const e of [0, 1]) expect(steps[e]).toEqual(stepsOf(epochGroups(train, 3, 7, e, documentPool(train)).groups, 3));
    expect(steps[0]).not.toEqual(steps[1]); // negatives and order are drawn anew each epoch
    const mixed = trainingSteps(train, { groupSize: 3, seed: 7, epochs: 1, batchSize: 3, randomNegatives: 0.5 });
    expect(mixed[0]).toEqual(stepsOf(epochGroups(train, 3, 7, 0, documentPool(train), 0.5).groups, 3));
    expect(mixed[0]).not.toEqual(steps[0]);
  });
});

describe('experiment recipe', () => {
  const settings: Settings = {
    loss: 'bce', lr: 5e-5, epochs: 2, batch: 16, groupSize: 8, maxLength: 256, warmupRatio: 0.1, weightDecay: 0.01, maxGradNorm: 1,
    seed: 42, valRatio: 0.2, depth: 30, scoreBatch: 64, randomNegatives: 0, posWeight: null, dropout: null, attentionDropout: null, classifierDropout: null,
  };
  const config = (extra: Record<string, unknown>) => JSON.stringify({
    model_type: 'bert', vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, max_position_embeddings: 512, ...extra,
  });
  const flag = (flags: string[], name: string) => (flags.includes(name) ? flags[flags.indexOf(name) + 1] : undefined);

  it("resolves dropout from config.json and BCE's pos_weight to the negatives per group, as the trainer does", () => {
    const r = resolveRecipe(settings, config({ hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.05, classifier_dropout: null }));
    expect([r.dropout, r.attentionDropout, r.classifierDropout, r.posWeight, r.selectBy, r.valCandidates]).toEqual([0.1, 0.05, 0.1, 7, 'ndcg@10', 30]);
    expect(resolveRecipe({ ...settings, posWeight: 3, dropout: 0 }, config({ hidden_dropout_prob: 0.1 })).posWeight).toBe(3);
    expect(() => resolveRecipe({ ...settings, maxLength: 1024 }, config({}))).toThrow(/settings .*max length 1024 exceeds the model's 512 positions/);
  });

  it('gives both trainings the same values for every shared setting', () => {
    const r = resolveRecipe(settings, config({ hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.05 }));
    const ours = engineTrainFlags(r);
    const st = stTrainFlags(r);
    for (const f of ['--loss', '--lr', '--warmup-ratio', '--weight-decay', '--max-grad-norm', '--max-length', '--seed', '--dropout', '--attention-dropout', '--classifier-dropout', '--pos-weight']) {
      expect(flag(st, f), f).toBeDefined();
      expect(flag(st, f), f).toBe(flag(ours, f));
    }
    expect([flag(ours, '--pos-weight'), flag(ours, '--attention-dropout'), flag(ours, '--select-by')]).toEqual(['7', '0.05', 'ndcg@10']);
    // listwise has no pos_weight on either side
    const lw = resolveRecipe({ ...settings, loss: 'listwise' }, config({}));
    expect(flag(engineTrainFlags(lw), '--pos-weight')).toBeUndefined();
    expect(flag(stTrainFlags(lw), '--pos-weight')).toBeUndefined();
  });
});
