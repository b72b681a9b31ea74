// Sum of squares (f32), pass 1 of the optimizer's gradient norm. Deterministic: the order of additions depends only
// on n and groups.
//
//   sum_squares_chunks   `groups` workgroups each sum the squares of a grid-strided share of src[0..n) and write
//                        dst[dstOffset + group]; adamwPrepare (adamw.wgsl) adds the partials in order.

struct SumParams { n: u32, groups: u32, dstOffset: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> sp: SumParams;

var<workgroup> sumRed: array<f32, 256>;

@compute @workgroup_size(256)
fn sum_squares_chunks(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u,
                      @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.y * nwg.x + wid.x;
  if (g >= sp.groups) { return; }
  let stride = sp.groups * 256u;
  var acc = 0.0;
  for (var i = g * 256u + t; i < sp.n; i += stride) {
    let v = src[i];
    acc = fma(v, v, acc);
  }
  sumRed[t] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (t < s) { sumRed[t] = sumRed[t] + sumRed[t + s]; }
    workgroupBarrier();
  }
  if (t == 0u) { dst[sp.dstOffset + g] = sumRed[0]; }
}
