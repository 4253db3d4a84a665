// GPT-2's own WGSL kernels for the WebGPU engine (gpt2-webgpu.js); LayerNorm comes from the
// tiny model's kernels.js. Every kernel reads its sizes from a uniform struct U and runs 64
// threads per workgroup (WORKGROUP lists the others) on a 2-D grid (flat()) when one
// dimension would pass 65,535 workgroups.
//
// The products read the weights as vec4 columns of the checkpoint's [in, out] layout (the
// tied head reads wteᵀ [d, V4], stored transposed at load): each thread owns 4·COLUMNS
// adjacent outputs of one row (linear1, a generated token) or of ROWS rows (linearRows, a
// prompt), and the bias, the residual add and GELU are done in the same pass. On SwiftShader
// the vec4 loads measured ~4× the one-float-per-thread product. N / 4 must be a multiple of
// COLUMNS (n_embd, 3·n_embd, 4·n_embd and the padded V4 are when n_embd is a multiple of 8);
// not handled: n_embd not a multiple of 8 (the engine refuses it and falls back to the CPU).

const INDEX = /* wgsl */ `
fn flat(gid: vec3<u32>, nw: vec3<u32>) -> u32 { return gid.x + gid.y * nw.x * 64u; }`;
const ENTRY = "@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>)";

/**
 * Y[M, N] = X[M, K] @ W[K, N] (+ b) (+ D) (then gelu_new): each thread owns R rows (1, or ROWS
 * for a prompt) times C adjacent vec4 columns (4·C outputs), WG threads a workgroup.
 * SwiftShader loads every dynamically indexed storage value as a 4-lane gather per vec4
 * component, so a prompt's product shares each X load among C columns and each W load among
 * R rows (8 rows × 2 columns measured 1.4-1.5× the 4 × 1 product). A token's product keeps
 * 1 row × 1 column: 2 columns, a k loop unrolled twice, or one weight vec4 live at a time
 * (a += v.x·w0; ...) all measured the same or slower there. Each output's sum runs in the
 * same k order whatever R and C are (the results do not change with them).
 */
function linear(R, C, WG) {
  const rows = Array.from({ length: R }, (_, r) => r), cols = Array.from({ length: C }, (_, j) => j);
  const acc = rows.flatMap((r) => cols.map((j) => `var a${r}_${j} = vec4<f32>();`)).join(" ");
  const step = (kk) => `
    {
      let o = 4u * (${kk}) * n4 + c;
      ${cols.map((j) => `let w${j}0 = W[o + ${j}u]; let w${j}1 = W[o + n4 + ${j}u]; let w${j}2 = W[o + 2u * n4 + ${j}u]; let w${j}3 = W[o + 3u * n4 + ${j}u];`).join("\n      ")}
      ${rows.map((r) => `let v${r} = X[xb + ${r}u * k4 + ${kk}];\n      ` +
        cols.map((j) => `a${r}_${j} += v${r}.x * w${j}0 + v${r}.y * w${j}1 + v${r}.z * w${j}2 + v${r}.w * w${j}3;`).join(" ")).join("\n      ")}
    }`;
  return /* wgsl */ `
// flags: 1 add the bias b [N], 2 add D [M, N] (the residual), 4 GELU (tanh form) last. offX in vec4s.
struct U { M: u32, K: u32, N: u32, offX: u32, flags: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> W: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> D: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> Y: array<vec4<f32>>;
fn flat(gid: vec3<u32>, nw: vec3<u32>) -> u32 { return gid.x + gid.y * nw.x * ${WG}u; }
fn finish(acc: vec4<f32>, c: u32, o: u32) -> vec4<f32> {
  var y = acc;
  if ((u.flags & 1u) != 0u) { y += b[c]; }
  if ((u.flags & 2u) != 0u) { y += D[o]; }
  if ((u.flags & 4u) != 0u) {
    let z = 0.7978845608028654 * (y + 0.044715 * y * y * y);
    y = 0.5 * y * (1.0 + (1.0 - 2.0 / (exp(2.0 * z) + 1.0)));      // tanh without inf/inf for large |z|
  }
  return y;
}
${ENTRY.replace("64", WG)} {
  let n4 = u.N / 4u; let k4 = u.K / 4u; let nc = n4 / ${C}u;
  let i = flat(gid, nw);
  if (i >= (u.M / ${R}u) * nc) { return; }
  let c = (i % nc) * ${C}u; let r0 = (i / nc) * ${R}u; let xb = u.offX + r0 * k4;
  ${acc}
  for (var k = 0u; k < k4; k++) {${step("k")}
  }
  ${rows.flatMap((r) => cols.map((j) => `Y[(r0 + ${r}u) * n4 + c + ${j}u] = finish(a${r}_${j}, c + ${j}u, (r0 + ${r}u) * n4 + c + ${j}u);`)).join("\n  ")}
}`;
}

/** Threads per workgroup when not 64: a token's product over n_embd columns (192 threads)
 *  then spreads over 6 workgroups, which SwiftShader shares among the CPU's cores. */
export const WORKGROUP = { linear1: 32, linearRows: 64 };
/** Adjacent vec4 columns per thread: N / 4 must be a multiple (the head's V is padded to 8). */
export const COLUMNS = { linear1: 1, linearRows: 2 };
/** Rows per thread of a prompt's product (linearRows): the engine pads a prompt's rows to it. */
export const ROWS = 8;

export const GPT2_KERNELS = {
  linear1: linear(1, COLUMNS.linear1, WORKGROUP.linear1),
  linearRows: linear(ROWS, COLUMNS.linearRows, WORKGROUP.linearRows),

  // x[t, c] = wteᵀ[c, ids[t]] + wpe[past + t, c]  (wteᵀ: [d, V4])
  embedAt: `
struct U { T: u32, d: u32, past: u32, V4: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> wteT: array<f32>;
@group(0) @binding(3) var<storage, read> wpe: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
${INDEX}
${ENTRY} {
  let i = flat(gid, nw);
  if (i >= u.T * u.d) { return; }
  let t = i / u.d; let c = i % u.d;
  x[i] = wteT[c * u.V4 + ids[t]] + wpe[(u.past + t) * u.d + c];
}`,

  // keys[past + t, c] = qkv[t, d + c]; values[past + t, c] = qkv[t, 2d + c]
  storeKV: `
struct U { T: u32, d: u32, past: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> keys: array<f32>;
@group(0) @binding(3) var<storage, read_write> values: array<f32>;
${INDEX}
${ENTRY} {
  let i = flat(gid, nw);
  if (i >= u.T * u.d) { return; }
  let t = i / u.d; let c = i % u.d;
  keys[(u.past + t) * u.d + c] = qkv[t * 3u * u.d + u.d + c];
  values[(u.past + t) * u.d + c] = qkv[t * 3u * u.d + 2u * u.d + c];
}`,

  // one thread per (head h, new query t): probs[h, t, :past+T] and the head's output row
  attendCached: `
struct U { T: u32, d: u32, H: u32, past: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> keys: array<f32>;
@group(0) @binding(3) var<storage, read> values: array<f32>;
@group(0) @binding(4) var<storage, read_write> probs: array<f32>;
@group(0) @binding(5) var<storage, read_write> heads: array<f32>;
${INDEX}
${ENTRY} {
  let idx = flat(gid, nw);
  if (idx >= u.H * u.T) { return; }
  let t = idx % u.T; let h = idx / u.T;
  let dh = u.d / u.H; let scale = 1.0 / sqrt(f32(dh)); let Tk = u.past + u.T; let last = u.past + t;
  let q = t * 3u * u.d + h * dh; let row = idx * Tk;
  var mx = -3.4e38;
  for (var j = 0u; j <= last; j++) {
    var s = 0.0;
    for (var c = 0u; c < dh; c++) { s += qkv[q + c] * keys[j * u.d + h * dh + c]; }
    s = s * scale;
    probs[row + j] = s;
    mx = max(mx, s);
  }
  var sum = 0.0;
  for (var j = 0u; j <= last; j++) { let e = exp(probs[row + j] - mx); probs[row + j] = e; sum += e; }
  for (var j = 0u; j <= last; j++) { probs[row + j] = probs[row + j] / sum; }
  for (var j = last + 1u; j < Tk; j++) { probs[row + j] = 0.0; }
  let o = t * u.d + h * dh;
  for (var c = 0u; c < dh; c++) {
    var acc = 0.0;
    for (var j = 0u; j <= last; j++) { acc += probs[row + j] * values[j * u.d + h * dh + c]; }
    heads[o + c] = acc;
  }
}`,
};
