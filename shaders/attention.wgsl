// Fused multi-head self-attention, forward and backward (flash-attention style, f32), for BERT / XLM-R layers.
//
// Layout (fixed; the encoder depends on it):
//   qkv  [B*L, 3*Hd]  one projection: columns [0,Hd) = Q, [Hd,2Hd) = K, [2Hd,3Hd) = V; head h uses columns
//                     h*D..(h+1)*D of each part; token t of sequence b is row b*L + t.          (Hd = H*D)
//   mask [B, L] u32   1 = real token, 0 = padding (only keys are masked; padded query rows are computed like HF).
//   ctx  [B*L, Hd]    output, head h in columns h*D..(h+1)*D.
//   lse  [B, H, L]    per query row: logsumexp of the masked, scaled scores (saved for backward).
//   dqkv [B*L, 3*Hd]  gradient, same layout as qkv; every element is overwritten.
//
// Masking follows Hugging Face: scores of padded keys become finfo(f32).min, so they get weight 0 as long as the
// sequence has one real token. A sequence with no real token at all gets uniform weights over every key (HF:
// min + s rounds to min for every key); we reproduce that by using score 0 for every key of such a sequence.
// Here a masked score is MASKED = -1e30 instead of -3.4e38 so no arithmetic on it can overflow.
//
// Dropout on the attention probabilities (Hugging Face's attention_probs_dropout_prob: ctx = dropout(P)·V with P
// the softmax) when dropThreshold > 0: a keep-mask from a seeded hash of the element index ((b·H + h)·L + query)·L
// + key (u32, wrapping), the same hash as elementwise.wgsl's dropout, kept values scaled by 1/(1-p). Forward drops
// the tile of probabilities fP right before the P·V update; l and lse use the undropped values, so lse is dropout's
// own. Backward recomputes the mask from the seed: dV accumulates P̃ᵀ·dO (P̃ the dropped P), and dP = mask·(dO·Vᵀ)
// enters dS = P∘(dP − delta); delta = rowsum(dO∘O) stays valid since Σ_j P_ij·dP_ij = dO_i·O_i. With
// dropThreshold 0 nothing is hashed and the arithmetic is exactly the no-dropout one.
//
// Entry points (the launcher in src/kernels/attention.ts prepends the tile constants DMAX, FBQ, FBK, ROWS, COLS;
// the head size D itself is a parameter ≤ DMAX, so one pipeline serves every D of a size class and SwiftShader
// does not unroll (and spend seconds compiling) loops over D):
//   forward   one workgroup per (block of FBQ queries, head, sequence): scores, online softmax and P·V in
//             workgroup memory; writes ctx and lse. The [B,H,L,L] matrix never exists in memory.
//   delta     delta[b,h,t] = Σ_d dCtx·ctx over the head's columns (one invocation per row).
//   backward  with override DKV = true ("dkv"): one workgroup per block of ROWS keys, looping over all queries
//             COLS at a time: recomputes P and dS = P∘(dP − delta) and accumulates dK and dV in registers: a
//             deterministic sum, no atomics. With DKV = false ("dq"): one workgroup per block of ROWS queries,
//             looping over keys: dQ = scale · dS·K.
// Both forms share one routine: the "own" rows A (K,V for dkv; Q,dO for dq) stay in workgroup memory,
// the "streamed" rows B (Q,dO for dkv; K,V for dq) go through it COLS at a time. S = A1·B1ᵀ (Q·Kᵀ either way)
// and dP = A2·B2ᵀ (dO·Vᵀ either way).
//
// Threads: NT = TX*TY = 128, tx = tid % TX, ty = tid / TX. A thread owns rows ty + TY*i and, in score phases,
// columns tx + TX*j, in output phases head dims tx + TX*j. Rows of D floats are stored with stride DS = DMAX + 1
// (fewer bank conflicts when neighbouring threads read neighbouring rows).

const TX = 16u;
const TY = 8u;
const NT = TX * TY;
const DS = DMAX + 1u;
const TDO = (DMAX + TX - 1u) / TX;  // head dims per thread in output phases
const MASKED = -1e30;            // a padded key's score (HF: finfo.min)
const NEG_BIG = -1e38;           // running max before any key was seen

// forward and backward (the launcher writes the fields in this order)
struct AttentionParams {
  L: u32,              // sequence length
  H: u32,              // heads
  D: u32,              // head size, at most DMAX
  scale: f32,          // 1/sqrt(D)
  dropThreshold: u32,  // drop a probability when its 24 hash bits are below this (0 = no dropout)
  dropScale: f32,      // 1/(1-p)
  dropSeed: u32,
}

struct DeltaParams {
  L: u32,
  H: u32,
  D: u32,
  gridX: u32,  // invocations per grid row
  total: u32,  // rows of delta: B*H*L
}

// ---- bindings -------------------------------------------------------------------------------------------------
// The entry points reuse binding numbers (launch.ts binds storage buffers 0..n-1 in the launcher's order, then the
// uniform), so the variable at a binding depends on the entry point. Bindings per entry point, from 0:
//   forward   qkv, mask, ctxOut, lseOut, forwardParams
//   delta     deltaCtx, deltaDCtx, deltaOut, deltaParams
//   backward  qkv, mask, lseIn, deltaIn, dCtx, dqkv, backwardParams
// tests/unit/kernels/bindings.test.ts checks this table against the declarations below, against the
// variables each entry point really uses (what layout: 'auto' binds), and against ATTENTION_BINDINGS, through which
// src/kernels/attention.ts binds.
@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> mask: array<u32>;
@group(0) @binding(2) var<storage, read_write> ctxOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> lseOut: array<f32>;
@group(0) @binding(4) var<uniform> forwardParams: AttentionParams;

@group(0) @binding(0) var<storage, read> deltaCtx: array<f32>;
@group(0) @binding(1) var<storage, read> deltaDCtx: array<f32>;
@group(0) @binding(2) var<storage, read_write> deltaOut: array<f32>;
@group(0) @binding(3) var<uniform> deltaParams: DeltaParams;

@group(0) @binding(2) var<storage, read> lseIn: array<f32>;
@group(0) @binding(3) var<storage, read> deltaIn: array<f32>;
@group(0) @binding(4) var<storage, read> dCtx: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(6) var<uniform> backwardParams: AttentionParams;

// ---- shared by forward and backward ---------------------------------------------------------------------------

// What one workgroup works on: head h of sequence b, with the sizes every phase needs. (Uniform across the
// workgroup, so loops bounded by its sizes may contain barriers.)
struct Slice {
  b: u32,
  h: u32,
  L: u32,
  H: u32,
  D: u32,
  Hd: u32,  // H*D: columns of ctx and of each part of qkv
  scale: f32,
}

// The workgroup's slice: head wid.y of sequence wid.z.
fn sliceOf(p: AttentionParams, wid: vec3u) -> Slice {
  return Slice(wid.z, wid.y, p.L, p.H, p.D, p.H * p.D, p.scale);
}

var<workgroup> wgAnyReal: atomic<u32>;

// True when the slice's sequence has at least one real token (if not, every key scores 0: uniform weights, as HF).
// Call from uniform control flow (it has a barrier).
fn anyRealToken(s: Slice, tid: u32) -> bool {
  var any = 0u;
  for (var t = tid; t < s.L; t += NT) { any |= mask[s.b * s.L + t]; }
  if (any != 0u) { atomicOr(&wgAnyReal, 1u); }
  workgroupBarrier();
  return atomicLoad(&wgAnyReal) != 0u;
}

// Where (token t, head dim d) of the slice's head is in part `part` of qkv (0 = Q, 1 = K, 2 = V) and in a
// [B*L, Hd] tensor (ctx, dCtx); row (b, h, t) of a [B, H, L] tensor (lse, delta).
fn qkvIndex(s: Slice, part: u32, t: u32, d: u32) -> u32 { return (s.b * s.L + t) * (3u * s.Hd) + part * s.Hd + s.h * s.D + d; }
fn ctxIndex(s: Slice, t: u32, d: u32) -> u32 { return (s.b * s.L + t) * s.Hd + s.h * s.D + d; }
fn rowIndex(s: Slice, t: u32) -> u32 { return (s.b * s.H + s.h) * s.L + t; }

// What every tile load reads: element (t, d) of part `part` of qkv, 0 past the sequence end (padding rows of the
// last tile). The loops themselves stay in the entry points: the tiles are workgroup arrays of different sizes,
// hence different types, which one WGSL function cannot take.
fn qkvAt(s: Slice, part: u32, t: u32, d: u32) -> f32 {
  if (t >= s.L) { return 0.0; }
  return qkv[qkvIndex(s, part, t, d)];
}

// Counter-based dropout mask, bit for bit elementwise.wgsl's dropout_keep (and dropoutKeep() on the CPU).
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// The factor a probability P[b,h,query,key] is multiplied by: 0 (dropped) or 1/(1-p).
fn dropFactor(p: AttentionParams, s: Slice, query: u32, key: u32) -> f32 {
  let i = rowIndex(s, query) * s.L + key;
  let k = pcg(p.dropSeed);
  let bits = pcg(pcg(i ^ k) + k);
  return select(0.0, p.dropScale, (bits >> 8u) >= p.dropThreshold);
}

// The score as softmax sees it: scaled, padded keys MASKED, or 0 for all keys of an all-padding sequence.
fn maskedScore(s: Slice, anyReal: bool, dot: f32, key: u32) -> f32 {
  if (!anyReal) { return 0.0; }
  return select(MASKED, dot * s.scale, mask[s.b * s.L + key] != 0u);
}

// ---- forward ------------------------------------------------------------------------------------------------
const FTQ = FBQ / TY;  // query rows per thread
const FTK = FBK / TX;  // keys per thread in the score phase
const FPS = FBK + 1u;  // stride of fP rows

var<workgroup> fQ: array<f32, FBQ * DS>;   // [query][d]
var<workgroup> fKV: array<f32, FBK * DS>;  // [key][d]: the K tile, then the V tile
var<workgroup> fP: array<f32, FBQ * FPS>;  // [query][key]: scores, then exp(score − running max)
var<workgroup> fRow: array<f32, FBQ>;      // per query: rescale factor of the running sums, at the end 1/l

@compute @workgroup_size(NT)
fn forward(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3u) {
  let p = forwardParams;
  let s = sliceOf(p, wid);
  let anyReal = anyRealToken(s, tid);
  let L = s.L;
  let D = s.D;
  let q0 = wid.x * FBQ;
  let tx = tid % TX;
  let ty = tid / TX;

  for (var i = tid; i < FBQ * D; i += NT) {  // tiles hold rows of D floats, DS apart; i = (row, d)
    let r = i / D;
    let d = i % D;
    fQ[r * DS + d] = qkvAt(s, 0u, q0 + r, d);
  }

  // Running max m and sum l of row `tid` (threads tid < FBQ own one query row each for the softmax).
  var m = NEG_BIG;
  var l = 0.0;
  var acc: array<f32, FTQ * TDO>;  // O rows ty + TY*i, dims tx + TX*j, unnormalised
  var qa: array<f32, FTQ>;
  var kb: array<f32, FTK>;
  var vb: array<f32, TDO>;

  for (var k0 = 0u; k0 < L; k0 += FBK) {
    for (var i = tid; i < FBK * D; i += NT) {
      let r = i / D;
      let d = i % D;
      fKV[r * DS + d] = qkvAt(s, 1u, k0 + r, d);
    }
    workgroupBarrier();

    // Scores S = Q·Kᵀ for this thread's FTQ x FTK block.
    var sc: array<f32, FTQ * FTK>;
    for (var i = 0u; i < FTQ * FTK; i++) { sc[i] = 0.0; }  // explicit: some compilers hoist loop-local vars
    for (var d = 0u; d < D; d++) {
      for (var i = 0u; i < FTQ; i++) { qa[i] = fQ[(ty + TY * i) * DS + d]; }
      for (var j = 0u; j < FTK; j++) { kb[j] = fKV[(tx + TX * j) * DS + d]; }
      for (var i = 0u; i < FTQ; i++) {
        for (var j = 0u; j < FTK; j++) { sc[i * FTK + j] = fma(qa[i], kb[j], sc[i * FTK + j]); }
      }
    }
    for (var j = 0u; j < FTK; j++) {
      let c = tx + TX * j;
      let key = min(k0 + c, L - 1u);  // keys past L are dropped in the softmax below
      for (var i = 0u; i < FTQ; i++) {
        fP[(ty + TY * i) * FPS + c] = maskedScore(s, anyReal, sc[i * FTK + j], key);
      }
    }
    workgroupBarrier();

    // Online softmax, one thread per query row; meanwhile everyone loads the V tile over the K tile. The running
    // sum l takes the undropped values; what multiplies V is dropped (attention-probability dropout).
    if (tid < FBQ) {
      let nk = min(FBK, L - k0);
      var mt = m;
      for (var c = 0u; c < nk; c++) { mt = max(mt, fP[tid * FPS + c]); }
      var sum = 0.0;
      for (var c = 0u; c < FBK; c++) {
        var e = 0.0;
        if (c < nk) { e = exp(fP[tid * FPS + c] - mt); }
        sum += e;
        if (p.dropThreshold != 0u && c < nk) { e *= dropFactor(p, s, q0 + tid, k0 + c); }
        fP[tid * FPS + c] = e;
      }
      let alpha = exp(m - mt);
      l = l * alpha + sum;
      m = mt;
      fRow[tid] = alpha;
    }
    for (var i = tid; i < FBK * D; i += NT) {
      let r = i / D;
      let d = i % D;
      fKV[r * DS + d] = qkvAt(s, 2u, k0 + r, d);
    }
    workgroupBarrier();

    // O = alpha·O + P·V.
    for (var i = 0u; i < FTQ; i++) {
      let alpha = fRow[ty + TY * i];
      for (var j = 0u; j < TDO; j++) { acc[i * TDO + j] *= alpha; }
    }
    for (var c = 0u; c < FBK; c++) {
      for (var i = 0u; i < FTQ; i++) { qa[i] = fP[(ty + TY * i) * FPS + c]; }
      for (var j = 0u; j < TDO; j++) { vb[j] = fKV[c * DS + min(tx + TX * j, D - 1u)]; }
      for (var i = 0u; i < FTQ; i++) {
        for (var j = 0u; j < TDO; j++) { acc[i * TDO + j] = fma(qa[i], vb[j], acc[i * TDO + j]); }
      }
    }
    workgroupBarrier();
  }

  if (tid < FBQ) {
    fRow[tid] = 1.0 / l;
    let t = q0 + tid;
    if (t < L) { lseOut[rowIndex(s, t)] = m + log(l); }
  }
  workgroupBarrier();
  for (var i = 0u; i < FTQ; i++) {
    let r = ty + TY * i;
    let t = q0 + r;
    if (t >= L) { continue; }
    let inv = fRow[r];
    for (var j = 0u; j < TDO; j++) {
      let d = tx + TX * j;
      if (d < D) { ctxOut[ctxIndex(s, t, d)] = acc[i * TDO + j] * inv; }
    }
  }
}

// ---- delta = rowsum(dCtx ∘ ctx) per (b, h, query) -----------------------------------------------------------
@compute @workgroup_size(NT)
fn delta(@builtin(global_invocation_id) gid: vec3u) {
  let p = deltaParams;
  let idx = gid.y * p.gridX + gid.x;  // (b*H + h)*L + t
  if (idx >= p.total) { return; }
  let t = idx % p.L;
  let bh = idx / p.L;
  let h = bh % p.H;
  let b = bh / p.H;
  let base = (b * p.L + t) * (p.H * p.D) + h * p.D;
  var sum = 0.0;
  for (var d = 0u; d < p.D; d++) { sum = fma(deltaDCtx[base + d], deltaCtx[base + d], sum); }
  deltaOut[idx] = sum;
}

// ---- backward: dK, dV (DKV = true) and dQ (DKV = false) -------------------------------------------------------
override DKV: bool = true;
const BTR = ROWS / TY;  // own rows per thread
const BTC = COLS / TX;  // streamed rows per thread in the score phase
const BPS = COLS + 1u;  // stride of bP / bS rows

var<workgroup> bA1: array<f32, ROWS * DS>;  // own rows: K (dkv) or Q (dq)
var<workgroup> bA2: array<f32, ROWS * DS>;  //           V (dkv) or dO (dq)
var<workgroup> bB1: array<f32, COLS * DS>;  // streamed: Q (dkv) or K (dq)
var<workgroup> bB2: array<f32, COLS * DS>;  //           dO (dkv) or V (dq)
var<workgroup> bP: array<f32, ROWS * BPS>;  // [own][streamed] probabilities
var<workgroup> bS: array<f32, ROWS * BPS>;  // [own][streamed] dS = P∘(dP − delta)
var<workgroup> bLse: array<f32, COLS>;      // dkv: lse and delta of the streamed queries
var<workgroup> bDelta: array<f32, COLS>;

// Backward's operands by part: 0 = Q, 1 = K, 2 = V (qkvAt), 3 = dO (dCtx); 0 past the sequence end.
fn operandAt(s: Slice, part: u32, t: u32, d: u32) -> f32 {
  if (part < 3u) { return qkvAt(s, part, t, d); }
  if (t >= s.L) { return 0.0; }
  return dCtx[ctxIndex(s, t, d)];
}

// One workgroup: own rows [r0, r0+ROWS) of (b, h); DKV picks which gradient (see the header).
@compute @workgroup_size(NT)
fn backward(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3u) {
  let isDkv = DKV;
  let p = backwardParams;
  let s = sliceOf(p, wid);
  let anyReal = anyRealToken(s, tid);
  let L = s.L;
  let D = s.D;
  let r0 = wid.x * ROWS;
  let tx = tid % TX;
  let ty = tid / TX;
  // The parts of the own rows (A1, A2) and the streamed rows (B1, B2): S = A1·B1ᵀ = Q·Kᵀ, dP = A2·B2ᵀ = dO·Vᵀ.
  let ownParts = select(vec2u(0u, 3u), vec2u(1u, 2u), isDkv);       // dq: Q, dO; dkv: K, V
  let streamedParts = select(vec2u(1u, 2u), vec2u(0u, 3u), isDkv);  // dq: K, V; dkv: Q, dO

  for (var i = tid; i < ROWS * D; i += NT) {
    let r = i / D;
    let d = i % D;
    bA1[r * DS + d] = operandAt(s, ownParts.x, r0 + r, d);
    bA2[r * DS + d] = operandAt(s, ownParts.y, r0 + r, d);
  }
  // dq: lse and delta of this thread's own query rows.
  var ownLse: array<f32, BTR>;
  var ownDelta: array<f32, BTR>;
  if (!isDkv) {
    for (var i = 0u; i < BTR; i++) {
      let t = min(r0 + ty + TY * i, L - 1u);
      ownLse[i] = lseIn[rowIndex(s, t)];
      ownDelta[i] = deltaIn[rowIndex(s, t)];
    }
  }

  var g1: array<f32, BTR * TDO>;  // dkv: dK; dq: dQ (unscaled)
  var g2: array<f32, BTR * TDO>;  // dkv: dV
  var a1: array<f32, BTR>;
  var a2: array<f32, BTR>;
  var c1: array<f32, BTC>;
  var c2: array<f32, BTC>;
  var w1: array<f32, TDO>;
  var w2: array<f32, TDO>;

  for (var c0 = 0u; c0 < L; c0 += COLS) {
    for (var i = tid; i < COLS * D; i += NT) {
      let r = i / D;
      let d = i % D;
      bB1[r * DS + d] = operandAt(s, streamedParts.x, c0 + r, d);
      bB2[r * DS + d] = operandAt(s, streamedParts.y, c0 + r, d);
    }
    if (isDkv) {
      for (var c = tid; c < COLS; c += NT) {
        let t = min(c0 + c, L - 1u);
        bLse[c] = lseIn[rowIndex(s, t)];
        bDelta[c] = deltaIn[rowIndex(s, t)];
      }
    }
    workgroupBarrier();

    // Phase 1: s = A1·B1ᵀ (Q·K), dp = A2·B2ᵀ (dO·V) for this thread's BTR x BTC block, then P and dS.
    var sc: array<f32, BTR * BTC>;
    var dp: array<f32, BTR * BTC>;
    for (var i = 0u; i < BTR * BTC; i++) {  // explicit: some compilers hoist loop-local vars
      sc[i] = 0.0;
      dp[i] = 0.0;
    }
    for (var d = 0u; d < D; d++) {
      for (var i = 0u; i < BTR; i++) {
        a1[i] = bA1[(ty + TY * i) * DS + d];
        a2[i] = bA2[(ty + TY * i) * DS + d];
      }
      for (var j = 0u; j < BTC; j++) {
        c1[j] = bB1[(tx + TX * j) * DS + d];
        c2[j] = bB2[(tx + TX * j) * DS + d];
      }
      for (var i = 0u; i < BTR; i++) {
        for (var j = 0u; j < BTC; j++) {
          sc[i * BTC + j] = fma(a1[i], c1[j], sc[i * BTC + j]);
          dp[i * BTC + j] = fma(a2[i], c2[j], dp[i * BTC + j]);
        }
      }
    }
    for (var i = 0u; i < BTR; i++) {
      let r = ty + TY * i;
      for (var j = 0u; j < BTC; j++) {
        let c = tx + TX * j;
        let inRange = r0 + r < L && c0 + c < L;
        var key: u32;
        var lse: f32;
        var dl: f32;
        if (isDkv) {
          key = min(r0 + r, L - 1u);
          lse = bLse[c];
          dl = bDelta[c];
        } else {
          key = min(c0 + c, L - 1u);
          lse = ownLse[i];
          dl = ownDelta[i];
        }
        var pr = 0.0;
        if (inRange) { pr = exp(maskedScore(s, anyReal, sc[i * BTC + j], key) - lse); }
        var dpv = dp[i * BTC + j];
        var prv = pr;  // what multiplied V in forward: the dropped probability
        if (p.dropThreshold != 0u && inRange) {
          var query = c0 + c;  // dkv: own rows are keys, streamed rows queries
          if (!isDkv) { query = r0 + r; }
          let f = dropFactor(p, s, query, key);
          prv = pr * f;
          dpv = dpv * f;
        }
        bP[r * BPS + c] = prv;
        bS[r * BPS + c] = pr * (dpv - dl);
      }
    }
    workgroupBarrier();

    // Phase 2: dkv: dV += P·dO, dK += dS·Q;  dq: dQ += dS·K.
    for (var c = 0u; c < COLS; c++) {
      for (var j = 0u; j < TDO; j++) {
        let d = min(tx + TX * j, D - 1u);
        w1[j] = bB1[c * DS + d];
        if (isDkv) { w2[j] = bB2[c * DS + d]; }
      }
      for (var i = 0u; i < BTR; i++) {
        let r = ty + TY * i;
        let ds = bS[r * BPS + c];
        for (var j = 0u; j < TDO; j++) { g1[i * TDO + j] = fma(ds, w1[j], g1[i * TDO + j]); }
        if (isDkv) {
          let pr = bP[r * BPS + c];
          for (var j = 0u; j < TDO; j++) { g2[i * TDO + j] = fma(pr, w2[j], g2[i * TDO + j]); }
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < BTR; i++) {
    let t = r0 + ty + TY * i;
    if (t >= L) { continue; }
    for (var j = 0u; j < TDO; j++) {
      let d = tx + TX * j;
      if (d >= D) { continue; }
      if (isDkv) {
        dqkv[qkvIndex(s, 1u, t, d)] = g1[i * TDO + j] * s.scale;
        dqkv[qkvIndex(s, 2u, t, d)] = g2[i * TDO + j];
      } else {
        dqkv[qkvIndex(s, 0u, t, d)] = g1[i * TDO + j] * s.scale;
      }
    }
  }
}
