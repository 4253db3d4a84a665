// WGSL compute shaders for the WebGPU engine, one per operation, as strings (a page
// opened from disk cannot fetch .wgsl files). Every kernel reads its sizes and
// tensor offsets from a uniform struct U; 1-D kernels use 64 threads per workgroup
// and a 2-D grid when one dimension would pass 65,535 workgroups.
//
// Shapes: N = B·T rows, d = d_model, F = d_ff, V = vocab, H heads of dh = d/H.
// Parameters, gradients and AdamW moments are flat buffers in layout.js order.

const INDEX = /* wgsl */ `
fn flat(gid: vec3<u32>, nw: vec3<u32>) -> u32 { return gid.x + gid.y * nw.x * 64u; }
fn tanh_safe(z: f32) -> f32 { return 1.0 - 2.0 / (exp(2.0 * z) + 1.0); }   // no inf/inf for large |z|
const GELU_K: f32 = 0.7978845608028654;`;

// Sizes and buffers of both matrix-product kernels (webgpu.js fills them the same way).
const MATMUL_IO = /* wgsl */ `
struct U { M: u32, K: u32, N: u32, transA: u32, transB: u32, addD: u32, offA: u32, offB: u32, offC: u32, offD: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> D: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;
${INDEX}`;

const ENTRY = "@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>)";

export const KERNELS = {
  // x[n, c] = tok_emb[ids[n], c] + pos_emb[n % T, c]
  embed: `
struct U { N: u32, T: u32, d: u32, offTok: u32, offPos: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> P: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
${INDEX}
${ENTRY} {
  let i = flat(gid, nw);
  if (i >= u.N * u.d) { return; }
  let n = i / u.d; let c = i % u.d;
  x[i] = P[u.offTok + ids[n] * u.d + c] + P[u.offPos + (n % u.T) * u.d + c];
}`,

  // y = LN(x) per row; stats[2n] = mean, stats[2n+1] = 1/std
  layernorm: `
struct U { N: u32, d: u32, offW: u32, offB: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> P: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
${INDEX}
${ENTRY} {
  let n = flat(gid, nw);
  if (n >= u.N) { return; }
  let o = n * u.d;
  var mu = 0.0;
  for (var c = 0u; c < u.d; c++) { mu += x[o + c]; }
  mu = mu / f32(u.d);
  var v = 0.0;
  for (var c = 0u; c < u.d; c++) { let z = x[o + c] - mu; v += z * z; }
  let r = 1.0 / sqrt(v / f32(u.d) + 1e-5);
  stats[2u * n] = mu; stats[2u * n + 1u] = r;
  for (var c = 0u; c < u.d; c++) { y[o + c] = (x[o + c] - mu) * r * P[u.offW + c] + P[u.offB + c]; }
}`,

  // C[M,N] = op(A)[M,K] @ op(B)[K,N] (+ D[M,N]); op = transpose when the flag is 1.
  // One thread per output, for shapes matmul4 cannot take (a prompt of odd length).
  // Neither kernel uses workgroup memory: on SwiftShader a 16×16 tiled kernel with
  // barriers measured 2.5× slower than this one and 13× slower than matmul4.
  matmulDirect: `
${MATMUL_IO}
${ENTRY} {
  let i = flat(gid, nw);
  if (i >= u.M * u.N) { return; }
  let row = i / u.N; let col = i % u.N;
  var sa = 1u; var a0 = u.offA + row * u.K;
  if (u.transA == 1u) { sa = u.M; a0 = u.offA + row; }
  var sb = u.N; var b0 = u.offB + col;
  if (u.transB == 1u) { sb = 1u; b0 = u.offB + col * u.K; }
  var acc = 0.0;
  for (var k = 0u; k < u.K; k++) { acc += A[a0 + k * sa] * B[b0 + k * sb]; }
  if (u.addD == 1u) { acc += D[u.offD + i]; }
  C[u.offC + i] = acc;
}`,

  // The same product, each thread owning a 4×4 block of C in registers (4 loads of A
  // and 4 of B feed 16 multiply-adds). For M and N divisible by 4; no workgroup memory.
  matmul4: `
${MATMUL_IO}
${ENTRY} {
  let i = flat(gid, nw);
  let nb = u.N / 4u;
  if (i >= (u.M / 4u) * nb) { return; }
  let row = (i / nb) * 4u; let col = (i % nb) * 4u;
  var sa = 1u; var ra = u.K; var a0 = u.offA + row * u.K;          // A[row + r, k] = A[a0 + r·ra + k·sa]
  if (u.transA == 1u) { sa = u.M; ra = 1u; a0 = u.offA + row; }
  var sb = u.N; var cb = 1u; var b0 = u.offB + col;                 // B[k, col + c] = B[b0 + k·sb + c·cb]
  if (u.transB == 1u) { sb = 1u; cb = u.K; b0 = u.offB + col * u.K; }
  var c0 = vec4<f32>(); var c1 = vec4<f32>(); var c2 = vec4<f32>(); var c3 = vec4<f32>();
  for (var k = 0u; k < u.K; k++) {
    let ak = a0 + k * sa; let bk = b0 + k * sb;
    let b = vec4<f32>(B[bk], B[bk + cb], B[bk + 2u * cb], B[bk + 3u * cb]);
    c0 += A[ak] * b; c1 += A[ak + ra] * b; c2 += A[ak + 2u * ra] * b; c3 += A[ak + 3u * ra] * b;
  }
  let rows = array<vec4<f32>, 4>(c0, c1, c2, c3);
  for (var r = 0u; r < 4u; r++) {
    let o = (row + r) * u.N + col;
    var v = rows[r];
    if (u.addD == 1u) { v += vec4<f32>(D[u.offD + o], D[u.offD + o + 1u], D[u.offD + o + 2u], D[u.offD + o + 3u]); }
    C[u.offC + o] = v.x; C[u.offC + o + 1u] = v.y; C[u.offC + o + 2u] = v.z; C[u.offC + o + 3u] = v.w;
  }
}`,

  // one thread per (b, h, query i): probs[b,h,i,:] and the head's output row
  attention: `
struct U { B: u32, T: u32, d: u32, H: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var<storage, read_write> heads: array<f32>;
${INDEX}
${ENTRY} {
  let idx = flat(gid, nw);
  if (idx >= u.B * u.H * u.T) { return; }
  let i = idx % u.T; let h = (idx / u.T) % u.H; let b = idx / (u.T * u.H);
  let dh = u.d / u.H; let scale = 1.0 / sqrt(f32(dh)); let w = 3u * u.d;
  let q = (b * u.T + i) * w + h * dh; let row = idx * u.T;
  var mx = -3.4e38;
  for (var j = 0u; j <= i; j++) {
    let k = (b * u.T + j) * w + u.d + h * dh;
    var s = 0.0;
    for (var c = 0u; c < dh; c++) { s += qkv[q + c] * qkv[k + c]; }
    s = s * scale;
    probs[row + j] = s;
    mx = max(mx, s);
  }
  var sum = 0.0;
  for (var j = 0u; j <= i; j++) { let e = exp(probs[row + j] - mx); probs[row + j] = e; sum += e; }
  for (var j = 0u; j <= i; j++) { probs[row + j] = probs[row + j] / sum; }
  for (var j = i + 1u; j < u.T; j++) { probs[row + j] = 0.0; }
  let o = (b * u.T + i) * u.d + h * dh;
  for (var c = 0u; c < dh; c++) {
    var acc = 0.0;
    for (var j = 0u; j <= i; j++) { acc += probs[row + j] * qkv[(b * u.T + j) * w + 2u * u.d + h * dh + c]; }
    heads[o + c] = acc;
  }
}`,

  gelu: `
struct U { n: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${INDEX}
${ENTRY} {
  let i = flat(gid, nw);
  if (i >= u.n) { return; }
  let v = x[i];
  y[i] = 0.5 * v * (1.0 + tanh_safe(GELU_K * (v + 0.044715 * v * v * v)));
}`,

  // per row: rowloss[n] = logsumexp - logit[target]; logits become d(mean loss)/d(logits)
  crossentropy: `
struct U { N: u32, V: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> rowloss: array<f32>;
${INDEX}
${ENTRY} {
  let n = flat(gid, nw);
  if (n >= u.N) { return; }
  let o = n * u.V; let t = targets[n]; let inv = 1.0 / f32(u.N);
  var mx = -3.4e38;
  for (var v = 0u; v < u.V; v++) { mx = max(mx, logits[o + v]); }
  var sum = 0.0;
  for (var v = 0u; v < u.V; v++) { sum += exp(logits[o + v] - mx); }
  rowloss[n] = log(sum) + mx - logits[o + t];
  for (var v = 0u; v < u.V; v++) { logits[o + v] = exp(logits[o + v] - mx) / sum * inv; }
  logits[o + t] -= inv;
}`,

  // loss[0] = mean of rowloss (one thread: N is at most a few thousand)
  meanloss: `
struct U { N: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> rowloss: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@compute @workgroup_size(1) fn main() {
  var s = 0.0;
  for (var n = 0u; n < u.N; n++) { s += rowloss[n]; }
  loss[0] = s / f32(u.N);
}`,

  // dx += LN backward of dy, per row
  lnBackX: `
struct U { N: u32, d: u32, offW: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> P: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
${INDEX}
${ENTRY} {
  let n = flat(gid, nw);
  if (n >= u.N) { return; }
  let o = n * u.d; let mu = stats[2u * n]; let r = stats[2u * n + 1u];
  var s = 0.0; var sx = 0.0;
  for (var c = 0u; c < u.d; c++) {
    let g = dy[o + c] * P[u.offW + c];
    s += g; sx += g * (x[o + c] - mu) * r;
  }
  s = s / f32(u.d); sx = sx / f32(u.d);
  for (var c = 0u; c < u.d; c++) {
    let xhat = (x[o + c] - mu) * r;
    dx[o + c] += r * (dy[o + c] * P[u.offW + c] - s - xhat * sx);
  }
}`,

  // LN weight and bias gradients, one thread per column
  lnBackW: `
struct U { N: u32, d: u32, offDW: u32, offDB: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> G: array<f32>;
${INDEX}
${ENTRY} {
  let c = flat(gid, nw);
  if (c >= u.d) { return; }
  var dw = 0.0; var db = 0.0;
  for (var n = 0u; n < u.N; n++) {
    let g = dy[n * u.d + c];
    dw += g * (x[n * u.d + c] - stats[2u * n]) * stats[2u * n + 1u];
    db += g;
  }
  G[u.offDW + c] = dw; G[u.offDB + c] = db;
}`,

  // per (b, h, query i): dS[i, j] = P(dP - Σ P dP)/√dh and dq_i = Σ_j dS[i, j] k_j
  attnBackRows: `
struct U { B: u32, T: u32, d: u32, H: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> dheads: array<f32>;
@group(0) @binding(2) var<storage, read> qkv: array<f32>;
@group(0) @binding(3) var<storage, read> probs: array<f32>;
@group(0) @binding(4) var<storage, read_write> dS: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<f32>;
${INDEX}
${ENTRY} {
  let idx = flat(gid, nw);
  if (idx >= u.B * u.H * u.T) { return; }
  let i = idx % u.T; let h = (idx / u.T) % u.H; let b = idx / (u.T * u.H);
  let dh = u.d / u.H; let scale = 1.0 / sqrt(f32(dh)); let w = 3u * u.d;
  let row = idx * u.T; let o = (b * u.T + i) * u.d + h * dh;
  var dot = 0.0;
  for (var j = 0u; j <= i; j++) {
    let v = (b * u.T + j) * w + 2u * u.d + h * dh;
    var s = 0.0;
    for (var c = 0u; c < dh; c++) { s += dheads[o + c] * qkv[v + c]; }
    dS[row + j] = s;
    dot += probs[row + j] * s;
  }
  for (var j = 0u; j <= i; j++) { dS[row + j] = probs[row + j] * (dS[row + j] - dot) * scale; }
  let q = (b * u.T + i) * w + h * dh;
  for (var c = 0u; c < dh; c++) {
    var acc = 0.0;
    for (var j = 0u; j <= i; j++) { acc += dS[row + j] * qkv[(b * u.T + j) * w + u.d + h * dh + c]; }
    dqkv[q + c] = acc;
  }
}`,

  // per (b, h, key j): dk_j = Σ_i dS[i, j] q_i and dv_j = Σ_i P[i, j] dO_i over queries i ≥ j
  attnBackCols: `
struct U { B: u32, T: u32, d: u32, H: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> dheads: array<f32>;
@group(0) @binding(2) var<storage, read> qkv: array<f32>;
@group(0) @binding(3) var<storage, read> probs: array<f32>;
@group(0) @binding(4) var<storage, read> dS: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<f32>;
${INDEX}
${ENTRY} {
  let idx = flat(gid, nw);
  if (idx >= u.B * u.H * u.T) { return; }
  let j = idx % u.T; let h = (idx / u.T) % u.H; let b = idx / (u.T * u.H);
  let dh = u.d / u.H; let w = 3u * u.d; let base = (idx - j) * u.T;
  for (var c = 0u; c < dh; c++) {
    var dk = 0.0; var dv = 0.0;
    for (var i = j; i < u.T; i++) {
      dk += dS[base + i * u.T + j] * qkv[(b * u.T + i) * w + h * dh + c];
      dv += probs[base + i * u.T + j] * dheads[(b * u.T + i) * u.d + h * dh + c];
    }
    dqkv[(b * u.T + j) * w + u.d + h * dh + c] = dk;
    dqkv[(b * u.T + j) * w + 2u * u.d + h * dh + c] = dv;
  }
}`,

  // dy *= gelu'(x)
  geluBack: `
struct U { n: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> dy: array<f32>;
${INDEX}
${ENTRY} {
  let i = flat(gid, nw);
  if (i >= u.n) { return; }
  let v = x[i]; let t = tanh_safe(GELU_K * (v + 0.044715 * v * v * v));
  dy[i] = dy[i] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * 0.044715 * v * v));
}`,

  // tok_emb gradient += rows of dx gathered by token: positions of token v are
  // positions[offsets[v] .. offsets[v+1]] (a counting sort done on the host), so no atomics
  embedBackTok: `
struct U { V: u32, d: u32, offTok: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
@group(0) @binding(2) var<storage, read> positions: array<u32>;
@group(0) @binding(3) var<storage, read> dx: array<f32>;
@group(0) @binding(4) var<storage, read_write> G: array<f32>;
${INDEX}
${ENTRY} {
  let i = flat(gid, nw);
  if (i >= u.V * u.d) { return; }
  let v = i / u.d; let c = i % u.d;
  var acc = 0.0;
  for (var p = offsets[v]; p < offsets[v + 1u]; p++) { acc += dx[positions[p] * u.d + c]; }
  G[u.offTok + i] += acc;
}`,

  embedBackPos: `
struct U { B: u32, T: u32, d: u32, offPos: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> dx: array<f32>;
@group(0) @binding(2) var<storage, read_write> G: array<f32>;
${INDEX}
${ENTRY} {
  let i = flat(gid, nw);
  if (i >= u.T * u.d) { return; }
  var acc = 0.0;
  for (var b = 0u; b < u.B; b++) { acc += dx[b * u.T * u.d + i]; }
  G[u.offPos + i] = acc;
}`,

  // torch.optim.AdamW, in its order: decay, moments, bias-corrected step
  adamw: `
struct U { n: u32, decay: f32, b1: f32, b2: f32, eps: f32, stepSize: f32, bc2sqrt: f32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read_write> P: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> M: array<f32>;
@group(0) @binding(4) var<storage, read_write> S: array<f32>;
${INDEX}
${ENTRY} {
  let i = flat(gid, nw);
  if (i >= u.n) { return; }
  let g = G[i];
  P[i] = P[i] * u.decay;
  M[i] = M[i] + (g - M[i]) * (1.0 - u.b1);
  S[i] = S[i] * u.b2 + (1.0 - u.b2) * g * g;
  P[i] = P[i] - u.stepSize * M[i] / (sqrt(S[i]) / u.bc2sqrt + u.eps);
}`,
};
