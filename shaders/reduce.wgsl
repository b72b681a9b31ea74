// Reductions (f32). Every result is deterministic: the order of additions depends only on the shapes.
//
//   row_reduce   out[r] = sum_c x[r,c]  or  max_c x[r,c]  (IS_MAX)      x [rows, cols] -> out [rows]
//                one workgroup per row, tree reduction in workgroup memory; rows beyond 65535 come from a 2-D grid
//                (row = wid.y * num_workgroups.x + wid.x) and surplus workgroups return at once.
//   col_partial  pass 1 of the column sum: workgroup (64 columns x 4 lanes) sums a block of ROWS_PER_BLOCK rows
//                into partial[block, col]; with DIRECT (one block only) it writes out[col] (+= if ACCUMULATE).
//   col_finish   pass 2: one thread per column adds the block partials in block order into out[col] (+= if ACCUMULATE).
//   sum_chunks   `groups` workgroups each sum a grid-strided share of src[0..n) (squared when SQUARE) and write
//                dst[dstOffset + group] (its square root when SQRT). With groups = 1 this is the whole sum.
//
// The launcher prepends `const WG = <threads>u;` for row_reduce (a power of two, 32..256); see src/kernels/reduce.ts.

override IS_MAX: bool = false;
override ACCUMULATE: bool = false;
override DIRECT: bool = false;
override SQUARE: bool = false;
override SQRT: bool = false;

struct RowParams { rows: u32, cols: u32 }
struct ColParams { rows: u32, cols: u32, blocks: u32 }
struct SumParams { n: u32, groups: u32, dstOffset: u32 }

// row_reduce bindings
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> rp: RowParams;
// col_partial / col_finish / sum_chunks bindings (same slots, other entry points)
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> cp: ColParams;
@group(0) @binding(2) var<uniform> sp: SumParams;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn row_reduce(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u,
              @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= rp.rows) { return; }
  let cols = rp.cols;
  let base = row * cols;
  var acc: f32;
  if (IS_MAX) {
    // Start from a real element (threads past the end repeat the last one): no -inf literal, NaN and -inf survive.
    acc = x[base + min(t, cols - 1u)];
    for (var c = t + WG; c < cols; c += WG) { acc = max(acc, x[base + c]); }
  } else {
    acc = 0.0;
    for (var c = t; c < cols; c += WG) { acc += x[base + c]; }
  }
  red[t] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) {
      if (IS_MAX) { red[t] = max(red[t], red[t + s]); } else { red[t] = red[t] + red[t + s]; }
    }
    workgroupBarrier();
  }
  if (t == 0u) { out[row] = red[0]; }
}

const CW = 64u;        // columns per workgroup
const LANES = 4u;      // row lanes per column
const ROWS_PER_BLOCK = 256u;
var<workgroup> colRed: array<f32, 256>;  // [LANES][CW]

@compute @workgroup_size(64, 4, 1)
fn col_partial(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let cols = cp.cols;
  let c = wid.x * CW + lid.x;
  let r0 = wid.y * ROWS_PER_BLOCK;
  let r1 = min(r0 + ROWS_PER_BLOCK, cp.rows);
  var s = 0.0;
  if (c < cols) {
    for (var r = r0 + lid.y; r < r1; r += LANES) { s += src[r * cols + c]; }
  }
  colRed[lid.y * CW + lid.x] = s;
  workgroupBarrier();
  if (lid.y == 0u && c < cols) {
    var v = ((colRed[lid.x] + colRed[CW + lid.x]) + colRed[2u * CW + lid.x]) + colRed[3u * CW + lid.x];
    if (DIRECT) {
      if (ACCUMULATE) { v += dst[c]; }
      dst[c] = v;
    } else {
      dst[wid.y * cols + c] = v;
    }
  }
}

@compute @workgroup_size(256)
fn col_finish(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  // dst = out [cols], src = partial [blocks, cols]
  let c = gid.y * nwg.x * 256u + gid.x;
  let cols = cp.cols;
  if (c >= cols) { return; }
  var s = 0.0;
  for (var b = 0u; b < cp.blocks; b++) { s += src[b * cols + c]; }
  if (ACCUMULATE) { s += dst[c]; }
  dst[c] = s;
}

var<workgroup> sumRed: array<f32, 256>;

@compute @workgroup_size(256)
fn sum_chunks(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u,
              @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.y * nwg.x + wid.x;
  if (g >= sp.groups) { return; }
  let stride = sp.groups * 256u;
  var acc = 0.0;
  for (var i = g * 256u + t; i < sp.n; i += stride) {
    let v = src[i];
    if (SQUARE) { acc = fma(v, v, acc); } else { acc += v; }
  }
  sumRed[t] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (t < s) { sumRed[t] = sumRed[t] + sumRed[t + s]; }
    workgroupBarrier();
  }
  if (t == 0u) {
    var r = sumRed[0];
    if (SQRT) { r = sqrt(r); }
    dst[sp.dstOffset + g] = r;
  }
}
