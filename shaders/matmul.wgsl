// Batched matrix multiply, the three forms training needs:
//   forward   Y  = X · Wᵀ + b     (TRANS_B, HAS_BIAS)       X [M,K], W [N,K], b [N]  -> Y [M,N]
//   backward  dX = dY · W         (no transpose)            dY [M,N'], W [N',K]      -> dX
//   backward  dW = dYᵀ · X        (TRANS_A, ACCUMULATE)     dY [M',N], X [M',K]      -> dW, added to what is there
// In general C[b] = alpha · op(A[b]) · op(B[b]) (+ bias[n]) (+ C[b] if ACCUMULATE), op = transpose when flagged.
// Logical A is [M,K] (stored [K,M] when TRANS_A); logical B is [K,N] (stored [N,K] when TRANS_B). Contiguous rows.
// Batch strides may be 0 (a weight shared by every batch entry).
//
// Tiling: a 16x16 workgroup computes a (16·TM) x (16·TN) tile of C; each thread holds TM x TN accumulators
// (register blocking) for rows ty + 16i and columns tx + 16j, so stores are coalesced. K advances in steps of BK
// through workgroup memory. Sizes that do not divide the tile are zero-padded on load and masked on store.
// The launcher prepends `const TM`, `const TN`, `const BK` (see src/kernels/matmul.ts).

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;

struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  strideA: u32, strideB: u32, strideC: u32, alpha: u32,  // alpha: f32 bits
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const WG = 16u;
const BM = WG * TM;
const BN = WG * TN;
var<workgroup> As: array<f32, BK * BM>;  // [k][m]
var<workgroup> Bs: array<f32, BK * BN>;  // [k][n]

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * WG + tx;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let aBase = wid.z * p.strideA;
  let bBase = wid.z * p.strideB;
  let cBase = wid.z * p.strideC;
  let M = p.M;
  let N = p.N;
  let K = p.K;

  var acc: array<f32, TM * TN>;
  var a: array<f32, TM>;
  var b: array<f32, TN>;

  for (var k0 = 0u; k0 < K; k0 += BK) {
    // A tile (BM x BK): walk memory-contiguous dimension fastest so neighbouring threads read neighbouring words.
    for (var i = tid; i < BM * BK; i += WG * WG) {
      var m: u32; var k: u32;
      if (TRANS_A) { m = i % BM; k = i / BM; } else { k = i % BK; m = i / BK; }
      let gm = row0 + m;
      let gk = k0 + k;
      var v = 0.0;
      if (gm < M && gk < K) {
        if (TRANS_A) { v = A[aBase + gk * M + gm]; } else { v = A[aBase + gm * K + gk]; }
      }
      As[k * BM + m] = v;
    }
    // B tile (BK x BN).
    for (var i = tid; i < BN * BK; i += WG * WG) {
      var n: u32; var k: u32;
      if (TRANS_B) { k = i % BK; n = i / BK; } else { n = i % BN; k = i / BN; }
      let gn = col0 + n;
      let gk = k0 + k;
      var v = 0.0;
      if (gn < N && gk < K) {
        if (TRANS_B) { v = B[bBase + gn * K + gk]; } else { v = B[bBase + gk * N + gn]; }
      }
      Bs[k * BN + n] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      for (var i = 0u; i < TM; i++) { a[i] = As[k * BM + ty + i * WG]; }
      for (var j = 0u; j < TN; j++) { b[j] = Bs[k * BN + tx + j * WG]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]); }
      }
    }
    workgroupBarrier();
  }

  let alpha = bitcast<f32>(p.alpha);
  for (var i = 0u; i < TM; i++) {
    let r = row0 + ty + i * WG;
    if (r >= M) { continue; }
    for (var j = 0u; j < TN; j++) {
      let c = col0 + tx + j * WG;
      if (c >= N) { continue; }
      var v = alpha * acc[i * TN + j];
      if (HAS_BIAS) { v += bias[c]; }
      let o = cBase + r * N + c;
      if (ACCUMULATE) { v += C[o]; }
      C[o] = v;
    }
  }
}
