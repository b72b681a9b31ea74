// Batched matrix multiply, the three forms training needs:
//   forward   Y  = X · Wᵀ + b     (TRANS_B, HAS_BIAS)       X [M,K], W [N,K], b [N]  -> Y [M,N]
//   backward  dX = dY · W         (no transpose)            dY [M,N'], W [N',K]      -> dX
//   backward  dW = dYᵀ · X        (TRANS_A, ACCUMULATE)     dY [M',N], X [M',K]      -> dW, added to what is there
//             db = Σ_rows dY      (BIAS_GRAD: the row sums of op(A), fused into the same pass)
// In general C[b] = alpha · op(A[b]) · op(B[b]) (+ bias[n]) (+ C[b] if ACCUMULATE), op = transpose when flagged.
// Logical A is [M,K] (stored [K,M] when TRANS_A); logical B is [K,N] (stored [N,K] when TRANS_B). Contiguous rows.
// Batch strides may be 0 (a weight shared by every batch entry).
//
// Tiling (the launcher prepends `const R, BK, STAGES`; see src/kernels/matmul.ts):
//   256 threads (16 x 16) compute a BM x BN tile, BM = BN = 64·R. Thread (tx, ty) owns rows ty·4 + 64r + i and
//   columns tx·4 + 64c + j (r, c < R; i, j < 4): R x R blocks of 4 x 4, each block's 4 columns one vec4. Its A and B
//   fragments for one k are R vec4 each, read straight from workgroup memory (4 contiguous floats per read; the 16
//   lanes of a half-warp read 16 consecutive vec4, so the reads are free of bank conflicts), for 16·R² FMAs.
//   Workgroup memory holds A as [k][m] and B as [k][n], rows padded by 4 floats so the transposing stores (the
//   k-contiguous operands) of neighbouring rows land in different banks.
//   The K loop is double-buffered (STAGES = 2): the next tile is loaded from global memory into registers while the
//   current one is multiplied, then stored into the other buffer; one barrier per tile.
//   Every output element is one thread's fma chain over k in increasing order, so the result does not depend on the
//   tile shape (R, BK): the autotune can pick any tile without changing a bit.
//
// Split-K (SPLIT): the grid's z is batch x splits; split s covers k in [s·kChunk, (s+1)·kChunk) and writes its raw
// partial product to C = partial[z][M][N] (and its row sums to biasGrad = partialBias[z][M]); `splitk_reduce` then
// adds the splits in order, applies alpha, bias and accumulation: deterministic, two passes.
// Sizes that do not divide the tile are zero-padded on load and masked on store.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;
override BIAS_GRAD: bool = false;
override SPLIT: bool = false;

struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  strideA: u32, strideB: u32, strideC: u32, alpha: u32,  // alpha: f32 bits
  splits: u32, kChunk: u32,
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read_write> biasGrad: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

const BM = 64u * R;
const BN = 64u * R;
const SA = BM + 4u;                  // padded row (floats) of As [k][m]
const SB = BN + 4u;
const A_STAGE = BK * SA / 4u;        // vec4 per stage
const B_STAGE = BK * SB / 4u;
const LOADS = BM * BK / 1024u;       // vec4-shaped global loads per thread per tile, the same for A and B
const_assert BM == BN;
var<workgroup> As: array<vec4<f32>, STAGES * A_STAGE>;
var<workgroup> Bs: array<vec4<f32>, STAGES * B_STAGE>;

// Group g of a BK x `outer` tile (outer = BM for A, BN for B) is four floats adjacent in the stored matrix; where it
// starts in the tile: (outer offset, k offset). Stored k-contiguous (A as [M,K], B as [N,K]) the four run along k,
// otherwise along the outer dimension.
fn group_at(g: u32, outer: u32, k_contiguous: bool) -> vec2u {
  if (k_contiguous) { return vec2u(g / (BK / 4u), (g % (BK / 4u)) * 4u); }
  return vec2u((g % (outer / 4u)) * 4u, g / (outer / 4u));
}

// Group g of op(A)'s tile at rows row0.., k offset kt; zero outside [0, M) x [kt, kEnd).
fn load_a(g: u32, base: u32, row0: u32, kt: u32, kEnd: u32) -> vec4<f32> {
  let at = group_at(g, BM, !TRANS_A);
  let m = row0 + at.x;
  let k = kt + at.y;
  var v = vec4<f32>(0.0);
  if (TRANS_A) {
    if (k < kEnd) {
      for (var j = 0u; j < 4u; j++) { if (m + j < p.M) { v[j] = A[base + k * p.M + m + j]; } }
    }
  } else if (m < p.M) {
    for (var j = 0u; j < 4u; j++) { if (k + j < kEnd) { v[j] = A[base + m * p.K + k + j]; } }
  }
  return v;
}

// Group g of op(B)'s tile at columns col0.., k offset kt; zero outside [kt, kEnd) x [0, N).
fn load_b(g: u32, base: u32, col0: u32, kt: u32, kEnd: u32) -> vec4<f32> {
  let at = group_at(g, BN, TRANS_B);
  let n = col0 + at.x;
  let k = kt + at.y;
  var v = vec4<f32>(0.0);
  if (TRANS_B) {
    if (n < p.N) {
      for (var j = 0u; j < 4u; j++) { if (k + j < kEnd) { v[j] = B[base + n * p.K + k + j]; } }
    }
  } else if (k < kEnd) {
    for (var j = 0u; j < 4u; j++) { if (n + j < p.N) { v[j] = B[base + k * p.N + n + j]; } }
  }
  return v;
}

// Stores group g into stage `stage` of As ([k][m]): one vec4 when its floats run along m, else four scalars.
fn store_a(stage: u32, g: u32, v: vec4<f32>) {
  let s0 = stage * A_STAGE;
  let at = group_at(g, BM, !TRANS_A);
  if (TRANS_A) {
    As[s0 + at.y * (SA / 4u) + at.x / 4u] = v;
  } else {
    for (var j = 0u; j < 4u; j++) {
      let e = (at.y + j) * SA + at.x;
      As[s0 + e / 4u][e % 4u] = v[j];
    }
  }
}

// The same for Bs ([k][n]).
fn store_b(stage: u32, g: u32, v: vec4<f32>) {
  let s0 = stage * B_STAGE;
  let at = group_at(g, BN, TRANS_B);
  if (TRANS_B) {
    for (var j = 0u; j < 4u; j++) {
      let e = (at.y + j) * SB + at.x;
      Bs[s0 + e / 4u][e % 4u] = v[j];
    }
  } else {
    Bs[s0 + at.y * (SB / 4u) + at.x / 4u] = v;
  }
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3u) {
  let tx = tid % 16u;
  let ty = tid / 16u;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let split = wid.z % p.splits;
  let b = wid.z / p.splits;
  let aBase = b * p.strideA;
  let bBase = b * p.strideB;
  let kBegin = split * p.kChunk;
  let kEnd = min(p.K, kBegin + p.kChunk);
  let rowSums = BIAS_GRAD && wid.x == 0u && tid < BM;

  var acc: array<vec4<f32>, 4u * R * R>;  // [(r·4 + i)·R + c]: rows ty·4 + 64r + i, columns tx·4 + 64c ..+3
  var ra: array<vec4<f32>, LOADS>;  // the next tile, on its way from global to workgroup memory
  var rb: array<vec4<f32>, LOADS>;
  var rowSum = 0.0;
  var lanes = vec4<f32>(0.0);

  var kt = kBegin;
  for (var l = 0u; l < LOADS; l++) {
    let g = tid + 256u * l;
    store_a(0u, g, load_a(g, aBase, row0, kt, kEnd));
    store_b(0u, g, load_b(g, bBase, col0, kt, kEnd));
  }
  workgroupBarrier();
  var stage = 0u;
  loop {
    if (kt >= kEnd) { break; }
    let next = kt + BK;
    let more = next < kEnd;
    if (more) {
      for (var l = 0u; l < LOADS; l++) {
        ra[l] = load_a(tid + 256u * l, aBase, row0, next, kEnd);
        rb[l] = load_b(tid + 256u * l, bBase, col0, next, kEnd);
      }
    }
    let a0 = stage * A_STAGE;
    let b0 = stage * B_STAGE;
    for (var k = 0u; k < BK; k++) {
      var a: array<vec4<f32>, R>;
      var bv: array<vec4<f32>, R>;
      for (var r = 0u; r < R; r++) { a[r] = As[a0 + k * (SA / 4u) + ty + 16u * r]; }
      for (var c = 0u; c < R; c++) { bv[c] = Bs[b0 + k * (SB / 4u) + tx + 16u * c]; }
      for (var r = 0u; r < R; r++) {
        for (var i = 0u; i < 4u; i++) {
          let av = vec4<f32>(a[r][i]);
          for (var c = 0u; c < R; c++) {
            let o = (r * 4u + i) * R + c;
            acc[o] = fma(av, bv[c], acc[o]);
          }
        }
      }
    }
    if (rowSums) {
      // The order of reduce.wgsl's column sum, which this replaces: four lanes by k mod 4 within blocks of 256 k,
      // each block ((l0 + l1) + l2) + l3, blocks added in order. Fixed by k alone, so the same for every tile.
      for (var k = 0u; k < BK; k++) {
        let e = k * SA + tid;
        let kk = kt + k;
        lanes[kk % 4u] += As[a0 + e / 4u][e % 4u];
        if (kk % 256u == 255u) {
          rowSum += ((lanes.x + lanes.y) + lanes.z) + lanes.w;
          lanes = vec4<f32>(0.0);
        }
      }
    }
    if (STAGES == 1u) { workgroupBarrier(); }
    if (more) {
      let s = (stage + 1u) % STAGES;
      for (var l = 0u; l < LOADS; l++) {
        store_a(s, tid + 256u * l, ra[l]);
        store_b(s, tid + 256u * l, rb[l]);
      }
      stage = s;
    }
    workgroupBarrier();
    kt = next;
  }

  let M = p.M;
  let N = p.N;
  let alpha = bitcast<f32>(p.alpha);
  // SPLIT: raw partial products, partial[z][M][N]; otherwise the finished C[b].
  var cBase = b * p.strideC;
  if (SPLIT) { cBase = wid.z * M * N; }
  for (var r = 0u; r < R; r++) {
    for (var i = 0u; i < 4u; i++) {
      let row = row0 + ty * 4u + 64u * r + i;
      if (row >= M) { continue; }
      for (var c = 0u; c < R; c++) {
        let col = col0 + tx * 4u + 64u * c;
        let v4 = acc[(r * 4u + i) * R + c];
        for (var j = 0u; j < 4u; j++) {
          if (col + j >= N) { break; }
          let o = cBase + row * N + col + j;
          if (SPLIT) {
            C[o] = v4[j];
          } else {
            var v = alpha * v4[j];
            if (HAS_BIAS) { v += bias[col + j]; }
            if (ACCUMULATE) { v += C[o]; }
            C[o] = v;
          }
        }
      }
    }
  }
  rowSum += ((lanes.x + lanes.y) + lanes.z) + lanes.w;
  if (rowSums && row0 + tid < M) {
    if (SPLIT) {
      biasGrad[wid.z * M + row0 + tid] = rowSum;
    } else {
      var v = rowSum;
      if (ACCUMULATE) { v += biasGrad[row0 + tid]; }
      biasGrad[row0 + tid] = v;
    }
  }
}

// Pass 2 of split-K: one thread per element of C[batch][M][N] adds the splits' partials in split order, then applies
// alpha, bias and accumulation as `main` does; the threads after those add the row-sum partials into biasGrad
// (batch 1 only). Bindings: partial (A), partial row sums (B), bias, C, biasGrad.
@compute @workgroup_size(256, 1, 1)
fn splitk_reduce(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u,
                 @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.y * nwg.x + wid.x) * 256u + t;
  let MN = p.M * p.N;
  let S = p.splits;
  if (i < p.batch * MN) {
    let b = i / MN;
    let e = i % MN;
    var s = 0.0;
    for (var sp = 0u; sp < S; sp++) { s += A[(b * S + sp) * MN + e]; }
    var v = bitcast<f32>(p.alpha) * s;
    if (HAS_BIAS) { v += bias[e % p.N]; }
    let o = b * p.strideC + e;
    if (ACCUMULATE) { v += C[o]; }
    C[o] = v;
    return;
  }
  let m = i - p.batch * MN;
  if (BIAS_GRAD && m < p.M) {
    var s = 0.0;
    for (var sp = 0u; sp < S; sp++) { s += B[sp * p.M + m]; }
    if (ACCUMULATE) { s += biasGrad[m]; }
    biasGrad[m] = s;
  }
}
