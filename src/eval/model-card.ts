// The model card (README.md) that goes into the exported Hugging Face folder: what the model was trained on, how,
// and what it scored before and after on the validation set.

import { metricsRows } from './export.ts';
import type { EvalReport } from './report.ts';

export interface ModelCardInput {
  baseModel: string;
  arch: string;
  paramCount: number;
  data: { documents: number; chunks: number; queries: number; trainExamples: number; valExamples: number; negativesPerQuery?: number };
  settings: Record<string, string | number | boolean | undefined>;
  training?: { steps: number; epochs: number; bestEpoch: number; bestValLoss: number; seconds: number; stopped: string };
  report?: EvalReport;
  createdAt: string;
}

export function modelCard(c: ModelCardInput): string {
  const lines: string[] = [
    '---',
    'library_name: sentence-transformers',
    'pipeline_tag: text-ranking',
    'tags: [cross-encoder, reranker, rerank-lab]',
    '---',
    '',
    `# Reranker fine-tuned from ${c.baseModel}`,
    '',
    `A cross-encoder reranker (${c.arch}, ${c.paramCount.toLocaleString('en-US')} parameters) fine-tuned with Rerank Lab on the user's own documents, on their own GPU.`,
    '',
    '```python',
    'from sentence_transformers import CrossEncoder',
    "model = CrossEncoder('path/to/this/folder')",
    "scores = model.predict([('query', 'passage')])",
    '```',
    '',
    '## Data 数据',
    '',
    `| | |`,
    `|---|---|`,
    `| documents | ${c.data.documents} |`,
    `| chunks | ${c.data.chunks} |`,
    `| queries | ${c.data.queries} |`,
    `| training examples | ${c.data.trainExamples} |`,
    `| validation examples | ${c.data.valExamples} |`,
  ];
  if (c.data.negativesPerQuery !== undefined) lines.push(`| hard negatives per query | ${c.data.negativesPerQuery} |`);
  lines.push('', '## Training settings 训练设置', '', '| setting | value |', '|---|---|');
  for (const [k, v] of Object.entries(c.settings)) if (v !== undefined) lines.push(`| ${k} | ${String(v).replace(/\|/g, '\\|')} |`);
  if (c.training) {
    const t = c.training;
    // a run stopped before its first evaluation keeps its last weights: say so instead of "best epoch 0, loss NaN"
    const kept = Number.isFinite(t.bestValLoss) ? `best epoch ${t.bestEpoch} with validation loss ${t.bestValLoss.toFixed(4)}` : `no epoch was validated; these are the weights after step ${t.steps}`;
    lines.push('', `Trained ${t.steps} steps over ${t.epochs} epoch(s) in ${t.seconds.toFixed(0)} s (${t.stopped}); ${kept}.`);
  }
  if (c.report?.metrics) {
    lines.push('', '## Validation metrics 验证集指标', '', '| metric | base | fine-tuned |', '|---|---|---|');
    for (const m of metricsRows(c.report.metrics, { gap: false })) lines.push(`| ${m.name} | ${m.base} | ${m.tuned} |`);
  }
  if (c.report) {
    lines.push('', '## Conclusions 结论', '');
    for (const s of c.report.conclusions) lines.push(`- ${s}`);
  }
  lines.push('', `Created ${c.createdAt} with Rerank Lab.`, '');
  return lines.join('\n');
}
