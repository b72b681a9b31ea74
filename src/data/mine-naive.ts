// A direct port of the seed's mining loop, kept as the benchmark's baseline and as a cross-check in tests:
// rank_bm25's get_scores (one dict lookup per document per query token, every document scored), a full argsort,
// the top-K minus the positive, deduplicated, topped up with random chunks. No guards, no inverted index.

import { mulberry32 } from '../util/rng.ts';

export interface NaiveBm25 {
  docFreqs: Map<string, number>[];
  docLen: number[];
  avgdl: number;
  idf: Map<string, number>;
}

export function naiveBm25(corpus: readonly (readonly string[])[], k1 = 1.5, b = 0.75, epsilon = 0.25): NaiveBm25 & { score(q: readonly string[]): Float64Array } {
  const docFreqs: Map<string, number>[] = [];
  const nd = new Map<string, number>();
  const docLen: number[] = [];
  let numDoc = 0;
  for (const doc of corpus) {
    docLen.push(doc.length);
    numDoc += doc.length;
    const f = new Map<string, number>();
    for (const w of doc) f.set(w, (f.get(w) ?? 0) + 1);
    docFreqs.push(f);
    for (const w of f.keys()) nd.set(w, (nd.get(w) ?? 0) + 1);
  }
  const n = corpus.length;
  const avgdl = numDoc / n;
  const idf = new Map<string, number>();
  let idfSum = 0;
  const negative: string[] = [];
  for (const [w, freq] of nd) {
    const v = Math.log(n - freq + 0.5) - Math.log(freq + 0.5);
    idf.set(w, v);
    idfSum += v;
    if (v < 0) negative.push(w);
  }
  const eps = epsilon * (idfSum / idf.size);
  for (const w of negative) idf.set(w, eps);
  return {
    docFreqs,
    docLen,
    avgdl,
    idf,
    score(q) {
      const s = new Float64Array(n);
      for (const w of q) {
        const wi = idf.get(w) ?? 0;
        for (let d = 0; d < n; d++) {
          const tf = docFreqs[d].get(w) ?? 0;
          s[d] += wi * ((tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * docLen[d]) / avgdl)));
        }
      }
      return s;
    },
  };
}

/** Seed loop: for each query, negatives = top-K texts (not the positive), deduplicated, topped up at random. */
export function mineNaive(
  texts: readonly string[],
  corpusTokens: readonly (readonly string[])[],
  queries: readonly { tokens: readonly string[]; query: string; pos: number }[],
  negatives: number,
  topK: number,
  seed = 42,
): { query: string; pos: string[]; neg: string[] }[] {
  const bm = naiveBm25(corpusTokens);
  const rng = mulberry32(seed);
  return queries.map((q) => {
    const s = bm.score(q.tokens);
    const order = Array.from(s.keys()).sort((a, b) => s[b] - s[a] || a - b);
    const posText = texts[q.pos];
    const neg: string[] = [];
    for (const d of order.slice(0, topK)) {
      if (neg.length >= negatives) break;
      if (texts[d] !== posText && !neg.includes(texts[d])) neg.push(texts[d]);
    }
    for (let tries = 0; neg.length < negatives && tries < negatives * 20; tries++) {
      const t = texts[Math.floor(rng() * texts.length)];
      if (t !== posText && !neg.includes(t)) neg.push(t);
    }
    return { query: q.query, pos: [posText], neg };
  });
}
