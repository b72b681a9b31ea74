// Losses over a small batch (n up to a few thousand), one workgroup of 256 threads, f32.
//
//   bce        pointwise BCE-with-logits, mean over n, with torch's pos_weight w (1 = plain BCE):
//                loss = mean_i [ max(x_i,0) - x_i*y_i + log1p(exp(-|x_i|)) + (w-1)*y_i*softplus(-x_i) ]
//                dlogits_i = (sigmoid(x_i) - y_i - (w-1)*y_i*sigmoid(-x_i)) * gradScale / n
//              (= w·y·softplus(−x) + (1−y)·softplus(x); with w = 1 the extra term is skipped: bit for bit plain BCE)
//   listwise   softmax cross-entropy over `groups` groups of g logits, the positive at index 0 of each group:
//                loss = mean_k [ logsumexp(z_k) - z_k0 ]
//                dlogits_kj = (softmax(z_k)_j - [j == 0]) * gradScale / groups
//
// The loss scalar goes to loss[lossOffset] (so micro-batches can write their own slots and be read back once);
// gradScale is for gradient accumulation (e.g. 1/steps). Must match a float64 reference to about 1e-7 on the loss:
//  - exp and log are computed here from + and * only (correctly rounded in WGSL/Vulkan) with cephes' polynomials,
//    about 1 ulp, instead of the builtins, which Vulkan lets drift by 3 + 2|x| ulp;
//  - sums are compensated (TwoSum), per thread and across the tree, and the mean multiplies by 1/n given as a
//    float64 split into two f32 (invHi + invLo) with an exact TwoProduct, so the scalar is rounded once, at the end.

struct BceParams { n: u32, lossOffset: u32, gradScale: u32, invHi: u32, invLo: u32, posWeightM1: u32 }
struct ListParams { groups: u32, g: u32, lossOffset: u32, gradScale: u32, invHi: u32, invLo: u32 }

// bce bindings
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<uniform> bp: BceParams;
// listwise bindings (same slots, other entry point)
@group(0) @binding(0) var<storage, read> zs: array<f32>;
@group(0) @binding(1) var<storage, read_write> lossL: array<f32>;
@group(0) @binding(2) var<storage, read_write> dz: array<f32>;
@group(0) @binding(3) var<uniform> lp: ListParams;

const WG = 256u;
var<workgroup> hiBuf: array<f32, WG>;
var<workgroup> loBuf: array<f32, WG>;

// ---- accurate elementary functions ----------------------------------------------------------------------------

// exp(x) for x <= 0 (all our arguments): Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, cephes expf polynomial.
fn exp_neg(x: f32) -> f32 {
  if (x < -87.0) { return 0.0; }  // below f32's normal range; the loss terms it feeds are then exact anyway
  let k = round(x * 1.44269504088896341);
  let r = (x - k * 0.693359375) - k * -2.12194440e-4;  // ln2 = 0.693359375 - 2.12194440e-4 (first part exact in k*.)
  var q = 1.9875691500e-4;
  q = q * r + 1.3981999507e-3;
  q = q * r + 8.3334519073e-3;
  q = q * r + 4.1665795894e-2;
  q = q * r + 1.6666665459e-1;
  q = q * r + 5.0000001201e-1;
  let y = q * (r * r) + r + 1.0;
  return ldexp(y, i32(k));
}

// log(1 + m) - m for m in [sqrt(1/2) - 1, sqrt(2) - 1] (cephes logf's polynomial): the small part, added last.
fn log1p_tail(m: f32) -> f32 {
  let z = m * m;
  var y = 7.0376836292e-2;
  y = y * m - 1.1514610310e-1;
  y = y * m + 1.1676998740e-1;
  y = y * m - 1.2420140846e-1;
  y = y * m + 1.4249322787e-1;
  y = y * m - 1.6668057665e-1;
  y = y * m + 2.0000714765e-1;
  y = y * m - 2.4999993993e-1;
  y = y * m + 3.3333331174e-1;
  return y * m * z - 0.5 * z;
}

// log(x) for finite x > 0: x = f 2^e with f in [sqrt(1/2), sqrt(2)), log x = log1p(f - 1) + e ln2, ln2 split in
// two (0.693359375 has 9 bits, so e * it is exact), summed smallest first as cephes does.
fn log_pos(x: f32) -> f32 {
  let fe = frexp(x);  // fract in [0.5, 1)
  var f = fe.fract;
  var e = f32(fe.exp);
  if (f < 0.70710678118654752) { f = f + f; e = e - 1.0; }
  let m = f - 1.0;  // exact (Sterbenz)
  return (m + (log1p_tail(m) + e * -2.12194440e-4)) + e * 0.693359375;
}

// log(1 + u) for u >= 0. Past the core's range, 1 + u rounds; its rounding error is added back as err / (1 + u).
fn log1p_pos(u: f32) -> f32 {
  if (u <= 0.41421356) { return u + log1p_tail(u); }
  let w = 1.0 + u;
  let err = u - (w - 1.0);  // exact: what the rounding of 1 + u lost
  return log_pos(w) + err / w;
}

// ---- compensated sums ------------------------------------------------------------------------------------------

// Knuth's TwoSum: a + b = s + e exactly.
fn two_sum(a: f32, b: f32) -> vec2f {
  let s = a + b;
  let bb = s - a;
  let e = (a - (s - bb)) + (b - bb);
  return vec2f(s, e);
}

// Adds v to the running pair acc = (hi, lo).
fn acc_add(acc: vec2f, v: f32) -> vec2f {
  let t = two_sum(acc.x, v);
  return vec2f(t.x, acc.y + t.y);
}

// Tree-sums every thread's pair across the workgroup (uniform control flow); returns the pair in every thread.
fn wg_sum2(t: u32, v: vec2f) -> vec2f {
  hiBuf[t] = v.x;
  loBuf[t] = v.y;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) {
      let h = two_sum(hiBuf[t], hiBuf[t + s]);
      hiBuf[t] = h.x;
      loBuf[t] = (loBuf[t] + loBuf[t + s]) + h.y;
    }
    workgroupBarrier();
  }
  return vec2f(hiBuf[0], loBuf[0]);
}

// Dekker's TwoProduct from + and * only: a * b = p + e exactly (Veltkamp split into 12-bit halves).
fn split(a: f32) -> vec2f {
  let c = 4097.0 * a;
  let hi = c - (c - a);
  return vec2f(hi, a - hi);
}
fn two_prod(a: f32, b: f32) -> vec2f {
  let p = a * b;
  let x = split(a);
  let y = split(b);
  let e = ((x.x * y.x - p) + x.x * y.y + x.y * y.x) + x.y * y.y;
  return vec2f(p, e);
}

// (hi + lo) * (invHi + invLo): the mean of a compensated sum, rounded once at the end.
fn mean_of(sum: vec2f, invHi: f32, invLo: f32) -> f32 {
  let pr = two_prod(sum.x, invHi);
  return pr.x + (pr.y + (sum.x * invLo + sum.y * invHi));
}

// ---- kernels ---------------------------------------------------------------------------------------------------

@compute @workgroup_size(WG)
fn bce(@builtin(local_invocation_index) t: u32) {
  let n = bp.n;
  let gs = bitcast<f32>(bp.gradScale);
  var acc = vec2f(0.0, 0.0);
  for (var i = t; i < n; i += WG) {
    let x = logits[i];
    let y = labels[i];
    let e = exp_neg(-abs(x));
    // sigmoid(-|x|) without cancellation; sigmoid(x) - y = x >= 0 ? (1 - y) - q : q - y (exact for hard labels).
    let q = e / (1.0 + e);
    var d: f32;
    if (x >= 0.0) { d = (1.0 - y) - q; } else { d = q - y; }
    var l = (max(x, 0.0) - x * y) + log1p_pos(e);
    let wm1 = bitcast<f32>(bp.posWeightM1);
    if (wm1 != 0.0) {
      // pos_weight: positives weigh w; the extra (w-1)·y·softplus(-x), and its gradient -(w-1)·y·sigmoid(-x).
      let sigNeg = select(1.0 / (1.0 + e), q, x >= 0.0);
      l = l + wm1 * y * (max(-x, 0.0) + log1p_pos(e));
      d = d - wm1 * y * sigNeg;
    }
    dlogits[i] = d * gs;
    acc = acc_add(acc, l);
  }
  let total = wg_sum2(t, acc);
  if (t == 0u) { loss[bp.lossOffset] = mean_of(total, bitcast<f32>(bp.invHi), bitcast<f32>(bp.invLo)); }
}

@compute @workgroup_size(WG)
fn listwise(@builtin(local_invocation_index) t: u32) {
  let g = lp.g;
  let gs = bitcast<f32>(lp.gradScale);
  var acc = vec2f(0.0, 0.0);
  for (var k = t; k < lp.groups; k += WG) {
    let base = k * g;
    var m = zs[base];
    for (var j = 1u; j < g; j++) { m = max(m, zs[base + j]); }
    // s = e0 + rest, with rest = Σ_{j>0} exp(z_j - m) kept apart so the positive's gradient -rest/s has no cancellation.
    let e0 = exp_neg(zs[base] - m);
    var rest = vec2f(0.0, 0.0);
    for (var j = 1u; j < g; j++) { rest = acc_add(rest, exp_neg(zs[base + j] - m)); }
    let restF = rest.x + rest.y;
    let s2 = two_sum(e0, restF);
    let s = s2.x;
    // log s with s = s2.x + s2.y: add the low part back to first order.
    let lse = log_pos(s) + s2.y / s;
    acc = acc_add(acc, m - zs[base]);
    acc = acc_add(acc, lse);
    dz[base] = (-restF / s) * gs;
    for (var j = 1u; j < g; j++) { dz[base + j] = (exp_neg(zs[base + j] - m) / s) * gs; }
  }
  let total = wg_sum2(t, acc);
  if (t == 0u) { lossL[lp.lossOffset] = mean_of(total, bitcast<f32>(lp.invHi), bitcast<f32>(lp.invLo)); }
}
