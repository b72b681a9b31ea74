// AdamW over the flat parameter buffers, as torch.optim.AdamW (foreach=False, fused=False, amsgrad=False) computes
// it in f32, with torch.nn.utils.clip_grad_norm_'s clipping folded in. Two entry points, a few dispatches a step:
//
//   prepare  one workgroup, before the update: the global gradient norm from the squared partial sums
//            (reduce.wgsl sum_squares_chunks), the NaN/Inf guard, the clip coefficient, and the step's bias-correction
//            scalars, all written to `state` on the GPU. The optimizer's step count lives there too: an update whose
//            norm is not finite does not count, and the CPU learns that only when it reads `state` back (a step
//            late, without stalling the GPU). So the CPU writes the scalars for every step number the update could
//            have (table[j] for step base + j) and prepare picks the row for the count it finds.
//   adamw    per element i of one contiguous range of p, g, m, v [n] (a decay group of one flat buffer):
//             guard   if state.apply == 0 (non-finite norm): leave p, m, v untouched (the trainer reports the skip)
//             clip    g = g * coef,  coef = min(maxNorm / (norm + 1e-6), 1)              clip_grad_norm_
//             decay   p = p * (1 - lr * wd)                                              param.mul_(1 - lr*wd)
//             m       m = lerp(m, g, 1 - beta1)                                          exp_avg.lerp_(grad, 1-beta1)
//             v       v = v * beta2 + (1 - beta2) * g * g                                exp_avg_sq.mul_(b2).addcmul_(...)
//             step    denom = sqrt(v) / sqrt(bc2) + eps;  p = p + (-lr/bc1) * m / denom         param.addcdiv_(...)
//             then g = 0 (also when the guard skips), ready for the next accumulation.
//           The constants (1 - lr*wd, lr/bc1, sqrt(bc2), ...) are computed in float64 on the CPU and passed as f32,
//           as torch does with its Python-float scalars.
// adamw indexes elements as ((wid.y * num_workgroups.x + wid.x) * 256 + local index): grids past 65535 are 2-D.

override CLIP: bool = false;

// state, as 32-bit words (src/kernels/adamw.ts STATE mirrors this):
//   0 norm (f32)   1 count: updates applied so far (u32)   2 coef (f32)   3 apply (u32: 1 applied, 0 skipped)
//   4 negStep (f32) 5 bc2sqrt (f32) — the picked row        8 base step (u32)   9 rows (u32)
//   10 + 2j, 11 + 2j: negStep, bc2sqrt for step base + j (f32), written by the CPU before each update
const S_NORM = 0u;
const S_COUNT = 1u;
const S_COEF = 2u;
const S_APPLY = 3u;
const S_NEG_STEP = 4u;
const S_BC2SQRT = 5u;
const S_BASE = 8u;
const S_ROWS = 9u;
const S_TABLE = 10u;

struct PrepareParams { count: u32, maxNorm: u32 }
struct AdamParams {
  n: u32,
  decay: u32,       // f32 bits of 1 - lr * weight_decay
  w1: u32,          // f32 bits of 1 - beta1 (lerp weight)
  beta2: u32,
  c2: u32,          // f32 bits of 1 - beta2
  eps: u32,
}

// prepare bindings
@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> state: array<u32>;
@group(0) @binding(2) var<uniform> pp: PrepareParams;
// adamw bindings
@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> st: array<u32>;
@group(0) @binding(5) var<uniform> ap: AdamParams;

// NaN and ±Inf have an all-ones exponent. Bit test, because `x != x` may be folded away by a fast-math compiler.
fn is_finite(a: f32) -> bool {
  return (bitcast<u32>(a) & 0x7f800000u) != 0x7f800000u;
}

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn prepare(@builtin(local_invocation_index) t: u32) {
  var acc = 0.0;
  for (var i = t; i < pp.count; i += 256u) { acc += partials[i]; }
  red[t] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] = red[t] + red[t + s]; }
    workgroupBarrier();
  }
  if (t != 0u) { return; }
  let norm = sqrt(red[0]);
  state[S_NORM] = bitcast<u32>(norm);
  if (!is_finite(norm)) {
    state[S_APPLY] = 0u;
    return;
  }
  var coef = 1.0;
  if (CLIP) { coef = min(bitcast<f32>(pp.maxNorm) / (norm + 1e-6), 1.0); }
  let step = state[S_COUNT] + 1u;
  // The CPU's table covers every count the updates still in flight can have left; clamp in case of misuse.
  let row = min(step - min(step, state[S_BASE]), state[S_ROWS] - 1u);
  state[S_COUNT] = step;
  state[S_COEF] = bitcast<u32>(coef);
  state[S_APPLY] = 1u;
  state[S_NEG_STEP] = state[S_TABLE + 2u * row];
  state[S_BC2SQRT] = state[S_TABLE + 2u * row + 1u];
}

@compute @workgroup_size(256)
fn adamw(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u,
         @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.y * nwg.x + wid.x) * 256u + t;
  if (i >= ap.n) { return; }
  let g0 = g[i];
  g[i] = 0.0;
  if (st[S_APPLY] == 0u) { return; }
  let gi = g0 * bitcast<f32>(st[S_COEF]);
  let pi = p[i] * bitcast<f32>(ap.decay);
  // torch's lerp: weight < 0.5 ? self + w * (end - self) : end - (end - self) * (1 - w)
  let w1 = bitcast<f32>(ap.w1);
  let mi0 = m[i];
  var mi: f32;
  if (w1 < 0.5) { mi = mi0 + w1 * (gi - mi0); } else { mi = gi - (gi - mi0) * (1.0 - w1); }
  let vi = v[i] * bitcast<f32>(ap.beta2) + (bitcast<f32>(ap.c2) * gi) * gi;
  let denom = sqrt(vi) / bitcast<f32>(st[S_BC2SQRT]) + bitcast<f32>(ap.eps);
  m[i] = mi;
  v[i] = vi;
  p[i] = pi + (bitcast<f32>(st[S_NEG_STEP]) * mi) / denom;
}
