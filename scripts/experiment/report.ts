// The one scorer of the experiment: every run leaves one logit per list entry (JSON Lines in pairsOf order, the
// format of `rerank-lab score`), and src/eval/ranking.ts rerankMetrics — what the trainer, the page and the `eval`
// command use — turns each into NDCG@10, MRR@10, Hit@1 and Recall@10, so the four runs are measured by the product's
// own code on the product's own lists (ties pessimistic: a negative that ties a positive ranks above it).
// The seed-style gap table (src/eval/report.ts labels) compares each tuned model with the base on 10 cases: the
// query's positive against its hardest negative, BM25's top non-positive in the list.

import { listOrderScores } from '../../src/eval/candidates.ts';
import { type RerankMetrics, rerankMetrics } from '../../src/eval/ranking.ts';
import { baseLabel, tunedLabel, type BaseLabel, type TunedLabel } from '../../src/eval/report.ts';
import type { ListsLike } from './data.ts';

export type { RerankMetrics };

/** Metrics of one run's per-list scores. */
export function metricsOf(l: ListsLike, scores: readonly (readonly number[])[]): RerankMetrics {
  if (scores.length !== l.lists.length) throw new Error(`expected scores for ${l.lists.length} lists, got ${scores.length}`);
  return rerankMetrics(l.lists.map((x, i) => {
    if (scores[i].length !== x.docs.length) throw new Error(`list ${i}: ${x.docs.length} documents but ${scores[i].length} scores`);
    if (scores[i].some((s) => !Number.isFinite(s))) throw new Error(`list ${i}: a score is NaN or infinite`);
    return { scores: scores[i], relevant: x.relevant };
  }));
}

/** BM25's own order of each list as scores (the list is BM25's ranking: N, N−1, …), as candidates.ts scores its floor. */
export function bm25Scores(l: ListsLike): number[][] {
  return l.lists.map(listOrderScores);
}

/** Reads `score`-format JSON Lines ({"logit": x} per pair, in pair order) back into one array. */
export function parseScoreLines(text: string, what: string): number[] {
  const out: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new Error(`${what}:${i + 1}: not JSON`);
    }
    const x = (v as { logit?: unknown }).logit;
    if (typeof x !== 'number') throw new Error(`${what}:${i + 1}: no numeric "logit"`);
    out.push(x);
  });
  return out;
}

export interface GapRow {
  n: number;
  query: string;
  positive: string;
  negative: string;
  base: { pos: number; neg: number; gap: number; label: BaseLabel };
  tuned: Record<string, { pos: number; neg: number; gap: number; label: TunedLabel }>;
}

/** The seed's per-case view on the first `cases` lists that hold a positive and a negative. */
export function gapTable(l: ListsLike, base: readonly (readonly number[])[], tuned: Record<string, readonly (readonly number[])[]>, cases = 10): GapRow[] {
  const rows: GapRow[] = [];
  for (let i = 0; i < l.lists.length && rows.length < cases; i++) {
    const x = l.lists[i];
    const p = x.relevant.indexOf(true);
    const q = x.relevant.indexOf(false);
    if (p < 0 || q < 0) continue;
    const pair = (s: readonly number[]) => ({ pos: s[p], neg: s[q], gap: s[p] - s[q] });
    const b = pair(base[i]);
    const row: GapRow = { n: rows.length + 1, query: x.query, positive: x.docs[p], negative: x.docs[q], base: { ...b, label: baseLabel(b) }, tuned: {} };
    for (const [name, s] of Object.entries(tuned)) {
      const t = pair(s[i]);
      row.tuned[name] = { ...t, label: tunedLabel(t, b) };
    }
    rows.push(row);
  }
  return rows;
}

const f4 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(4));
const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(1));

export interface RunRow {
  name: string;
  metrics: RerankMetrics;
  trainSeconds?: number;
  pairsPerSec?: number;
  keptEpoch?: number;
}

/** A Markdown table (the note's form) of the runs. */
export function runsTable(rows: readonly RunRow[]): string {
  const head = '| run | NDCG@10 | MRR@10 | Hit@1 | Recall@10 | queries | train s | pairs/s | kept epoch |';
  const sep = '| --- | --- | --- | --- | --- | --- | --- | --- | --- |';
  const body = rows.map((r) => `| ${r.name} | ${f4(r.metrics.ndcg10)} | ${f4(r.metrics.mrr10)} | ${f4(r.metrics.hit1)} | ${f4(r.metrics.recall10)} | ${r.metrics.queries} | ${f1(r.trainSeconds)} | ${f1(r.pairsPerSec)} | ${r.keptEpoch ?? '—'} |`);
  return [head, sep, ...body].join('\n');
}

const cut = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + '…' : s).replace(/\s+/g, ' ').replace(/\|/g, '/');

export function gapTableText(rows: readonly GapRow[]): string {
  const names = rows.length ? Object.keys(rows[0].tuned) : [];
  const head = `| # | query | base pos / neg / gap | ${names.map((n) => `${n} pos / neg / gap`).join(' | ')} |`;
  const sep = `| --- | --- | --- | ${names.map(() => '---').join(' | ')} |`;
  const g = (x: { pos: number; neg: number; gap: number; label: string }) => `${x.pos.toFixed(2)} / ${x.neg.toFixed(2)} / ${x.gap.toFixed(2)} ${x.label}`;
  return [head, sep, ...rows.map((r) => `| ${r.n} | ${cut(r.query, 24)} | ${g(r.base)} | ${names.map((n) => g(r.tuned[n])).join(' | ')} |`)].join('\n');
}
