// Embeddings (launchers in src/kernels/embedding.ts).
//   forward       out[t, :] = (word[ids[t], :] + type[typeIds[t], :]) + pos[posIds[t], :]     (HF's order of additions)
//   grad_direct   dTable[id, :] += Σ_{t in group(id)} dOut[t, :]       one workgroup per distinct id with a short group
//   grad_partial  scratch[s, :]  = Σ_{t in segment s} dOut[t, :]       long groups (token types, frequent ids) are cut
//   grad_reduce   dTable[id, :] += Σ_{s in segments(id)} scratch[s, :]  into segments, summed, then added per id
// The grouping ("plan") is built on the CPU from the batch's ids: distinct ids, the token positions of each in
// ascending order, and the segments. Every sum runs in a fixed order in one invocation, so the result is the same
// on every run, no atomics are needed, and only rows named in the batch are touched (a 250k-row vocabulary costs
// nothing extra). Workgroups are laid out over x and y (grid() in src/gpu/launch.ts). The launcher prepends `const WG`.

struct FwdParams {
  tokens: u32,
  cols: u32,
  vocab: u32,
  maxPos: u32,
  types: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> posIds: array<u32>;
@group(0) @binding(2) var<storage, read> typeIds: array<u32>;
@group(0) @binding(3) var<storage, read> word: array<f32>;
@group(0) @binding(4) var<storage, read> pos: array<f32>;
@group(0) @binding(5) var<storage, read> tokType: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<uniform> pf: FwdParams;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  let H = pf.cols;
  if (i >= pf.tokens * H) { return; }
  let t = i / H;
  let c = i - t * H;
  let w = ids[t];
  let p = posIds[t];
  let ty = typeIds[t];
  // The CPU validates ids when it builds the batch; an id past its table still must not read other memory.
  var bits = 0x7fc00000u;  // quiet NaN (a var: constant evaluation refuses NaN)
  if (w < pf.vocab && p < pf.maxPos && ty < pf.types) {
    bits = bitcast<u32>((word[w * H + c] + tokType[ty * H + c]) + pos[p * H + c]);
  }
  out[i] = bitcast<f32>(bits);
}

// ---- backward: src (dOut or scratch): read, plan: read, dst (dTable or scratch): read_write -------------------
struct GradParams {
  cols: u32,
  items: u32,      // workgroups that have work
  itemBase: u32,   // where this pass's items start in plan (u32 words)
  orderBase: u32,  // where the token positions start in plan
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> plan: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> pg: GradParams;

// item = (id, start, count): dst[id] += Σ src[order[start + k]], k < count
@compute @workgroup_size(WG)
fn grad_direct(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let item = wid.y * nwg.x + wid.x;
  if (item >= pg.items) { return; }
  let H = pg.cols;
  let o = pg.itemBase + 3u * item;
  let id = plan[o];
  let start = pg.orderBase + plan[o + 1u];
  let count = plan[o + 2u];
  for (var c = li; c < H; c += WG) {
    var s = 0.0;
    for (var k = 0u; k < count; k++) { s += src[plan[start + k] * H + c]; }
    dst[id * H + c] += s;
  }
}

// item = segment (start, count): dst[item] = Σ src[order[start + k]], k < count
@compute @workgroup_size(WG)
fn grad_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let item = wid.y * nwg.x + wid.x;
  if (item >= pg.items) { return; }
  let H = pg.cols;
  let o = pg.itemBase + 2u * item;
  let start = pg.orderBase + plan[o];
  let count = plan[o + 1u];
  for (var c = li; c < H; c += WG) {
    var s = 0.0;
    for (var k = 0u; k < count; k++) { s += src[plan[start + k] * H + c]; }
    dst[item * H + c] = s;
  }
}

// item = (id, firstSegment, segments): dst[id] += Σ src[firstSegment + j], j < segments   (src = scratch)
@compute @workgroup_size(WG)
fn grad_reduce(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let item = wid.y * nwg.x + wid.x;
  if (item >= pg.items) { return; }
  let H = pg.cols;
  let o = pg.itemBase + 3u * item;
  let id = plan[o];
  let first = plan[o + 1u];
  let count = plan[o + 2u];
  for (var c = li; c < H; c += WG) {
    var s = 0.0;
    for (var j = 0u; j < count; j++) { s += src[(first + j) * H + c]; }
    dst[id * H + c] += s;
  }
}
