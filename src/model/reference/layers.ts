// Float64 CPU reference of every layer of the cross-encoder, forward and backward side by side (llm.c style): the
// one reference of the project. The whole model (./model.ts) is built from these, and every GPU kernel test checks
// its kernel against them (tests/unit/kernels/). Tensors are row-major; inputs may be any array of numbers (the
// kernel tests pass their f32 data), outputs are Float64Arrays; shapes are in the comments ([B,L,H] = batch,
// length, hidden). Backward functions return the input gradient as a new array and ACCUMULATE (+=) parameter
// gradients into the arrays they are given, so callers zero them once per step.

import type { AttentionDropout } from '../../kernels/attention.ts';
import { bertPositionIds, robertaPositionIds } from '../../kernels/embedding.ts';
import { attentionDropFactor } from './dropout.ts';

type Vec = ArrayLike<number>;

// ---------------------------------------------------------------------------------------------------------------
// erf to a few ulp (JavaScript has no Math.erf): for |x| < 3 the all-positive series
//   erf(x) = 2/√π · e^{-x²} · Σ_n 2ⁿ x^{2n+1} / (1·3·…·(2n+1))
// (no cancellation), and above that the continued fraction of erfc.

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    const x2 = ax * ax;
    let term = ax;
    let sum = ax;
    for (let n = 0; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 3);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  } else {
    r = 1 - erfcLarge(ax);
  }
  return x < 0 ? -r : r;
}

/** erfc(x) for x ≥ 3 by the continued fraction x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))), evaluated backwards. */
function erfcLarge(x: number): number {
  if (x > 27) return 0;
  let f = x;
  for (let k = 60; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

// ---------------------------------------------------------------------------------------------------------------
// Linear (torch.nn.Linear): Y[M,N] = X[M,K] · W[N,K]ᵀ + b[N]

export function linearForward(X: Vec, W: Vec, b: Vec | null, M: number, K: number, N: number): Float64Array {
  const Y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    const xo = m * K;
    for (let n = 0; n < N; n++) {
      const wo = n * K;
      let s = b ? b[n] : 0;
      for (let k = 0; k < K; k++) s += X[xo + k] * W[wo + k];
      Y[m * N + n] = s;
    }
  }
  return Y;
}

/** dY[M,N] → dX[M,K] = dY·W; dW[N,K] += dYᵀ·X; db[N] += Σ_m dY. */
export function linearBackward(
  dY: Vec, X: Vec, W: Vec, M: number, K: number, N: number,
  dW: Float64Array, db: Float64Array | null,
): Float64Array {
  const dX = new Float64Array(M * K);
  for (let m = 0; m < M; m++) {
    const xo = m * K;
    for (let n = 0; n < N; n++) {
      const g = dY[m * N + n];
      if (g === 0) continue;
      const wo = n * K;
      for (let k = 0; k < K; k++) {
        dX[xo + k] += g * W[wo + k];
        dW[wo + k] += g * X[xo + k];
      }
      if (db) db[n] += g;
    }
  }
  return dX;
}

// ---------------------------------------------------------------------------------------------------------------
// LayerNorm over the last dim: Y[M,C] = (X - mean) · rstd · w + b, rstd = 1/√(biased var + eps)

export interface LayerNormCache {
  mean: Float64Array; // [M]
  rstd: Float64Array; // [M]
}

export function layerNormForward(X: Vec, w: Vec, b: Vec, M: number, C: number, eps: number): { y: Float64Array } & LayerNormCache {
  const y = new Float64Array(M * C);
  const mean = new Float64Array(M);
  const rstd = new Float64Array(M);
  for (let m = 0; m < M; m++) {
    const o = m * C;
    let mu = 0;
    for (let c = 0; c < C; c++) mu += X[o + c];
    mu /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (X[o + c] - mu) ** 2;
    v /= C;
    const rs = 1 / Math.sqrt(v + eps);
    for (let c = 0; c < C; c++) y[o + c] = (X[o + c] - mu) * rs * w[c] + b[c];
    mean[m] = mu;
    rstd[m] = rs;
  }
  return { y, mean, rstd };
}

/** dX = rstd · (dŷ - mean(dŷ) - x̂ · mean(dŷ · x̂)), dŷ = dY·w; dw += Σ dY·x̂; db += Σ dY. */
export function layerNormBackward(
  dY: Vec, X: Vec, w: Vec, cache: LayerNormCache, M: number, C: number,
  dw: Float64Array, db: Float64Array,
): Float64Array {
  const dX = new Float64Array(M * C);
  for (let m = 0; m < M; m++) {
    const o = m * C;
    const mu = cache.mean[m];
    const rs = cache.rstd[m];
    let sumD = 0;
    let sumDX = 0;
    for (let c = 0; c < C; c++) {
      const xh = (X[o + c] - mu) * rs;
      const dxh = dY[o + c] * w[c];
      sumD += dxh;
      sumDX += dxh * xh;
      dw[c] += dY[o + c] * xh;
      db[c] += dY[o + c];
    }
    sumD /= C;
    sumDX /= C;
    for (let c = 0; c < C; c++) {
      const xh = (X[o + c] - mu) * rs;
      dX[o + c] = rs * (dY[o + c] * w[c] - sumD - xh * sumDX);
    }
  }
  return dX;
}

// ---------------------------------------------------------------------------------------------------------------
// GELU, exact: y = x · Φ(x) = ½x(1 + erf(x/√2)); dy/dx = Φ(x) + x · φ(x)

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export function geluForward(X: Vec): Float64Array {
  const y = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) y[i] = 0.5 * X[i] * (1 + erf(X[i] * SQRT1_2));
  return y;
}

export function geluBackward(dY: Vec, X: Vec): Float64Array {
  const dX = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) {
    const x = X[i];
    dX[i] = dY[i] * (0.5 * (1 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x));
  }
  return dX;
}

// tanh (the heads): dX = dY · (1 - y²)
export function tanhForward(X: Vec): Float64Array {
  return Float64Array.from(X, Math.tanh);
}

export function tanhBackward(dY: Vec, Y: Vec): Float64Array {
  const dX = new Float64Array(Y.length);
  for (let i = 0; i < Y.length; i++) dX[i] = dY[i] * (1 - Y[i] * Y[i]);
  return dX;
}

// ---------------------------------------------------------------------------------------------------------------
// Embeddings: E[B·L,H] = word[ids] + position[posIds] + tokenType[typeIds]

/**
 * Position ids [B·L], the engine's own (src/kernels/embedding.ts; checked against transformers by the parity tests).
 * BERT: 0..L-1. RoBERTa family (create_position_ids_from_input_ids): real tokens count from paddingIdx + 1 in
 * order, padding tokens (id == paddingIdx) get paddingIdx itself.
 */
export function positionIds(arch: 'bert' | 'xlm-roberta', inputIds: Vec, B: number, L: number, paddingIdx: number): Uint32Array {
  return arch === 'bert' ? bertPositionIds(B, L) : robertaPositionIds(inputIds, B, L, paddingIdx);
}

export function embeddingForward(
  word: Vec, position: Vec, tokenType: Vec,
  ids: Vec, posIds: Vec, typeIds: Vec, H: number,
): Float64Array {
  const N = ids.length;
  const E = new Float64Array(N * H);
  for (let i = 0; i < N; i++) {
    const wo = ids[i] * H;
    const po = posIds[i] * H;
    const to = typeIds[i] * H;
    for (let c = 0; c < H; c++) E[i * H + c] = word[wo + c] + tokenType[to + c] + position[po + c];
  }
  return E;
}

/**
 * Scatter-adds dE[B·L,H] into the three tables. Rows equal to a table's padding_idx get no gradient, as
 * torch.nn.Embedding(padding_idx=…) does: BERT word embeddings; RoBERTa family word and position embeddings.
 */
export function embeddingBackward(
  dE: Vec, ids: Vec, posIds: Vec, typeIds: Vec, H: number,
  dWord: Float64Array, dPosition: Float64Array, dTokenType: Float64Array,
  paddingIdx: { word?: number; position?: number } = {},
): void {
  for (let i = 0; i < ids.length; i++) {
    const go = i * H;
    const skipWord = ids[i] === paddingIdx.word;
    const skipPos = posIds[i] === paddingIdx.position;
    for (let c = 0; c < H; c++) {
      const g = dE[go + c];
      if (!skipWord) dWord[ids[i] * H + c] += g;
      if (!skipPos) dPosition[posIds[i] * H + c] += g;
      dTokenType[typeIds[i] * H + c] += g;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Scaled dot-product attention with the padding mask, heads interleaved as in HF (head h = columns h·d … h·d+d-1):
//   S[b,h,i,j] = (Q[b,i,h]·K[b,j,h]) / √d + (mask[b,j] ? 0 : min),  P = softmax_j(S),  O[b,i,h] = Σ_j P · V[b,j,h]
// transformers adds the dtype's most negative value for masked keys; we add −Number.MAX_VALUE (f64's), which
// gives exactly 0 probability for masked keys and, like HF, a uniform row if a row had no key at all.
// Also kept, for the attention kernel's test: lse [B, nh, L] = logsumexp_j S (the kernel saves it for its backward;
// for a row with no real key it stores log(L), the logsumexp of the same uniform softmax over scores of 0).

export const MASK_MIN_F64 = -Number.MAX_VALUE;

export interface AttentionCache {
  /** [B, nh, L, L] softmax probabilities (before dropout). */
  probs: Float64Array;
  /** [B, nh, L, L] dropout factors (0 or 1/(1-p)) on the probabilities; absent without dropout. */
  drop?: Float64Array;
}

/**
 * Q, K, V [B·L, nh·d], mask [B·L] (1 keep, 0 pad) → O [B·L, nh·d] = dropout(P)·V, with `dropout` the GPU kernel's
 * attention-probability mask (HF's attention_probs_dropout_prob).
 */
export function attentionForward(
  Q: Vec, K: Vec, V: Vec, mask: Vec,
  B: number, L: number, nh: number, d: number, dropout?: AttentionDropout,
): { out: Float64Array; lse: Float64Array } & AttentionCache {
  const H = nh * d;
  const scale = 1 / Math.sqrt(d);
  const out = new Float64Array(B * L * H);
  const lse = new Float64Array(B * nh * L);
  const probs = new Float64Array(B * nh * L * L);
  const drop = dropout && dropout.p > 0 ? new Float64Array(B * nh * L * L) : undefined;
  const s = new Float64Array(L);
  for (let b = 0; b < B; b++) {
    let anyKey = false;
    for (let j = 0; j < L; j++) if (mask[b * L + j]) anyKey = true;
    for (let h = 0; h < nh; h++) {
      for (let i = 0; i < L; i++) {
        const qo = (b * L + i) * H + h * d;
        let max = -Infinity;
        for (let j = 0; j < L; j++) {
          const ko = (b * L + j) * H + h * d;
          let dot = 0;
          for (let c = 0; c < d; c++) dot += Q[qo + c] * K[ko + c];
          s[j] = dot * scale + (mask[b * L + j] ? 0 : MASK_MIN_F64);
          if (s[j] > max) max = s[j];
        }
        let sum = 0;
        for (let j = 0; j < L; j++) {
          s[j] = Math.exp(s[j] - max);
          sum += s[j];
        }
        lse[(b * nh + h) * L + i] = anyKey ? max + Math.log(sum) : Math.log(sum);
        const po = ((b * nh + h) * L + i) * L;
        for (let j = 0; j < L; j++) {
          probs[po + j] = s[j] / sum;
          if (drop) drop[po + j] = attentionDropFactor(dropout, nh, L, b, h, i, j);
          const p = drop ? probs[po + j] * drop[po + j] : probs[po + j];
          if (p === 0) continue;
          const vo = (b * L + j) * H + h * d;
          for (let c = 0; c < d; c++) out[qo + c] += p * V[vo + c];
        }
      }
    }
  }
  return { out, lse, probs, drop };
}

/**
 * dO [B·L, nh·d] → dQ, dK, dV (same shape), with F the dropout factors (1 without dropout):
 *   dV[j] += F·P[i,j]·dO[i];  dP[i,j] = F·dO[i]·V[j];  dS = P ⊙ (dP − Σ_j P·dP);  dQ[i] += dS[i,j]·K[j]/√d;  dK[j] += dS[i,j]·Q[i]/√d
 * Also returns delta [B, nh, L] = Σ_j P·dP (the attention kernel's backward scratch, which its test checks).
 */
export function attentionBackward(
  dO: Vec, Q: Vec, K: Vec, V: Vec, cache: AttentionCache,
  B: number, L: number, nh: number, d: number,
): { dQ: Float64Array; dK: Float64Array; dV: Float64Array; delta: Float64Array } {
  const H = nh * d;
  const scale = 1 / Math.sqrt(d);
  const dQ = new Float64Array(B * L * H);
  const dK = new Float64Array(B * L * H);
  const dV = new Float64Array(B * L * H);
  const delta = new Float64Array(B * nh * L);
  const dP = new Float64Array(L);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      for (let i = 0; i < L; i++) {
        const io = (b * L + i) * H + h * d;
        const po = ((b * nh + h) * L + i) * L;
        let dot = 0;
        for (let j = 0; j < L; j++) {
          const f = cache.drop ? cache.drop[po + j] : 1;
          const p = cache.probs[po + j];
          const jo = (b * L + j) * H + h * d;
          let g = 0;
          for (let c = 0; c < d; c++) {
            g += dO[io + c] * V[jo + c];
            dV[jo + c] += f * p * dO[io + c];
          }
          dP[j] = f * g;
          dot += p * dP[j];
        }
        delta[(b * nh + h) * L + i] = dot;
        for (let j = 0; j < L; j++) {
          const dS = cache.probs[po + j] * (dP[j] - dot) * scale;
          if (dS === 0) continue;
          const jo = (b * L + j) * H + h * d;
          for (let c = 0; c < d; c++) {
            dQ[io + c] += dS * K[jo + c];
            dK[jo + c] += dS * Q[io + c];
          }
        }
      }
    }
  }
  return { dQ, dK, dV, delta };
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

/** a + b, elementwise (residual connections). */
export function add(a: Vec, b: Vec): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i];
  return y;
}

/** In place a += b. */
export function addInto(a: Float64Array, b: Vec): void {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
}

// Rows of a [rows, cols] matrix: gather (the [CLS] / <s> token of each sequence) and its backward, scatter-add.

/** out[i, :] = x[idx[i], :]: [n, cols]. */
export function gatherRows(x: Vec, idx: Vec, cols: number): Float64Array {
  const out = new Float64Array(idx.length * cols);
  for (let i = 0; i < idx.length; i++) for (let c = 0; c < cols; c++) out[i * cols + c] = x[idx[i] * cols + c];
  return out;
}

/** dx = dx0 with dx[idx[i], :] += dOut[i, :] (or = with accumulate false): the backward of gatherRows. */
export function scatterRows(dOut: Vec, idx: Vec, dx0: Vec, cols: number, accumulate = true): Float64Array {
  const out = Float64Array.from(dx0);
  for (let i = 0; i < idx.length; i++) {
    for (let c = 0; c < cols; c++) {
      const o = idx[i] * cols + c;
      out[o] = (accumulate ? out[o] : 0) + dOut[i * cols + c];
    }
  }
  return out;
}
