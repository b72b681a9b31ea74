// BM25Okapi exactly as rank_bm25 0.2.x computes it, stored as an inverted index so a query touches only the
// postings of its own terms.
//
// rank_bm25: idf(t) = ln(N - df + 0.5) - ln(df + 0.5); every idf below 0 is replaced by epsilon * (mean of all idf
// values, negatives included, before replacement). score(q, d) = sum over query tokens (with repetition, in order)
// of idf(t) * tf*(k1+1) / (tf + k1*(1 - b + b*|d|/avgdl)); an unknown token adds 0.
// We precompute the per-posting fraction with the same expression, so sums agree to the last bit or so.

import { throwIfAborted, type LongRunning } from '../util/progress.ts';

export interface Bm25Params {
  k1?: number;
  b?: number;
  epsilon?: number;
}

export interface Hit {
  doc: number;
  score: number;
}

export class Bm25Index {
  /** MaxScore pruning in topK (on by default; off only to measure what it saves). */
  static pruning = true;
  readonly k1: number;
  readonly b: number;
  readonly epsilon: number;
  readonly size: number;
  readonly avgdl: number;
  /** epsilon * mean idf: what a negative idf becomes. */
  readonly epsIdf: number;
  readonly vocab: Map<string, number>;
  /** idf per term id (after the floor). */
  readonly idf: Float64Array;
  readonly docLen: Int32Array;
  /** CSR postings: term t owns entries offsets[t] .. offsets[t+1]-1. */
  private readonly offsets: Int32Array;
  private readonly postDoc: Int32Array;
  /** tf*(k1+1) / (tf + k1*(1 - b + b*dl/avgdl)) per posting. */
  private readonly postW: Float64Array;
  /** Forward index: distinct term ids of document d at docTerms[docTermStart[d] .. docTermStart[d+1]). */
  private readonly docTermStart: Int32Array;
  private readonly docTerms: Int32Array;
  private readonly docTermsSorted: Uint8Array;
  /** Largest postW of each term: with idf, the most one term can add to any score (MaxScore bound). */
  private readonly maxW: Float64Array;
  // Scratch for sparse accumulation, reused across queries (one query at a time per index).
  private readonly acc: Float64Array;
  private readonly seen: Uint8Array;
  private readonly touched: Int32Array;

  private constructor(p: {
    params: Required<Bm25Params>;
    avgdl: number;
    epsIdf: number;
    vocab: Map<string, number>;
    idf: Float64Array;
    docLen: Int32Array;
    offsets: Int32Array;
    postDoc: Int32Array;
    postW: Float64Array;
    docTermStart: Int32Array;
    docTerms: Int32Array;
  }) {
    this.k1 = p.params.k1;
    this.b = p.params.b;
    this.epsilon = p.params.epsilon;
    this.size = p.docLen.length;
    this.avgdl = p.avgdl;
    this.epsIdf = p.epsIdf;
    this.vocab = p.vocab;
    this.idf = p.idf;
    this.docLen = p.docLen;
    this.offsets = p.offsets;
    this.postDoc = p.postDoc;
    this.postW = p.postW;
    this.docTermStart = p.docTermStart;
    this.docTerms = p.docTerms;
    this.docTermsSorted = new Uint8Array(this.size);
    this.maxW = new Float64Array(this.idf.length);
    for (let t = 0; t < this.idf.length; t++) {
      let m = 0;
      for (let q = p.offsets[t]; q < p.offsets[t + 1]; q++) if (p.postW[q] > m) m = p.postW[q];
      this.maxW[t] = m;
    }
    this.acc = new Float64Array(this.size);
    this.seen = new Uint8Array(this.size);
    this.touched = new Int32Array(this.size);
  }

  /** Builds the index from token lists (one per document). */
  static build(docs: readonly (readonly string[])[], params: Bm25Params = {}, opts: LongRunning = {}): Bm25Index {
    const prm = { k1: params.k1 ?? 1.5, b: params.b ?? 0.75, epsilon: params.epsilon ?? 0.25 };
    const n = docs.length;
    if (n === 0) throw new Error('BM25 needs at least one document; the corpus is empty.');
    const vocab = new Map<string, number>();
    const docLen = new Int32Array(n);
    // Per-document (term, tf) pairs, appended flat; a doc's pairs lie in pairStart[d] .. pairStart[d+1]-1.
    let pairTerm = new Int32Array(1 << 16);
    let pairTf = new Int32Array(1 << 16);
    let np = 0;
    const pairStart = new Int32Array(n + 1);
    let df = new Int32Array(1024);
    let tfScratch = new Int32Array(1024);
    let lastDoc = new Int32Array(1024).fill(-1);
    const local: number[] = [];
    let total = 0;
    for (let d = 0; d < n; d++) {
      if ((d & 1023) === 0) {
        throwIfAborted(opts.signal);
        opts.onProgress?.({ stage: 'index', done: d, total: n });
      }
      const toks = docs[d];
      docLen[d] = toks.length;
      total += toks.length;
      local.length = 0;
      for (const t of toks) {
        let id = vocab.get(t);
        if (id === undefined) {
          id = vocab.size;
          vocab.set(t, id);
          if (id >= df.length) {
            df = grow(df, id * 2);
            tfScratch = grow(tfScratch, id * 2);
            const ld = new Int32Array(id * 2).fill(-1);
            ld.set(lastDoc);
            lastDoc = ld;
          }
        }
        if (lastDoc[id] !== d) {
          lastDoc[id] = d;
          tfScratch[id] = 0;
          local.push(id);
        }
        tfScratch[id]++;
      }
      if (np + local.length > pairTerm.length) {
        const cap = Math.max(pairTerm.length * 2, np + local.length);
        pairTerm = grow(pairTerm, cap);
        pairTf = grow(pairTf, cap);
      }
      for (const id of local) {
        pairTerm[np] = id;
        pairTf[np] = tfScratch[id];
        np++;
        df[id]++;
      }
      pairStart[d + 1] = np;
    }
    const V = vocab.size;
    const avgdl = total / n;
    // idf with rank_bm25's floor. Python iterates its dict in insertion order; the sum is order-sensitive only in
    // the last bits, and we insert in the same first-seen order.
    const idf = new Float64Array(V);
    let idfSum = 0;
    for (let t = 0; t < V; t++) {
      const v = Math.log(n - df[t] + 0.5) - Math.log(df[t] + 0.5);
      idf[t] = v;
      idfSum += v;
    }
    const epsIdf = prm.epsilon * (idfSum / V);
    for (let t = 0; t < V; t++) if (idf[t] < 0) idf[t] = epsIdf;
    // CSR by counting sort over terms; docs end up ascending within each posting list.
    const offsets = new Int32Array(V + 1);
    for (let t = 0; t < V; t++) offsets[t + 1] = offsets[t] + df[t];
    const fill = offsets.slice(0, V);
    const postDoc = new Int32Array(np);
    const postW = new Float64Array(np);
    const { k1, b } = prm;
    for (let d = 0; d < n; d++) {
      const norm = k1 * (1 - b + (b * docLen[d]) / avgdl);
      for (let p = pairStart[d]; p < pairStart[d + 1]; p++) {
        const t = pairTerm[p];
        const tf = pairTf[p];
        const at = fill[t]++;
        postDoc[at] = d;
        postW[at] = (tf * (k1 + 1)) / (tf + norm);
      }
    }
    opts.onProgress?.({ stage: 'index', done: n, total: n });
    return new Bm25Index({ params: prm, avgdl, epsIdf, vocab, idf, docLen, offsets, postDoc, postW, docTermStart: pairStart, docTerms: pairTerm.subarray(0, np) });
  }

  /** Distinct term ids of a document, ascending (for set similarity between documents). */
  termsOf(doc: number): Int32Array {
    const t = this.docTerms.subarray(this.docTermStart[doc], this.docTermStart[doc + 1]);
    if (this.docTermsSorted[doc] === 0) {
      t.sort();
      this.docTermsSorted[doc] = 1;
    }
    return t;
  }

  /** Distinct term ids of a document in no particular order (a view: do not modify). Cheaper than termsOf. */
  distinctTerms(doc: number): Int32Array {
    return this.docTerms.subarray(this.docTermStart[doc], this.docTermStart[doc + 1]);
  }

  /** Document frequency of a token (0 if unknown). */
  df(token: string): number {
    const t = this.vocab.get(token);
    return t === undefined ? 0 : this.offsets[t + 1] - this.offsets[t];
  }

  /** Dense scores for every document, like rank_bm25's get_scores (for tests and small corpora). */
  scores(query: readonly string[]): Float64Array {
    const out = new Float64Array(this.size);
    for (const tok of query) {
      const t = this.vocab.get(tok);
      if (t === undefined) continue;
      const w = this.idf[t];
      for (let p = this.offsets[t]; p < this.offsets[t + 1]; p++) out[this.postDoc[p]] += w * this.postW[p];
    }
    return out;
  }

  /**
   * The k best documents with a positive score contribution (documents sharing no term with the query are never
   * returned), best first; ties go to the lower document index. `accept` filters candidates (e.g. same split only).
   *
   * Exact top-k with MaxScore pruning: terms are taken in order of their largest possible contribution. Once the
   * k-th best partial score beats the most that all remaining terms could add, no unseen document can enter the
   * top k, so the remaining (long, low-idf) posting lists are only probed for the candidates already found.
   * Scores equal the dense ones up to summation order (~1e-15 relative).
   */
  topK(query: readonly string[], k: number, accept?: (doc: number) => boolean): Hit[] {
    const { acc, seen, touched, offsets, postDoc, postW, idf, maxW } = this;
    if (k <= 0) return [];
    // distinct known terms with multiplicity (rank_bm25 counts a repeated query token once per repeat)
    const mult = new Map<number, number>();
    for (const tok of query) {
      const t = this.vocab.get(tok);
      if (t !== undefined) mult.set(t, (mult.get(t) ?? 0) + 1);
    }
    const terms = [...mult].map(([t, m]) => ({ t, w: m * idf[t], ub: m * idf[t] * maxW[t], len: offsets[t + 1] - offsets[t] }));
    terms.sort((a, b) => b.ub - a.ub || a.len - b.len);
    const rest = new Float64Array(terms.length + 1); // rest[i]: most that terms i.. can add
    for (let i = terms.length - 1; i >= 0; i--) rest[i] = (rest[i + 1] + terms[i].ub) * (1 + 1e-12);
    // partial sums are lower bounds only when every contribution is positive (a tiny corpus can floor idf below 0)
    const prunable = Bm25Index.pruning && terms.every((x) => x.w > 0);
    let nt = 0;
    let theta = -Infinity;
    let i = 0;
    let remaining = 0;
    for (const x of terms) remaining += x.len;
    let attempts = 0;
    for (; i < terms.length; i++) {
      const { t, w, len } = terms[i];
      // Trying to stop costs O(touched) and on common-word queries rarely succeeds: try once, and only while
      // much more scanning lies ahead.
      if (prunable && i > 0 && nt >= k && remaining > 8 * nt && attempts < 1) {
        attempts++;
        theta = this.kthBest(nt, k, accept);
        if (theta > rest[i]) break;
      }
      remaining -= len;
      const end = offsets[t + 1];
      if (prunable) {
        // every contribution is > 0, so a zero accumulator means "not touched yet"
        for (let p = offsets[t]; p < end; p++) {
          const d = postDoc[p];
          if (acc[d] === 0) touched[nt++] = d;
          acc[d] += w * postW[p];
        }
      } else {
        for (let p = offsets[t]; p < end; p++) {
          const d = postDoc[p];
          if (seen[d] === 0) {
            seen[d] = 1;
            touched[nt++] = d;
          }
          acc[d] += w * postW[p];
        }
      }
    }
    let cand: Int32Array;
    if (i < terms.length) {
      // probe phase: only documents that can still reach theta
      // (a document dropped here is cleared at once; the kept ones are cleared by select below)
      const keep: number[] = [];
      for (let j = 0; j < nt; j++) {
        const d = touched[j];
        if (acc[d] + rest[i] >= theta && (!accept || accept(d))) keep.push(d);
        else acc[d] = 0;
      }
      cand = Int32Array.from(keep).sort();
      for (; i < terms.length; i++) {
        const { t, w } = terms[i];
        let lo = offsets[t];
        const hi0 = offsets[t + 1];
        for (let c = 0; c < cand.length; c++) {
          const d = cand[c];
          // lower bound of d in the ascending posting list, continuing from the previous candidate
          let hi = hi0;
          while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            if (postDoc[mid] < d) lo = mid + 1;
            else hi = mid;
          }
          if (lo < hi0 && postDoc[lo] === d) acc[d] += w * postW[lo];
        }
      }
    } else {
      cand = touched.subarray(0, nt);
    }
    // select reads each candidate's score once and clears it in the same pass (the scratch must be all zero for the
    // next query); \`seen\` is only written on the unpruned path.
    const hits = this.select(cand, cand.length, k, accept, true);
    if (!prunable) for (let j = 0; j < nt; j++) seen[touched[j]] = 0;
    return hits;
  }

  /** k-th best accumulated score among the first n touched documents (accepted ones only). */
  private kthBest(n: number, k: number, accept?: (doc: number) => boolean): number {
    const hits = this.heapTop(this.touched, n, k, accept);
    return hits.size < k ? -Infinity : hits.hs[0];
  }

  private select(docs: Int32Array, n: number, k: number, accept?: (doc: number) => boolean, clear = false): Hit[] {
    const { hs, hd, size } = this.heapTop(docs, n, k, accept, clear);
    const hits: Hit[] = [];
    for (let i = 0; i < size; i++) hits.push({ doc: hd[i], score: hs[i] });
    hits.sort((a, b) => b.score - a.score || a.doc - b.doc);
    return hits;
  }

  // Heap buffers reused across queries (topK runs one query at a time per index).
  private hs = new Float64Array(64);
  private hd = new Int32Array(64);

  /** Bounded min-heap of (score, doc) over docs[0..n): the root is the weakest kept hit. `clear` zeroes acc[d]. */
  private heapTop(docs: Int32Array, n: number, k: number, accept?: (doc: number) => boolean, clear = false): { hs: Float64Array; hd: Int32Array; size: number } {
    const acc = this.acc;
    if (this.hs.length < k) {
      this.hs = new Float64Array(k);
      this.hd = new Int32Array(k);
    }
    const hs = this.hs;
    const hd = this.hd;
    let size = 0;
    for (let i = 0; i < n; i++) {
      const d = docs[i];
      const s = acc[d];
      if (clear) acc[d] = 0;
      if (size === k && (s < hs[0] || (s === hs[0] && d > hd[0]))) continue; // cheap reject first
      if (accept && !accept(d)) continue;
      if (size < k) {
        // sift up: the parent must be weaker-or-equal
        let c = size++;
        while (c > 0) {
          const p = (c - 1) >> 1;
          if (hs[p] < s || (hs[p] === s && hd[p] > d)) break;
          hs[c] = hs[p];
          hd[c] = hd[p];
          c = p;
        }
        hs[c] = s;
        hd[c] = d;
      } else {
        // replace the root and sift down
        let c = 0;
        for (;;) {
          const l = 2 * c + 1;
          if (l >= size) break;
          const r = l + 1;
          let m = l;
          if (r < size && (hs[r] < hs[l] || (hs[r] === hs[l] && hd[r] > hd[l]))) m = r;
          if (hs[m] < s || (hs[m] === s && hd[m] > d)) {
            hs[c] = hs[m];
            hd[c] = hd[m];
            c = m;
          } else break;
        }
        hs[c] = s;
        hd[c] = d;
      }
    }
    return { hs, hd, size };
  }
}

function grow(a: Int32Array, cap: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}
