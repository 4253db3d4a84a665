// WGSL for the Llama WebGPU engine (llama-webgpu.js), as strings (a page opened from disk
// cannot fetch .wgsl files). GPT-2's and the tiny model's kernels live in kernels.js.
//
// Every kernel binds the same two uniforms first: S, the step (T new tokens after `past`
// cached ones, written once per forward), and P, the op's own sizes (written once, when
// the op is built). Storage buffers follow from binding 2. 64 threads per workgroup, a 2-D
// grid when one dimension would pass 65,535 workgroups (flat() below).
//
// Weights: W is array<u32>. For "bf16" two bfloat16 values share a word, the even element
// in the low half (bitcast<f32>(w << 16)) and the odd one in the high half
// (bitcast<f32>(w & 0xffff0000)): the file's bytes as they are. For "f32" a word is a float's
// bits. Every sum accumulates in float32.
// Not handled: float16 arithmetic (F16 checkpoints arrive widened to float32), bfloat16
// matrices with an odd row length (the engine widens those on upload), subgroups.

const HEAD = /* wgsl */ `
struct S { T: u32, past: u32, pad0: u32, pad1: u32 };
@group(0) @binding(0) var<uniform> s: S;
fn flat(gid: vec3<u32>, nw: vec3<u32>) -> u32 { return gid.x + gid.y * nw.x * 64u; }`;

const ENTRY = "@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>)";

/** Element e of a weight buffer as float32, for a dtype ("bf16" | "f32"). */
const weightAt = (dtype) => (dtype === "bf16" ? /* wgsl */ `
fn weight(e: u32) -> f32 {
  let w = W[e >> 1u];
  if ((e & 1u) == 0u) { return bitcast<f32>(w << 16u); }
  return bitcast<f32>(w & 0xffff0000u);
}` : /* wgsl */ `
fn weight(e: u32) -> f32 { return bitcast<f32>(W[e]); }`);

/**
 * x[t, c] = E[ids[t] - r0, c] for the ids this part of the table holds (r0 <= id < r1): the
 * token embedding, possibly split by rows into several bindings (one dispatch per part).
 */
export function embedKernel(dtype) {
  return /* wgsl */ `${HEAD}
struct P { d: u32, r0: u32, r1: u32 };
@group(0) @binding(1) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> W: array<u32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
${weightAt(dtype)}
${ENTRY} {
  let i = flat(gid, nw);
  if (i >= s.T * p.d) { return; }
  let t = i / p.d; let c = i % p.d; let id = ids[t];
  if (id < p.r0 || id >= p.r1) { return; }
  x[i] = weight((id - p.r0) * p.d + c);
}`;
}

/** Rows of W (output columns) each thread of linearKernel owns: threads = ceil(M / R) · ceil(N / WEIGHT_ROWS). */
export const WEIGHT_ROWS = 8;

/**
 * nn.Linear without bias on one part of W's rows: y[t, n0 + n] (+)= Σ_k x[xr + t, k] · W[n, k],
 * W [N, K] (this part), x [.., K], y [M, ldy]. Each thread owns a tile: WEIGHT_ROWS adjacent rows of
 * W (n .. n+7) times R rows of x (1 for one token, 4 for a prompt), so each x load feeds 8 rows of W
 * and each W load feeds R rows of x. Rows of W past N are clamped on load and not stored, rows of x
 * past M likewise.
 * Rows: dyn 1, x's rows 0 .. T-1 (T from the step); dyn 2, row T-1 alone (the head of the last
 * token); dyn 0, p.M rows from row p.xr (a chunk of the head for every token).
 * vec4: W and x read 16 bytes at a time (8 bfloat16 or 4 float32 weights): needs K a multiple of 8
 * (bf16) or 4 (f32). The scalar form needs K even for bf16.
 * Why tiles: SwiftShader (WebGPU on the CPU) turns every storage load whose index is not a
 * compile-time constant into a per-lane gather, x's loads included (the same address in every lane),
 * so the cost is loads per multiply-add. One W row per thread spent 1.5 gathered words per weight
 * (M = 1) and 1.1 (R = 4); 8 rows per thread 0.6 and 0.4: measured ~2x a token's product and ~3.5x
 * a prompt's (8 rows x 8 x rows and 16 x 8 measured the same as 8 x 4). Lanes splitting K with a
 * workgroup-memory or subgroupAdd reduction measured no faster than one row per thread (the loads
 * are gathers whatever their addresses), nor did reading x or W with atomicLoad (one load when the
 * lanes' addresses are equal or consecutive) or W from an rgba32uint texture, within the noise. Each output's sum runs in the same k order as a one-row
 * thread's (the results do not change with the tile).
 */
export function linearKernel(dtype, R, vec4 = false) {
  const C = WEIGHT_ROWS, rows = [...Array(R).keys()], cols = [...Array(C).keys()];
  const zero = vec4 ? "vec4<f32>()" : "0.0";
  const acc = rows.flatMap((r) => cols.map((c) => `var a${r}_${c} = ${zero};`)).join(" ");
  const xrow = rows.map((r) => `let x${r} = (xr + min(t0 + ${r}u, M - 1u)) * p.K${vec4 ? " / 4u" : ""};`).join(" ");
  // words of W per row (u32, or vec4<u32> when vec4): iterations of the k loop
  const words = vec4 ? (dtype === "bf16" ? "p.K / 8u" : "p.K / 4u") : dtype === "bf16" ? "p.K / 2u" : "p.K";
  const wrow = cols.map((c) => `let w${c} = min(n + ${c}u, p.N - 1u) * kw;`).join(" ");
  const each = (load, use) => cols.map((c) => `{ ${load(c)} ${rows.map((r) => use(r, c)).join(" ")} }`).join("\n    ");
  let xs, body;
  if (vec4 && dtype === "bf16") {
    xs = rows.map((r) => `let xa${r} = x[x${r} + 2u * k]; let xb${r} = x[x${r} + 2u * k + 1u]; ` +
      `let xe${r} = vec4<f32>(xa${r}.x, xa${r}.z, xb${r}.x, xb${r}.z); let xo${r} = vec4<f32>(xa${r}.y, xa${r}.w, xb${r}.y, xb${r}.w);`);
    body = each((c) => `let w = W[w${c} + k]; let lo = bitcast<vec4<f32>>(w << vec4<u32>(16u)); let hi = bitcast<vec4<f32>>(w & vec4<u32>(0xffff0000u));`,
      (r, c) => `a${r}_${c} += xe${r} * lo + xo${r} * hi;`);
  } else if (vec4) {
    xs = rows.map((r) => `let xv${r} = x[x${r} + k];`);
    body = each((c) => `let w = bitcast<vec4<f32>>(W[w${c} + k]);`, (r, c) => `a${r}_${c} += xv${r} * w;`);
  } else if (dtype === "bf16") {
    xs = rows.map((r) => `let xe${r} = x[x${r} + 2u * k]; let xo${r} = x[x${r} + 2u * k + 1u];`);
    body = each((c) => `let w = W[w${c} + k]; let lo = bitcast<f32>(w << 16u); let hi = bitcast<f32>(w & 0xffff0000u);`,
      (r, c) => `a${r}_${c} += xe${r} * lo + xo${r} * hi;`);
  } else {
    xs = rows.map((r) => `let xv${r} = x[x${r} + k];`);
    body = each((c) => `let w = bitcast<f32>(W[w${c} + k]);`, (r, c) => `a${r}_${c} += xv${r} * w;`);
  }
  const total = (a) => (vec4 ? `(${a}.x + ${a}.y) + (${a}.z + ${a}.w)` : a);
  const store = rows.flatMap((r) => cols.map((c) => `if (t0 + ${r}u < M && n + ${c}u < p.N) { let o = (t0 + ${r}u) * p.ldy + p.n0 + n + ${c}u; ` +
    `let v = ${total(`a${r}_${c}`)}; if (p.add == 1u) { y[o] += v; } else { y[o] = v; } }`));
  return /* wgsl */ `${HEAD}
struct P { K: u32, N: u32, ldy: u32, n0: u32, add: u32, dyn: u32, M: u32, xr: u32 };
@group(0) @binding(1) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> x: array<${vec4 ? "vec4<f32>" : "f32"}>;
@group(0) @binding(3) var<storage, read> W: array<${vec4 ? "vec4<u32>" : "u32"}>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
${ENTRY} {
  let i = flat(gid, nw);
  var M = p.M; var xr = p.xr;
  if (p.dyn == 1u) { M = s.T; xr = 0u; }
  if (p.dyn == 2u) { M = 1u; xr = s.T - 1u; }
  let blocks = (p.N + ${C - 1}u) / ${C}u;
  if (i >= ((M + ${R - 1}u) / ${R}u) * blocks) { return; }
  let n = (i % blocks) * ${C}u; let t0 = (i / blocks) * ${R}u; let kw = ${words};
  ${wrow}
  ${xrow}
  ${acc}
  for (var k = 0u; k < kw; k++) {
    ${xs.join("\n    ")}
    ${body}
  }
  ${store.join("\n  ")}
}`;
}

/** RMSNorm per row, one thread per row: y[t] = x[t] / sqrt(mean(x[t]²) + eps) · w, float32. */
export const RMSNORM = /* wgsl */ `${HEAD}
struct P { d: u32, eps: f32 };
@group(0) @binding(1) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
${ENTRY} {
  let t = flat(gid, nw);
  if (t >= s.T) { return; }
  let o = t * p.d;
  var s0 = 0.0; var s1 = 0.0; var s2 = 0.0; var s3 = 0.0;
  var c = 0u;
  for (; c + 3u < p.d; c += 4u) {
    s0 += x[o + c] * x[o + c]; s1 += x[o + c + 1u] * x[o + c + 1u];
    s2 += x[o + c + 2u] * x[o + c + 2u]; s3 += x[o + c + 3u] * x[o + c + 3u];
  }
  for (; c < p.d; c++) { s0 += x[o + c] * x[o + c]; }
  let inv = 1.0 / sqrt(((s0 + s1) + (s2 + s3)) / f32(p.d) + p.eps);
  for (var j = 0u; j < p.d; j++) { y[o + j] = w[j] * (x[o + j] * inv); }
}`;

/**
 * Rotate-half RoPE and the cache store, one thread per (t, column) of q | k | v:
 * qr[t] = rope(q[t]); keys[past + t] = rope(k[t]); values[past + t] = v[t]. cs [T, hd]: cos of
 * the hd/2 angles of position past + t, then their sin (computed on the host in float32 as
 * transformers does). Column j of a head pairs with j + hd/2.
 */
export const ROPE = /* wgsl */ `${HEAD}
struct P { H: u32, KV: u32, hd: u32 };
@group(0) @binding(1) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> k: array<f32>;
@group(0) @binding(4) var<storage, read> v: array<f32>;
@group(0) @binding(5) var<storage, read> cs: array<f32>;
@group(0) @binding(6) var<storage, read_write> qr: array<f32>;
@group(0) @binding(7) var<storage, read_write> keys: array<f32>;
@group(0) @binding(8) var<storage, read_write> values: array<f32>;
fn rot(a: f32, b: f32, e: u32, half: u32, t: u32) -> f32 {
  let i = e % half; let c = cs[t * p.hd + i]; let sn = cs[t * p.hd + half + i];
  if (e < half) { return a * c - b * sn; }
  return a * c + b * sn;
}
${ENTRY} {
  let i = flat(gid, nw);
  let qw = p.H * p.hd; let kw = p.KV * p.hd; let width = qw + 2u * kw;
  if (i >= s.T * width) { return; }
  let t = i / width; let j = i % width; let half = p.hd / 2u;
  if (j < qw) {
    let e = j % p.hd; let base = t * qw + j - e; let i2 = e % half;
    qr[t * qw + j] = rot(q[base + e], q[base + select(i2 + half, i2, e >= half)], e, half, t);
  } else if (j < qw + kw) {
    let jj = j - qw; let e = jj % p.hd; let base = t * kw + jj - e; let i2 = e % half;
    keys[(s.past + t) * kw + jj] = rot(k[base + e], k[base + select(i2 + half, i2, e >= half)], e, half, t);
  } else {
    let jj = j - qw - kw;
    values[(s.past + t) * kw + jj] = v[t * kw + jj];
  }
}`;

/**
 * Causal grouped-query attention, one thread per (query head h, new token t): query head h reads
 * KV head floor(h / (H / KV)) over cached positions 0 .. past + t. Two passes over the keys (the
 * max, then exp, sum and the weighted values), as softmax(x - max) is computed in transformers.
 * keep: also write the probabilities probs[h, t, 0 .. past + T) (zeros past the causal mask).
 * HD (head_dim) is fixed when the pipeline is made (the output row lives in registers).
 */
export function attendKernel(HD, keep) {
  return /* wgsl */ `${HEAD}
struct P { H: u32, KV: u32 };
@group(0) @binding(1) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> keys: array<f32>;
@group(0) @binding(4) var<storage, read> values: array<f32>;
@group(0) @binding(5) var<storage, read_write> heads: array<f32>;
${keep ? "@group(0) @binding(6) var<storage, read_write> probs: array<f32>;" : ""}
${ENTRY} {
  let idx = flat(gid, nw);
  if (idx >= p.H * s.T) { return; }
  let t = idx % s.T; let h = idx / s.T;
  let kw = p.KV * ${HD}u; let g = (h / (p.H / p.KV)) * ${HD}u; let last = s.past + t;
  let qo = (t * p.H + h) * ${HD}u; let scale = 1.0 / sqrt(f32(${HD}));
  var qv: array<f32, ${HD}>;
  for (var c = 0u; c < ${HD}u; c++) { qv[c] = q[qo + c]; }
  var mx = -3.4e38;
  for (var j = 0u; j <= last; j++) {
    let ko = j * kw + g; var sc = 0.0;
    for (var c = 0u; c < ${HD}u; c++) { sc += qv[c] * keys[ko + c]; }
    mx = max(mx, sc * scale);
  }
  var acc: array<f32, ${HD}>;
  var sum = 0.0;
  ${keep ? "let row = (h * s.T + t) * (s.past + s.T);" : ""}
  for (var j = 0u; j <= last; j++) {
    let ko = j * kw + g; var sc = 0.0;
    for (var c = 0u; c < ${HD}u; c++) { sc += qv[c] * keys[ko + c]; }
    let e = exp(sc * scale - mx);
    sum += e;
    ${keep ? "probs[row + j] = e;" : ""}
    for (var c = 0u; c < ${HD}u; c++) { acc[c] += e * values[ko + c]; }
  }
  ${keep ? `for (var j = 0u; j <= last; j++) { probs[row + j] = probs[row + j] / sum; }
  for (var j = last + 1u; j < s.past + s.T; j++) { probs[row + j] = 0.0; }` : ""}
  for (var c = 0u; c < ${HD}u; c++) { heads[qo + c] = acc[c] / sum; }
}`;
}

/** SwiGLU's product: act[t, i] = silu(gate[t, i]) · up[t, i], silu(g) = g / (1 + exp(-g)). */
export const SWIGLU = /* wgsl */ `${HEAD}
struct P { I: u32 };
@group(0) @binding(1) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> gate: array<f32>;
@group(0) @binding(3) var<storage, read> up: array<f32>;
@group(0) @binding(4) var<storage, read_write> act: array<f32>;
${ENTRY} {
  let i = flat(gid, nw);
  if (i >= s.T * p.I) { return; }
  let g = gate[i];
  act[i] = g / (1.0 + exp(-g)) * up[i];
}`;
