// GPT-2 on WebGPU: the forward pass with a KV cache, for the live-prompt page.
//
// The tiny model's WGSL kernels (layernorm, matmul4/matmulDirect, gelu from kernels.js)
// plus four of GPT-2's own below: the embedding at a position offset, a bias add, the
// K/V rows stored into the cache and causal attention over cached keys. Each tensor has
// its own storage buffer (wte alone is 154 MB, over WebGPU's default 128 MiB binding
// limit: the device is asked for the adapter's own limits). Each forward records its
// dispatches once, submits, and reads back what the page draws. Not handled: several
// devices, training, a device too small for the weights (the error names the size and
// createGPT2 falls back to the CPU engine).

import { checkIds, embed, KVCache, keptLayers, lens } from "./gpt2-common.js";
import { KERNELS } from "./kernels.js";

const INDEX = /* wgsl */ `
fn flat(gid: vec3<u32>, nw: vec3<u32>) -> u32 { return gid.x + gid.y * nw.x * 64u; }`;
const ENTRY = "@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>)";

export const GPT2_KERNELS = {
  // x[t, c] = wte[ids[t], c] + wpe[past + t, c]
  embedAt: `
struct U { T: u32, d: u32, past: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> wte: array<f32>;
@group(0) @binding(3) var<storage, read> wpe: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
${INDEX}
${ENTRY} {
  let i = flat(gid, nw);
  if (i >= u.T * u.d) { return; }
  let t = i / u.d; let c = i % u.d;
  x[i] = wte[ids[t] * u.d + c] + wpe[(u.past + t) * u.d + c];
}`,

  // x[r, c] += b[c]
  bias: `
struct U { n: u32, cols: u32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
${INDEX}
${ENTRY} {
  let i = flat(gid, nw);
  if (i >= u.n) { return; }
  x[i] += b[i % u.cols];
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

const SHARED = ["layernorm", "matmul4", "matmulDirect", "gelu"];

/** A GPT-2 on WebGPU, or an Error saying why there is none. */
export async function createGPT2GPU(config, w, gpu) {
  if (!gpu) throw new Error("this browser has no WebGPU (navigator.gpu is missing)");
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error("WebGPU is present but offered no adapter (blocked or no usable GPU)");
  const need = w.wte.byteLength, lim = adapter.limits;
  if (lim.maxStorageBufferBindingSize < need || lim.maxBufferSize < need) {
    throw new Error(`this GPU binds at most ${(lim.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB per buffer; ` +
      `the token embedding needs ${(need / 2 ** 20).toFixed(0)} MiB`);
  }
  const device = await adapter.requestDevice({ requiredLimits: {
    maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize, maxBufferSize: lim.maxBufferSize,
    maxStorageBuffersPerShaderStage: Math.min(8, lim.maxStorageBuffersPerShaderStage) } });
  const engine = new GPT2GPU(config, w, device);
  try {
    await engine.setup();
  } catch (err) {
    device.destroy();
    throw err;
  }
  return engine;
}

const usage = () => ({ storage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  uniform: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, read: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });

class GPT2GPU {
  constructor(config, w, device) {
    this.config = config;
    this.host = w;                  // the parsed tensors: the logit lens and embeddings read them
    this.device = device;
    this.lost = null;
    device.lost.then((info) => { this.lost = info.message || info.reason || "device lost"; });
  }

  get backend() { return "webgpu"; }

  async setup() {
    const d = this.device, U = usage();
    d.pushErrorScope("out-of-memory");
    d.pushErrorScope("validation");
    const upload = (arr) => {
      const b = d.createBuffer({ size: Math.max(16, arr.byteLength), usage: U.storage });
      d.queue.writeBuffer(b, 0, arr.buffer, arr.byteOffset, arr.byteLength);
      return b;
    };
    const pair = ([wt, b]) => [upload(wt), upload(b)];
    const packed = ([wt, b]) => {                 // the layernorm kernel reads weight then bias from one buffer
      const both = new Float32Array(wt.length + b.length);
      both.set(wt);
      both.set(b, wt.length);
      return upload(both);
    };
    const layer = (l) => ({ ln1: packed(l.ln1), attn: pair(l.attn), proj: pair(l.proj), ln2: packed(l.ln2), fc: pair(l.fc), fc2: pair(l.fc2) });
    const { vocab_size: V, n_embd } = this.config, V4 = Math.ceil(V / 4) * 4;
    const wte = d.createBuffer({ size: V4 * n_embd * 4, usage: U.storage });   // zero rows up to V4: the head runs as matmul4
    d.queue.writeBuffer(wte, 0, this.host.wte.buffer, this.host.wte.byteOffset, this.host.wte.byteLength);
    this.w = { wte, wpe: upload(this.host.wpe), lnf: packed(this.host.lnf), layers: this.host.layers.map(layer) };
    this.pipelines = {};
    for (const name of SHARED) this.pipelines[name] = await this.pipeline(name, KERNELS[name]);
    for (const [name, code] of Object.entries(GPT2_KERNELS)) this.pipelines[name] = await this.pipeline(name, code);
    await d.queue.onSubmittedWorkDone();
    const invalid = await d.popErrorScope(), oom = await d.popErrorScope();
    if (oom) throw new Error(`the GPU has no room for the weights (${(this.bytes() / 2 ** 20).toFixed(0)} MiB): ${oom.message}`);
    if (invalid) throw new Error(`WebGPU refused the model: ${invalid.message}`);
  }

  bytes() {
    const h = this.host;
    let n = h.wte.byteLength + h.wpe.byteLength;
    for (const l of h.layers) for (const [wt, b] of Object.values(l)) n += wt.byteLength + b.byteLength;
    return n;
  }

  pipeline(name, code) {
    const module = this.device.createShaderModule({ code, label: name });
    return this.device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" }, label: name });
  }

  newCache() {
    const c = new KVCache(this.config, { host: false }), { n_layer: L, n_positions: C, n_embd: d } = this.config;
    c.gpu = Array.from({ length: L }, () => [this.buffer(C * d), this.buffer(C * d)]);
    return c;
  }

  buffer(floats) { return this.device.createBuffer({ size: Math.max(16, floats * 4), usage: usage().storage }); }

  op(name, values, buffers, threads, transient) {
    const data = new Uint32Array(16);
    data.set(values);
    const ub = this.device.createBuffer({ size: 64, usage: usage().uniform });
    this.device.queue.writeBuffer(ub, 0, data);
    transient.push(ub);
    const pipeline = this.pipelines[name];
    const entries = [{ binding: 0, resource: { buffer: ub } }, ...buffers.map((b, i) => ({ binding: i + 1, resource: { buffer: b } }))];
    const wg = Math.max(1, Math.ceil(threads / 64)), x = Math.min(wg, 65535);
    return { pipeline, bindGroup: this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }), groups: [x, Math.ceil(wg / x)] };
  }

  /** C[M,N] = A[M,K] @ B[K,N] (transB: B given as [N,K]) (+ D), offsets in floats. */
  mm(C, A, B, M, K, N, { tB = 0, offA = 0, D = null } = {}, transient) {
    const u = [M, K, N, 0, tB, D ? 1 : 0, offA, 0, 0, 0], bufs = [A, B, D || A, C];
    if (M % 4 === 0 && N % 4 === 0) return this.op("matmul4", u, bufs, (M * N) / 16, transient);
    return this.op("matmulDirect", u, bufs, M * N, transient);
  }

  /**
   * The same contract as the CPU engine's forward (gpt2.js). Row counts are padded to a
   * multiple of 4 (T4) so every product runs as matmul4 (13× the one-thread-per-output
   * kernel on SwiftShader): pad rows start at zero, attention and the cache see only the
   * T real rows, and nothing of the padding is read back.
   */
  async forward(ids, { cache = null, logits = "all", attention } = {}) {
    if (this.lost) throw new Error(`the WebGPU device was lost (${this.lost})`);
    const { n_embd: d, n_layer: L, n_head: H, vocab_size: V } = this.config, past = cache ? cache.length : 0;
    ids = checkIds(ids, this.config, past);
    const T = ids.length, T4 = Math.ceil(T / 4) * 4, Tk = past + T, keep = keptLayers(attention, L), tmp = [], ops = [];
    const buf = (n) => { const b = this.buffer(n); tmp.push(b); return b; };
    const idBuf = buf(T);
    this.device.queue.writeBuffer(idBuf, 0, Uint32Array.from(ids));
    const kv = cache ? cache.gpu : Array.from({ length: L }, () => [buf(T * d), buf(T * d)]);
    const xs = [buf(T4 * d)], qkvs = [], probs = [], W = this.w;
    ops.push(this.op("embedAt", [T, d, past], [idBuf, W.wte, W.wpe, xs[0]], T * d, tmp));
    for (let l = 0; l < L; l++) {
      const lw = W.layers[l], ln1 = buf(T4 * d), st = buf(2 * T4), qkv = buf(T4 * 3 * d), p = buf(H * T * Tk), heads = buf(T4 * d);
      const mid = buf(T4 * d), ln2 = buf(T4 * d), pre = buf(T4 * 4 * d), act = buf(T4 * 4 * d), x = buf(T4 * d);
      ops.push(
        this.op("layernorm", [T4, d, 0, d], [xs[l], lw.ln1, ln1, st], T4, tmp),
        this.mm(qkv, ln1, lw.attn[0], T4, d, 3 * d, {}, tmp),
        this.op("bias", [T4 * 3 * d, 3 * d], [qkv, lw.attn[1]], T4 * 3 * d, tmp),
        this.op("storeKV", [T, d, past], [qkv, kv[l][0], kv[l][1]], T * d, tmp),
        this.op("attendCached", [T, d, H, past], [qkv, kv[l][0], kv[l][1], p, heads], H * T, tmp),
        this.mm(mid, heads, lw.proj[0], T4, d, d, { D: xs[l] }, tmp),
        this.op("bias", [T4 * d, d], [mid, lw.proj[1]], T4 * d, tmp),
        this.op("layernorm", [T4, d, 0, d], [mid, lw.ln2, ln2, st], T4, tmp),
        this.mm(pre, ln2, lw.fc[0], T4, d, 4 * d, {}, tmp),
        this.op("bias", [T4 * 4 * d, 4 * d], [pre, lw.fc[1]], T4 * 4 * d, tmp),
        this.op("gelu", [T4 * 4 * d], [pre, act], T4 * 4 * d, tmp),
        this.mm(x, act, lw.fc2[0], T4, 4 * d, d, { D: mid }, tmp),
        this.op("bias", [T4 * d, d], [x, lw.fc2[1]], T4 * d, tmp));
      xs.push(x); qkvs.push(qkv); probs.push(p);
    }
    const rows = logits === "last" ? 1 : T, rows4 = Math.ceil(rows / 4) * 4, V4 = Math.ceil(V / 4) * 4;
    const lnf = buf((T4 + 4) * d), sf = buf(2 * T4), out = buf(rows4 * V4);
    ops.push(this.op("layernorm", [T4, d, 0, d], [xs[L], W.lnf, lnf, sf], T4, tmp),
      this.mm(out, lnf, W.wte, rows4, d, V4, { tB: 1, offA: (T - rows) * d }, tmp));
    const got = await this.run(ops, tmp, { logits: [out, rows4 * V4], lnf: [lnf, T * d],
      residual: xs.map((x) => [x, T * d]), qkv: qkvs.map((q) => [q, T * 3 * d]),
      attention: probs.map((p, l) => (keep.has(l) ? [p, H * T * Tk] : null)) });
    if (cache) cache.length = Tk;
    got.logits = unpad(got.logits, rows, V, V4);
    return { past, T, logitRows: rows, embeddings: embed(this.host, ids, past, d), ...got };
  }

  async run(ops, tmp, wanted) {
    const d = this.device, enc = d.createCommandEncoder(), reads = [];
    d.pushErrorScope("out-of-memory");
    d.pushErrorScope("validation");
    const pass = enc.beginComputePass();
    for (const o of ops) { pass.setPipeline(o.pipeline); pass.setBindGroup(0, o.bindGroup); pass.dispatchWorkgroups(o.groups[0], o.groups[1]); }
    pass.end();
    const copy = (entry) => {
      if (!entry) return null;
      const [src, n] = entry, dst = d.createBuffer({ size: Math.max(16, n * 4), usage: usage().read });
      enc.copyBufferToBuffer(src, 0, dst, 0, n * 4);
      reads.push(dst);
      return { dst, n };
    };
    const plan = Object.fromEntries(Object.entries(wanted).map(([k, v]) => [k, Array.isArray(v[0]) || v[0] === null ? v.map(copy) : copy(v)]));
    d.queue.submit([enc.finish()]);
    const invalid = await d.popErrorScope(), oom = await d.popErrorScope();
    try {
      if (oom) throw new Error(`the GPU ran out of memory for this prompt: ${oom.message}`);
      if (invalid) throw new Error(`WebGPU refused the pass: ${invalid.message}`);
      await Promise.all(reads.map((b) => b.mapAsync(GPUMapMode.READ)));
      if (this.lost) throw new Error(`the WebGPU device was lost (${this.lost})`);
      const take = (r) => (r ? new Float32Array(r.dst.getMappedRange().slice(0, r.n * 4)) : null);
      return Object.fromEntries(Object.entries(plan).map(([k, v]) => [k, Array.isArray(v) ? v.map(take) : take(v)]));
    } finally {
      for (const b of [...reads, ...tmp]) b.destroy();
    }
  }

  /** The head's logits for any residual row (the logit lens), on the host weights. */
  lens(row) { return lens(this.host, row, this.config.n_embd); }

  destroy() { this.device.destroy(); }
}

/** [rows4, V4] -> [rows, V] */
function unpad(padded, rows, V, V4) {
  const out = new Float32Array(rows * V);
  for (let r = 0; r < rows; r++) out.set(padded.subarray(r * V4, r * V4 + V), r * V);
  return out;
}
