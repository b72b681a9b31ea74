// AdamW update for one parameter tensor, as torch.optim.AdamW (foreach=False, fused=False, amsgrad=False) computes
// it in f32, with torch.nn.utils.clip_grad_norm_'s clipping folded in.
//
//   adamw   per element i of p, g, m, v [n]:
//             guard   (HAS_NORM) if norm[0] is NaN or ±Inf: leave p, m, v untouched (the trainer reports the skip)
//             clip    (CLIP) g = g * min(maxNorm / (norm[0] + 1e-6), 1)            clip_grad_norm_
//             decay   p = p * (1 - lr * wd)                                          param.mul_(1 - lr*wd)
//             m       m = lerp(m, g, 1 - beta1)                                      exp_avg.lerp_(grad, 1-beta1)
//             v       v = v * beta2 + (1 - beta2) * g * g                            exp_avg_sq.mul_(b2).addcmul_(...)
//             step    denom = sqrt(v) / sqrt(bc2) + eps;  p = p + (-lr/bc1) * m / denom     param.addcdiv_(...)
//             (ZERO_GRAD) g = 0 afterwards (also when the guard skips), ready for the next accumulation.
//           The constants (1 - lr*wd, lr/bc1, sqrt(bc2), ...) are computed in float64 on the CPU and passed as f32,
//           as torch does with its Python-float scalars.
// Both index elements as ((wid.y * num_workgroups.x + wid.x) * 256 + local index): grids past 65535 workgroups are 2-D.

override HAS_NORM: bool = false;
override CLIP: bool = false;
override ZERO_GRAD: bool = false;

struct AdamParams {
  n: u32,
  decay: u32,       // f32 bits of 1 - lr * weight_decay
  w1: u32,          // f32 bits of 1 - beta1 (lerp weight)
  beta2: u32,
  c2: u32,          // f32 bits of 1 - beta2
  eps: u32,
  negStep: u32,     // f32 bits of -lr / (1 - beta1^t)
  bc2sqrt: u32,     // f32 bits of sqrt(1 - beta2^t)
  maxNorm: u32,
}
// adamw bindings
@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> norm: array<f32>;
@group(0) @binding(5) var<uniform> ap: AdamParams;

fn flat_index(wid: vec3u, nwg: vec3u, t: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * 256u + t;
}

// NaN and ±Inf have an all-ones exponent. Bit test, because `x != x` may be folded away by a fast-math compiler.
fn is_finite(a: f32) -> bool {
  return (bitcast<u32>(a) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(256)
fn adamw(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u,
         @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(wid, nwg, t);
  if (i >= ap.n) { return; }
  var gi = g[i];
  if (ZERO_GRAD) { g[i] = 0.0; }
  if (HAS_NORM) {
    let total = norm[0];
    if (!is_finite(total)) { return; }
    if (CLIP) {
      let coef = min(bitcast<f32>(ap.maxNorm) / (total + 1e-6), 1.0);
      gi = gi * coef;
    }
  }
  let pi = p[i] * bitcast<f32>(ap.decay);
  // torch's lerp: weight < 0.5 ? self + w * (end - self) : end - (end - self) * (1 - w)
  let w1 = bitcast<f32>(ap.w1);
  let mi0 = m[i];
  var mi: f32;
  if (w1 < 0.5) { mi = mi0 + w1 * (gi - mi0); } else { mi = gi - (gi - mi0) * (1.0 - w1); }
  let vi = v[i] * bitcast<f32>(ap.beta2) + (bitcast<f32>(ap.c2) * gi) * gi;
  let denom = sqrt(vi) / bitcast<f32>(ap.bc2sqrt) + bitcast<f32>(ap.eps);
  m[i] = mi;
  v[i] = vi;
  p[i] = pi + (bitcast<f32>(ap.negStep) * mi) / denom;
}
