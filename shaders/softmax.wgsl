// Row softmax over [rows, cols] (f32), one workgroup per row, tree reductions in workgroup memory.
//   softmax_fwd   y[r,:] = exp(x[r,:] - max) / Σ exp(x[r,:] - max)
//   softmax_bwd   dx[r,:] = y[r,:] * (dy[r,:] - Σ_c dy[r,c]·y[r,c])      (dx may not alias y or dy)
// Rows beyond 65535 come from a 2-D grid: row = wid.y * num_workgroups.x + wid.x; surplus workgroups return.
// The launcher prepends `const WG = <threads>u;` (a power of two, 32..256; see src/kernels/softmax.ts).

struct Params { rows: u32, cols: u32 }

// softmax_fwd bindings
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
// softmax_bwd bindings (same slots, other entry point)
@group(0) @binding(0) var<storage, read> yIn: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> pb: Params;

var<workgroup> red: array<f32, WG>;

// Tree sum (or max) of each thread's `v`; every thread gets the result. Must be called in uniform control flow.
fn wgSum(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] = red[t] + red[t + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();  // red is reused by the next reduction
  return r;
}

fn wgMax(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] = max(red[t], red[t + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn softmax_fwd(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) { return; }
  let cols = p.cols;
  let base = row * cols;
  // Threads past the end start from the row's last element, which cannot raise the max.
  var m = x[base + min(t, cols - 1u)];
  for (var c = t + WG; c < cols; c += WG) { m = max(m, x[base + c]); }
  m = wgMax(t, m);
  var s = 0.0;
  for (var c = t; c < cols; c += WG) { s += exp(x[base + c] - m); }
  s = wgSum(t, s);
  for (var c = t; c < cols; c += WG) { y[base + c] = exp(x[base + c] - m) / s; }
}

@compute @workgroup_size(WG)
fn softmax_bwd(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= pb.rows) { return; }
  let cols = pb.cols;
  let base = row * cols;
  var d = 0.0;
  for (var c = t; c < cols; c += WG) { d = fma(dy[base + c], yIn[base + c], d); }
  d = wgSum(t, d);
  for (var c = t; c < cols; c += WG) { dx[base + c] = yIn[base + c] * (dy[base + c] - d); }
}
