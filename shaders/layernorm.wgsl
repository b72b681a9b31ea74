// LayerNorm over the last dimension, forward and backward (launchers in src/kernels/layernorm.ts).
//   forward      y = (x − mean)·rstd·gamma + beta,  rstd = 1/√(var + eps)      x, y [rows, cols]; mean, rstd [rows]
//   backward     dx (+)= rstd·(g − mean(g) − x̂·mean(g·x̂)),  g = dy·gamma, x̂ = (x − mean)·rstd
//                and per-group partial column sums of dy·x̂ and dy into `partial` [2, groups, cols]
//   param_grads  dgamma += Σ_groups partial[0], dbeta += Σ_groups partial[1]   (fixed order: deterministic)
//
// One workgroup per row (forward) or per group of rows (backward); each invocation keeps the K columns
// c = li + k·WG in registers, so x is read once. Mean and variance are two passes over those registers
// (not E[x²] − E[x]²), so eps = 1e-12 and 1e-5 both behave as in PyTorch. Row/group ids come from a 2-D grid
// (grid() in src/gpu/launch.ts). The launcher prepends `const WG` (a power of two ≤ 256) and `const K`.

override ACCUMULATE: bool = false;

struct ForwardParams {
  rows: u32,
  cols: u32,
  eps: f32,
}

struct BackwardParams {
  rows: u32,
  cols: u32,
  rows_per_group: u32,  // rows summed by one workgroup into its row of `partial`
  groups: u32,          // workgroups, = ceil(rows / rows_per_group)
}

struct ParamGradsParams {
  cols: u32,
  groups: u32,  // rows of each half of `partial`
}

// ---- forward (x, gamma, beta: read; y, mean, rstd: read_write) -----------------------------------------------
@group(0) @binding(0) var<storage, read> fx: array<f32>;
@group(0) @binding(1) var<storage, read> fgamma: array<f32>;
@group(0) @binding(2) var<storage, read> fbeta: array<f32>;
@group(0) @binding(3) var<storage, read_write> fy: array<f32>;
@group(0) @binding(4) var<storage, read_write> fmean: array<f32>;
@group(0) @binding(5) var<storage, read_write> frstd: array<f32>;
@group(0) @binding(6) var<uniform> pf: ForwardParams;

var<workgroup> red: array<vec2f, WG>;

// Sum over the workgroup, a fixed tree (deterministic). Called from uniform control flow only.
fn reduce2(v: vec2f, li: u32) -> vec2f {
  red[li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= pf.rows) { return; }  // workgroup-uniform
  let H = pf.cols;
  let base = row * H;
  var v: array<f32, K>;
  var s = 0.0;
  for (var k = 0u; k < K; k++) {
    let c = li + k * WG;
    if (c < H) {
      v[k] = fx[base + c];
      s += v[k];
    }
  }
  let mean = reduce2(vec2f(s, 0.0), li).x / f32(H);
  var q = 0.0;
  for (var k = 0u; k < K; k++) {
    if (li + k * WG < H) {
      let d = v[k] - mean;
      q = fma(d, d, q);
    }
  }
  let variance = reduce2(vec2f(q, 0.0), li).x / f32(H);
  let rstd = 1.0 / sqrt(variance + pf.eps);
  for (var k = 0u; k < K; k++) {
    let c = li + k * WG;
    if (c < H) { fy[base + c] = (v[k] - mean) * rstd * fgamma[c] + fbeta[c]; }
  }
  if (li == 0u) {
    fmean[row] = mean;
    frstd[row] = rstd;
  }
}

// ---- backward (dy, x, gamma, mean, rstd: read; dx, partial: read_write) --------------------------------------
@group(0) @binding(0) var<storage, read> bdy: array<f32>;
@group(0) @binding(1) var<storage, read> bx: array<f32>;
@group(0) @binding(2) var<storage, read> bgamma: array<f32>;
@group(0) @binding(3) var<storage, read> bmean: array<f32>;
@group(0) @binding(4) var<storage, read> brstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> bdx: array<f32>;
@group(0) @binding(6) var<storage, read_write> bpartial: array<f32>;  // [2, groups, cols]
@group(0) @binding(7) var<uniform> pb: BackwardParams;

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = wid.y * nwg.x + wid.x;
  let groups = pb.groups;
  if (g >= groups) { return; }  // workgroup-uniform
  let H = pb.cols;
  let r0 = g * pb.rows_per_group;
  let r1 = min(r0 + pb.rows_per_group, pb.rows);
  let invH = 1.0 / f32(H);
  var gam: array<f32, K>;
  var dgam: array<f32, K>;  // this group's Σ dy·x̂ for my columns
  var dbet: array<f32, K>;  // this group's Σ dy
  for (var k = 0u; k < K; k++) {
    let c = li + k * WG;
    if (c < H) { gam[k] = bgamma[c]; }
  }
  for (var r = r0; r < r1; r++) {
    let base = r * H;
    let m = bmean[r];
    let rs = brstd[r];
    var xh: array<f32, K>;
    var gy: array<f32, K>;
    var sa = 0.0;  // Σ g·x̂
    var sb = 0.0;  // Σ g
    for (var k = 0u; k < K; k++) {
      let c = li + k * WG;
      if (c < H) {
        let d = bdy[base + c];
        let xhat = (bx[base + c] - m) * rs;
        xh[k] = xhat;
        gy[k] = d * gam[k];
        sa = fma(gy[k], xhat, sa);
        sb += gy[k];
        dgam[k] = fma(d, xhat, dgam[k]);
        dbet[k] += d;
      }
    }
    let t = reduce2(vec2f(sa, sb), li);
    let ma = t.x * invH;
    let mb = t.y * invH;
    for (var k = 0u; k < K; k++) {
      let c = li + k * WG;
      if (c < H) {
        var v = rs * (gy[k] - mb - xh[k] * ma);
        if (ACCUMULATE) { v += bdx[base + c]; }
        bdx[base + c] = v;
      }
    }
  }
  for (var k = 0u; k < K; k++) {
    let c = li + k * WG;
    if (c < H) {
      bpartial[g * H + c] = dgam[k];
      bpartial[(groups + g) * H + c] = dbet[k];
    }
  }
}

// ---- param_grads (partial: read; dgamma, dbeta: read_write) ---------------------------------------------------
// Workgroup (32 columns × 8 lanes); workgroup_id.y picks dgamma (0) or dbeta (1). Lane j sums groups j, j+8, …
// in order; the 8 lane sums are then added in lane order. Same inputs, same bits, on every run.
@group(0) @binding(0) var<storage, read> ppartial: array<f32>;
@group(0) @binding(1) var<storage, read_write> pdgamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> pdbeta: array<f32>;
@group(0) @binding(3) var<uniform> pp: ParamGradsParams;

var<workgroup> lanes: array<f32, 256>;

@compute @workgroup_size(32, 8)
fn param_grads(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let H = pp.cols;
  let groups = pp.groups;
  let c = wid.x * 32u + lid.x;
  let which = wid.y;
  var s = 0.0;
  if (c < H) {
    for (var g = lid.y; g < groups; g += 8u) { s += ppartial[(which * groups + g) * H + c]; }
  }
  lanes[lid.y * 32u + lid.x] = s;
  workgroupBarrier();
  if (lid.y == 0u && c < H) {
    var t = 0.0;
    for (var j = 0u; j < 8u; j++) { t += lanes[j * 32u + lid.x]; }
    if (which == 0u) {
      pdgamma[c] += t;
    } else {
      pdbeta[c] += t;
    }
  }
}
