// Elementwise kernels for training, one entry point each (launchers in src/kernels/elementwise.ts).
// Every tensor is flat f32 of `n` elements unless said; one invocation per element, 256 per workgroup, workgroups
// laid out over x and y (grid() in src/gpu/launch.ts) so n may exceed 65535·256.
//
//   copy         y = x                              fill         y[offset + i] = value
//   add          c = a + b
//   gelu_fwd     y = x·Φ(x)          (exact erf, as torch.nn.GELU())
//   gelu_bwd     c = dy·(Φ(x) + x·φ(x))            a = x, b = dy
//   tanh_fwd     y = tanh(x)
//   tanh_bwd     c = dy·(1 − y²)                    a = y (the forward output), b = dy
//   erf          y = erf(x)          (GELU's erf, for its own test)
//   dropout      y = keep(seed, i) ? x·scale : 0    forward and backward alike (the mask is recomputed from the seed)
//   gather_rows  out[i, :] = x[idx[i], :]          out [rows, cols], x [rowsIn, cols]
//   scatter_rows dx[idx[i], :] (+)= dOut[i, :]     dOut [rows, cols], dx [rowsIn, cols]; idx distinct
//
// Entry points with different signatures reuse binding numbers (launch.ts convention: storage buffers 0..k-1, then
// the uniform at k); WGSL allows that as long as one entry point does not use two variables at the same binding.
// Each entry point reads its own uniform struct, so a field means one thing: the launcher writes its fields in order.

struct Size {
  n: u32,  // elements
}

struct DropoutParams {
  n: u32,
  threshold: u32,  // drop when the 24 hash bits are below this: round(p·2²⁴)
  scale: f32,      // 1/(1 − p)
  seed: u32,
}

struct FillParams {
  n: u32,
  value: f32,
  offset: u32,  // first element written
}

struct RowParams {
  rows: u32,        // rows gathered / scattered (the length of idx)
  cols: u32,
  rows_in: u32,     // rows of the full tensor (x for gather, dx for scatter); larger indices are out of range
  accumulate: u32,  // scatter only: 1 adds into dx, 0 overwrites
}

const WG = 256u;

fn flat(wid: vec3u, nwg: vec3u, li: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + li;
}

// ---- signature (x: read, y: read_write, params) -------------------------------------------------------------
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> unary: Size;                    // copy, gelu_fwd, tanh_fwd, erf
@group(0) @binding(2) var<uniform> dropout_params: DropoutParams;  // dropout

@compute @workgroup_size(WG)
fn copy(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = flat(wid, nwg, li);
  if (i < unary.n) { y[i] = x[i]; }
}

@compute @workgroup_size(WG)
fn gelu_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = flat(wid, nwg, li);
  if (i < unary.n) {
    let v = x[i];
    y[i] = v * norm_cdf(v);
  }
}

@compute @workgroup_size(WG)
fn tanh_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = flat(wid, nwg, li);
  if (i < unary.n) { y[i] = tanh_f32(x[i]); }
}

@compute @workgroup_size(WG)
fn erf(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = flat(wid, nwg, li);
  if (i < unary.n) { y[i] = erf_f32(x[i]); }
}

@compute @workgroup_size(WG)
fn dropout(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = flat(wid, nwg, li);
  let p = dropout_params;
  if (i < p.n) {
    var v = 0.0;
    if (dropout_keep(p.seed, i, p.threshold)) { v = x[i] * p.scale; }
    y[i] = v;
  }
}

// ---- signature (filled: read_write, params) -----------------------------------------------------------------
@group(0) @binding(0) var<storage, read_write> filled: array<f32>;
@group(0) @binding(1) var<uniform> fill_params: FillParams;

@compute @workgroup_size(WG)
fn fill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = flat(wid, nwg, li);
  if (i < fill_params.n) { filled[fill_params.offset + i] = fill_params.value; }
}

// ---- signature (a: read, b: read, c: read_write, params) ----------------------------------------------------
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> binary: Size;  // add, gelu_bwd, tanh_bwd

@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = flat(wid, nwg, li);
  if (i < binary.n) { c[i] = a[i] + b[i]; }
}

@compute @workgroup_size(WG)
fn gelu_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = flat(wid, nwg, li);
  if (i < binary.n) {
    let v = a[i];
    // d/dx x·Φ(x) = Φ(x) + x·φ(x), φ(x) = exp(−x²/2)/√(2π)  (as PyTorch's GeluBackward)
    let pdf = exp(-0.5 * v * v) * 0.3989422804014327;
    c[i] = b[i] * (norm_cdf(v) + v * pdf);
  }
}

@compute @workgroup_size(WG)
fn tanh_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = flat(wid, nwg, li);
  if (i < binary.n) {
    let t = a[i];
    c[i] = b[i] * (1.0 - t * t);
  }
}

// ---- signature (src: read, idx: read u32, dst: read_write, params) ------------------------------------------
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> row_params: RowParams;  // gather_rows, scatter_rows

@compute @workgroup_size(WG)
fn gather_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = flat(wid, nwg, li);
  let p = row_params;
  if (i < p.rows * p.cols) {
    let row = i / p.cols;
    let col = i - row * p.cols;
    let r = idx[row];
    // An index outside x would read another tensor's memory: make it loud (NaN) instead.
    var bits = 0x7fc00000u;  // quiet NaN (a var: constant evaluation refuses NaN)
    if (r < p.rows_in) { bits = bitcast<u32>(src[r * p.cols + col]); }
    let v = bitcast<f32>(bits);
    dst[i] = v;
  }
}

@compute @workgroup_size(WG)
fn scatter_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = flat(wid, nwg, li);
  let p = row_params;
  if (i < p.rows * p.cols) {
    let row = i / p.cols;
    let col = i - row * p.cols;
    let r = idx[row];
    if (r < p.rows_in) {
      let o = r * p.cols + col;
      var v = src[i];
      if (p.accumulate != 0u) { v += dst[o]; }
      dst[o] = v;
    }
  }
}

// ---- math -----------------------------------------------------------------------------------------------------

// Φ(v) = ½(1 + erf(v/√2)) in f32. erf after N. Juffa's faithfully rounded erff (max error < 1 ulp with a correctly
// rounded exp; published on Stack Overflow, question 35148198). For |u| > 0.9277 that method computes
// erf = 1 − exp(r) with exp(r) = erfc(|u|), so the lower tail uses exp(r) directly: no cancellation in 1 + erf(u)
// for negative inputs.
fn norm_cdf(v: f32) -> f32 {
  let u = v * 0.70710678118654752;
  let t = abs(u);
  if (t > 0.927734375) {
    let e = exp(erfc_log(t));  // erfc(t)
    return select(0.5 * e, 1.0 - 0.5 * e, u > 0.0);
  }
  return 0.5 + 0.5 * erf_small(u);
}

// erf(u) itself (same method), exported for its own test through the `erf` entry point.
fn erf_f32(u: f32) -> f32 {
  let t = abs(u);
  if (t > 0.927734375) {
    let m = 1.0 - exp(erfc_log(t));
    return select(-m, m, u >= 0.0);
  }
  return erf_small(u);
}

// log(erfc(t)) for t > 0.927734375 (the tail polynomial).
fn erfc_log(t: f32) -> f32 {
  let s = t * t;
  var r = fma(-1.72853470e-5, t, 3.83197126e-4);
  let q = fma(-3.88396438e-3, t, 2.42546219e-2);
  r = fma(r, s, q);
  r = fma(r, t, -1.06777877e-1);
  r = fma(r, t, -6.34846687e-1);
  r = fma(r, t, -1.28717512e-1);
  return fma(r, t, -t);
}

// erf(u) for |u| <= 0.927734375: u + u·r(u²).
fn erf_small(u: f32) -> f32 {
  let s = u * u;
  var r = -5.96761703e-4;
  r = fma(r, s, 4.99119423e-3);
  r = fma(r, s, -2.67681349e-2);
  r = fma(r, s, 1.12819925e-1);
  r = fma(r, s, -3.76125336e-1);
  r = fma(r, s, 1.28379166e-1);
  return fma(r, u, u);
}

// tanh without the builtin (whose accuracy and overflow behaviour vary by driver): Taylor series through x¹⁹ below
// 0.55 (≈1 ulp), 1 − 2/(e^{2|x|} + 1) above (≈3 ulp; e^{2|x|} = inf gives exactly 1, never NaN).
fn tanh_f32(v: f32) -> f32 {
  let t = abs(v);
  if (t < 0.55) {
    let s = v * v;
    var r = -2.3912911424355248e-4;
    r = fma(r, s, 5.90027440945586e-4);
    r = fma(r, s, -1.4558343870513183e-3);
    r = fma(r, s, 3.592128036572481e-3);
    r = fma(r, s, -8.863235529902197e-3);
    r = fma(r, s, 2.1869488536155203e-2);
    r = fma(r, s, -5.396825396825397e-2);
    r = fma(r, s, 1.3333333333333333e-1);
    r = fma(r, s, -3.333333333333333e-1);
    return fma(r * s, v, v);
  }
  let m = 1.0 - 2.0 / (exp(2.0 * t) + 1.0);
  return select(-m, m, v >= 0.0);
}

// Counter-based dropout mask: keep element i when the top 24 bits of a two-round PCG hash of (seed, i) are at
// least `threshold` = round(p·2²⁴). Stateless, so backward recomputes the forward mask from the same seed.
// Mirrored bit for bit by dropoutKeep() in src/kernels/elementwise.ts.
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn dropout_keep(seed: u32, i: u32, threshold: u32) -> bool {
  let k = pcg(seed);
  let h = pcg(pcg(i ^ k) + k);
  return (h >> 8u) >= threshold;
}
