// The model card (README.md) that goes into the exported Hugging Face folder: what the model was trained on, how,
// and what it scored before and after on the validation set.

import type { ResolvedTrainOptions } from '../train/checkpoint.ts';
import { CARD_FRONT_MATTER, CARD_USAGE } from '../model/card-parts.ts';
import { metricsRows, rerankHeading, rerankRows } from './export.ts';
import type { EvalReport } from './report.ts';

/** Validation figures of one evaluation during training (the trainer's 'eval' event). */
export interface ValidationPoint {
  epoch: number;
  valLoss: number;
  meanGap: number;
  mrr: number;
}

export interface ModelCardInput {
  baseModel: string;
  arch: string;
  paramCount: number;
  /** What the model was trained on; the page knows documents/chunks/queries, the command line only the examples. */
  data: { documents?: number; chunks?: number; queries?: number; trainExamples: number; valExamples: number; negativesPerQuery?: number };
  settings: Record<string, string | number | boolean | undefined>;
  training?: { steps: number; epochs: number; bestEpoch: number; bestValLoss: number; seconds: number; stopped: string };
  /** The recipe the run resolved (TrainSummary.options): its dropout, pos_weight, negatives and query cap rows. */
  recipe?: ResolvedTrainOptions;
  /** Before (epoch 0) and after (the saved epoch) on the validation set, from training's own evaluations. */
  validation?: { before?: ValidationPoint; after?: ValidationPoint };
  /** How scores are made: the activation sentence-transformers applies and the max length it truncates to. */
  scoring?: { activation: string; maxLength: number };
  report?: EvalReport;
  createdAt: string;
}

export function modelCard(c: ModelCardInput): string {
  const lines: string[] = [
    ...CARD_FRONT_MATTER,
    '',
    `# Reranker fine-tuned from ${c.baseModel}`,
    '',
    `A cross-encoder reranker (${c.arch}, ${c.paramCount.toLocaleString('en-US')} parameters) fine-tuned with Rerank Lab on the user's own documents, on their own GPU.`,
    '',
    ...CARD_USAGE,
    '',
    '## Data 数据',
    '',
    `| | |`,
    `|---|---|`,
  ];
  for (const [k, v] of [['documents', c.data.documents], ['chunks', c.data.chunks], ['queries', c.data.queries]] as const) if (v !== undefined) lines.push(`| ${k} | ${v} |`);
  lines.push(`| training examples | ${c.data.trainExamples} |`, `| validation examples | ${c.data.valExamples} |`);
  if (c.data.negativesPerQuery !== undefined) lines.push(`| hard negatives per query | ${c.data.negativesPerQuery} |`);
  lines.push('', '## Training settings 训练设置', '', '| setting | value |', '|---|---|');
  const settings = { ...c.settings, ...(c.recipe ? recipeSettings(c.recipe) : {}) };
  for (const [k, v] of Object.entries(settings)) if (v !== undefined) lines.push(`| ${k} | ${String(v).replace(/\|/g, '\\|')} |`);
  if (c.training) {
    const t = c.training;
    // a run stopped before its first evaluation keeps its last weights: say so instead of "best epoch 0, loss NaN"
    const kept = Number.isFinite(t.bestValLoss) ? `best epoch ${t.bestEpoch} with validation loss ${t.bestValLoss.toFixed(4)}` : `no epoch was validated; these are the weights after step ${t.steps}`;
    lines.push('', `Trained ${t.steps} steps over ${t.epochs} epoch(s) in ${t.seconds.toFixed(0)} s (${t.stopped}); ${kept}.`);
  }
  const v = c.validation;
  if (v?.before || v?.after) {
    const cell = (p: ValidationPoint | undefined, f: (p: ValidationPoint) => number, d: number) => (p ? f(p).toFixed(d) : '—');
    lines.push('', '## Validation during training 训练中的验证', '', `| | before (epoch 0) | after (epoch ${v.after?.epoch ?? '—'}, saved) |`, '|---|---|---|');
    lines.push(`| validation loss | ${cell(v.before, (p) => p.valLoss, 4)} | ${cell(v.after, (p) => p.valLoss, 4)} |`);
    lines.push(`| MRR | ${cell(v.before, (p) => p.mrr, 3)} | ${cell(v.after, (p) => p.mrr, 3)} |`);
    lines.push(`| mean gap (positive − best negative logit) | ${cell(v.before, (p) => p.meanGap, 2)} | ${cell(v.after, (p) => p.meanGap, 2)} |`);
  }
  if (c.report?.ranking) {
    lines.push('', '## Validation metrics 验证集指标', '', `${rerankHeading(c.report.ranking)}.`, '', '| metric | BM25 (floor) | base | fine-tuned |', '|---|---|---|---|');
    for (const m of rerankRows(c.report.ranking)) lines.push(`| ${m.name} | ${m.bm25} | ${m.base} | ${m.tuned} |`);
  } else if (c.report?.metrics) {
    lines.push('', '## Validation metrics 验证集指标', '', '| metric | base | fine-tuned |', '|---|---|---|');
    for (const m of metricsRows(c.report.metrics, { gap: false })) lines.push(`| ${m.name} | ${m.base} | ${m.tuned} |`);
  }
  if (c.report) {
    lines.push('', '## Conclusions 结论', '');
    for (const s of c.report.conclusions) lines.push(`- ${s}`);
  }
  if (c.scoring) {
    lines.push(
      '',
      '## Scores 分数',
      '',
      `The model outputs one logit per (query, passage) pair; \`CrossEncoder.predict\` applies ${c.scoring.activation} (declared in config.json, ` +
        `\`sentence_transformers.activation_fn\`) and truncates pairs to ${c.scoring.maxLength} tokens, the length it was trained with ` +
        '(tokenizer_config.json `model_max_length`). `rerank-lab score` gives the same numbers, with one difference in truncation: ' +
        'Rerank Lab cuts a too-long pair from the passage\'s end (as it trains), `CrossEncoder.predict` cuts the longer side first; ' +
        'the tokens are the same unless the query is so long that the cut passage would end up shorter than it.',
    );
  }
  lines.push('', `Created ${c.createdAt} with Rerank Lab.`, '');
  return lines.join('\n');
}

/** The training recipe's choices by the names their sources use (Hugging Face config keys, torch, FlagEmbedding). */
export function recipeSettings(o: ResolvedTrainOptions): Record<string, string | number> {
  return {
    'hidden dropout (hidden_dropout_prob)': o.dropout,
    'attention dropout (attention_probs_dropout_prob)': o.attentionDropout,
    'classifier dropout (classifier_dropout)': o.classifierDropout,
    ...(o.loss === 'bce' ? { 'BCE pos_weight': o.posWeight } : {}),
    'random negatives (share of each group)': o.randomNegatives,
    'query max length (query_max_len, tokens)': o.queryMaxLength || 'no cap',
  };
}
