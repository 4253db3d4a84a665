// GPT-2 on WebGPU: the forward pass with a KV cache, for the live-prompt page.
//
// The weights go up once, at load: each Conv1D weight in its [in, out] layout, the tied
// head's wte stored transposed as wteᵀ [d, V4] (zero columns up to V4 = V rounded up to 8, padV;
// the embedding reads it by column), the KV cache's rows in GPU buffers of their own
// (newCache). A forward records every layer's dispatches in one compute pass, makes ONE queue
// submission, and maps ONE staging buffer: the logits and what the caller asked for (the
// residual stream, qkv and ln_f rows unless residual: false; the kept layers' attention).
// The buffers of a generated token's pass (T = 1), their bind groups and the uniforms are
// made once per cache and reused for every token (one writeBuffer of the uniforms a token);
// a prompt's pass (T > 1) gets its own, freed after it. Products run in gpt2-kernels.js
// (bias, residual add and GELU fused in). Each tensor has its own storage buffer (wteᵀ alone
// is 154 MB, over WebGPU's default 128 MiB binding limit: the device is asked for the
// adapter's own limits). Not handled: several devices, training, two forwards at once (they
// queue), a device too small for the weights (the error names the size and createGPT2 falls
// back to the CPU engine), n_embd not a multiple of 8 (the products' vec4 pairs; an error too).

import { checkIds, embed, KVCache, keptLayers, lens } from "./gpt2-common.js";
import { COLUMNS, GPT2_KERNELS, ROWS, WORKGROUP } from "./gpt2-kernels.js";
import { KERNELS } from "./kernels.js";

const UNIFORM_BYTES = 64;               // one op's uniforms (at most 16 u32)
const FLAG = { bias: 1, add: 2, gelu: 4 };  // linear kernels' flags

/** A GPT-2 on WebGPU, or an Error saying why there is none. */
export async function createGPT2GPU(config, w, gpu) {
  if (!gpu) throw new Error("this browser has no WebGPU (navigator.gpu is missing)");
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error("WebGPU is present but offered no adapter (blocked or no usable GPU)");
  if (config.n_embd % 8) throw new Error(`the WebGPU kernels need n_embd a multiple of 8, not ${config.n_embd}`);
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
    this.stepPlan = null;           // the buffers of a one-token pass, kept for the next token
    this.queue = Promise.resolve(); // forwards run one at a time (they share stepPlan)
    this.slot = Math.max(UNIFORM_BYTES, device.limits.minUniformBufferOffsetAlignment);
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
    this.w = { wteT: this.uploadTransposed(this.host.wte), wpe: upload(this.host.wpe), lnf: packed(this.host.lnf),
      layers: this.host.layers.map(layer), zero: upload(new Float32Array(4)) };
    const names = [["layernorm", KERNELS.layernorm], ...Object.entries(GPT2_KERNELS)];
    const made = await Promise.all(names.map(([name, code]) => this.pipeline(name, code)));
    this.pipelines = Object.fromEntries(names.map(([name], i) => [name, made[i]]));
    await d.queue.onSubmittedWorkDone();
    const invalid = await d.popErrorScope(), oom = await d.popErrorScope();
    if (oom) throw new Error(`the GPU has no room for the weights (${(this.bytes() / 2 ** 20).toFixed(0)} MiB): ${oom.message}`);
    if (invalid) throw new Error(`WebGPU refused the model: ${invalid.message}`);
  }

  /** wte [V, d] -> a buffer holding wteᵀ [d, V4], written 32 rows at a time (no 154 MB host copy). */
  uploadTransposed(wte) {
    const { vocab_size: V, n_embd: d } = this.config, V4 = padV(V), rows = 32;
    const buf = this.device.createBuffer({ size: d * V4 * 4, usage: usage().storage });
    const block = new Float32Array(rows * V4);               // columns V..V4 stay zero
    for (let c0 = 0; c0 < d; c0 += rows) {
      const n = Math.min(rows, d - c0);
      for (let v = 0; v < V; v++) for (let j = 0, o = v * d + c0; j < n; j++) block[j * V4 + v] = wte[o + j];
      this.device.queue.writeBuffer(buf, c0 * V4 * 4, block.buffer, 0, n * V4 * 4);
    }
    return buf;
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

  /**
   * The same contract as the CPU engine's forward (gpt2.js), plus residual: false (no residual,
   * qkv or lnf rows read back: null). Prompt rows are padded to a multiple of ROWS (T4) for the
   * ROWS-row product; pad rows start at zero, attention and the cache see only the T real rows,
   * and nothing of the padding is read back. A generated token (T = 1) runs unpadded.
   */
  forward(ids, opts = {}) {
    const run = this.queue.then(() => this.forwardNow(ids, opts));
    this.queue = run.catch(() => {});
    return run;
  }

  async forwardNow(ids, { cache = null, logits = "all", attention, residual = true } = {}) {
    if (this.lost) throw new Error(`the WebGPU device was lost (${this.lost})`);
    const { n_embd: d, n_layer: L, n_head: H, vocab_size: V } = this.config, past = cache ? cache.length : 0;
    ids = checkIds(ids, this.config, past);
    const T = ids.length, Tk = past + T, keep = keptLayers(attention, L), rows = logits === "last" ? 1 : T;
    const dev = this.device;
    dev.pushErrorScope("out-of-memory");
    dev.pushErrorScope("validation");
    let plan = null, scoped = true, got;
    try {
      plan = this.plan(T, rows, cache, keep, residual, Tk);
      const ops = this.program(plan, past);
      dev.queue.writeBuffer(plan.ids, 0, Uint32Array.from(ids));
      const wanted = [["logits", plan.out, rows === 1 ? V : rows * plan.V4]];
      if (residual) {
        plan.xs.forEach((x, l) => wanted.push(["residual", x, T * d, l]));
        plan.qkv.forEach((q, l) => wanted.push(["qkv", q, T * 3 * d, l]));
        wanted.push(["lnf", plan.lnf, T * d]);
      }
      for (let l = 0; l < L; l++) if (keep.has(l)) wanted.push(["attention", plan.probs[l], H * T * Tk, l]);
      const read = this.submit(plan, ops, wanted);
      scoped = false;
      const invalid = dev.popErrorScope(), oom = dev.popErrorScope(), [bad, full] = await Promise.all([invalid, oom]);
      if (full) throw new Error(`the GPU ran out of memory for this prompt: ${full.message}`);
      if (bad) throw new Error(`WebGPU refused the pass: ${bad.message}`);
      got = await read();
    } catch (err) {
      if (scoped) { dev.popErrorScope(); dev.popErrorScope(); }
      if (plan && plan === this.stepPlan) this.stepPlan = null;       // not reused: released below
      throw err;
    } finally {
      if (plan && plan !== this.stepPlan) this.release(plan);
    }
    if (cache) cache.length = Tk;
    const out = { past, T, logitRows: rows, embeddings: embed(this.host, ids, past, d),
      residual: residual ? got.residual : null, qkv: residual ? got.qkv : null, lnf: residual ? got.lnf : null,
      attention: Array.from({ length: L }, (_, l) => (got.attention && got.attention[l]) || null) };
    out.logits = rows === 1 ? got.logits : unpad(got.logits, rows, V, plan.V4);
    return out;
  }

  /**
   * The buffers of one pass: a one-token pass's are kept (this.stepPlan) while the cache, the
   * kept layers and residual stay the same; probabilities then have room for n_positions keys.
   */
  plan(T, rows, cache, keep, residual, Tk) {
    const key = [T, rows, residual, [...keep].join(","), T === 1 ? "" : Tk].join("|");
    const old = this.stepPlan;
    if (T === 1 && old && old.key === key && old.cache === cache) return old;
    if (T === 1 && old) { this.release(old); this.stepPlan = null; }
    const { n_embd: d, n_layer: L, n_head: H, vocab_size: V, n_positions: C } = this.config;
    const T4 = T === 1 ? 1 : Math.ceil(T / ROWS) * ROWS, V4 = padV(V), cap = T === 1 ? C : Tk, owned = [];
    const buf = (n) => { const b = this.buffer(n); owned.push(b); return b; };
    const shared = (n) => { let b = null; return () => (b = b || buf(n)); };
    const scratchQKV = shared(T4 * 3 * d), scratchProbs = shared(H * T * cap);
    const p = { key, cache, T, T4, rows, V4, owned, groups: [], staging: null, uniforms: null };
    p.ids = buf(T);
    p.kv = cache ? cache.gpu : Array.from({ length: L }, () => [buf(T * d), buf(T * d)]);
    p.xs = Array.from({ length: L + 1 }, () => buf(T4 * d));                 // the residual stream entering each layer, then leaving the last
    p.qkv = Array.from({ length: L }, () => (residual ? buf(T4 * 3 * d) : scratchQKV()));
    p.probs = Array.from({ length: L }, (_, l) => (keep.has(l) ? buf(H * T * cap) : scratchProbs()));
    p.ln = buf(T4 * d); p.stats = buf(2 * T4); p.heads = buf(T4 * d); p.mid = buf(T4 * d); p.h = buf(T4 * 4 * d);
    p.lnf = buf(T4 * d);
    p.out = buf((rows === 1 ? 1 : T4) * V4);
    if (T === 1) this.stepPlan = p;
    return p;
  }

  /** Destroy a plan's own buffers (never the cache's). */
  release(plan) {
    for (const b of plan.owned) b.destroy();
    if (plan.uniforms) plan.uniforms.destroy();
    if (plan.staging) plan.staging.destroy();
  }

  /** The pass as [{name, values (the uniforms), buffers, threads}], the same buffers every time for a plan. */
  program(p, past) {
    const { n_embd: d, n_layer: L, n_head: H } = this.config, W = this.w, { T, T4, V4 } = p, ops = [];
    const op = (name, values, buffers, threads) => ops.push({ name, values, buffers, threads });
    // Y[M, N] = X[M, K] @ Wt (+ b) (+ D) (GELU): one row per thread for a token, ROWS for a prompt
    const linear = (X, offX, M, K, N, [Wt, b], flags, D, Y) => {
      const name = M === 1 ? "linear1" : "linearRows";
      op(name, [M, K, N, offX, flags], [X, Wt, b || W.zero, D || W.zero, Y], (M === 1 ? 1 : M / ROWS) * (N / 4 / COLUMNS[name]));
    };
    op("embedAt", [T, d, past, V4], [p.ids, W.wteT, W.wpe, p.xs[0]], T * d);
    for (let l = 0; l < L; l++) {
      const lw = W.layers[l], [keys, values] = p.kv[l], qkv = p.qkv[l];
      op("layernorm", [T4, d, 0, d], [p.xs[l], lw.ln1, p.ln, p.stats], T4);
      linear(p.ln, 0, T4, d, 3 * d, lw.attn, FLAG.bias, null, qkv);                           // [T4, 3d]
      op("storeKV", [T, d, past], [qkv, keys, values], T * d);
      op("attendCached", [T, d, H, past], [qkv, keys, values, p.probs[l], p.heads], H * T);
      linear(p.heads, 0, T4, d, d, lw.proj, FLAG.bias | FLAG.add, p.xs[l], p.mid);             // x + heads W + b
      op("layernorm", [T4, d, 0, d], [p.mid, lw.ln2, p.ln, p.stats], T4);
      linear(p.ln, 0, T4, d, 4 * d, lw.fc, FLAG.bias | FLAG.gelu, null, p.h);                  // gelu(x W + b) [T4, 4d]
      linear(p.h, 0, T4, 4 * d, d, lw.fc2, FLAG.bias | FLAG.add, p.mid, p.xs[l + 1]);
    }
    op("layernorm", [T4, d, 0, d], [p.xs[L], W.lnf, p.lnf, p.stats], T4);
    if (p.rows === 1) linear(p.lnf, ((T - 1) * d) / 4, 1, d, V4, [W.wteT, null], 0, null, p.out);   // the last row's logits [V4]
    else linear(p.lnf, 0, T4, d, V4, [W.wteT, null], 0, null, p.out);                            // [T4, V4]
    return ops;
  }

  /**
   * Encode the ops in one pass, copy the wanted [name, buffer, floats, layer?] into one staging
   * buffer, submit once. -> read(): maps that buffer once -> {name: Float32Array | [by layer]}.
   */
  submit(p, ops, wanted) {
    const dev = this.device, slot = this.slot;
    if (!p.uniforms) p.uniforms = dev.createBuffer({ size: ops.length * slot, usage: usage().uniform });
    const data = new Uint32Array((ops.length * slot) / 4);
    ops.forEach((o, i) => data.set(o.values, (i * slot) / 4));
    dev.queue.writeBuffer(p.uniforms, 0, data);
    const enc = dev.createCommandEncoder(), pass = enc.beginComputePass();
    ops.forEach((o, i) => {
      const pipeline = this.pipelines[o.name];
      p.groups[i] = p.groups[i] || dev.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [
        { binding: 0, resource: { buffer: p.uniforms, offset: i * slot, size: UNIFORM_BYTES } },
        ...o.buffers.map((b, j) => ({ binding: j + 1, resource: { buffer: b } }))] });
      const wg = Math.max(1, Math.ceil(o.threads / (WORKGROUP[o.name] || 64))), x = Math.min(wg, 65535);
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, p.groups[i]);
      pass.dispatchWorkgroups(x, Math.ceil(wg / x));
    });
    pass.end();
    const total = Math.max(16, wanted.reduce((n, [, , floats]) => n + floats, 0) * 4);
    if (!p.staging || p.staging.size < total) {
      if (p.staging) p.staging.destroy();
      p.staging = dev.createBuffer({ size: total, usage: usage().read });
    }
    let at = 0;
    const places = wanted.map(([, src, floats]) => { enc.copyBufferToBuffer(src, 0, p.staging, at, floats * 4); at += floats * 4; return at / 4 - floats; });
    dev.queue.submit([enc.finish()]);
    const staging = p.staging, mapped = staging.mapAsync(GPUMapMode.READ, 0, total);
    mapped.catch(() => {});                                    // an error scope reports why first
    return async () => {
      await mapped;
      if (this.lost) throw new Error(`the WebGPU device was lost (${this.lost})`);
      const all = new Float32Array(staging.getMappedRange(0, total).slice(0));
      staging.unmap();
      const got = {};
      wanted.forEach(([name, , floats, layer], i) => {
        const view = all.subarray(places[i], places[i] + floats);
        if (layer === undefined) got[name] = view;
        else (got[name] = got[name] || [])[layer] = view;
      });
      return got;
    };
  }

  /** The head's logits for any residual row (the logit lens), on the host weights. */
  lens(row) { return lens(this.host, row, this.config.n_embd); }

  destroy() { this.device.destroy(); }
}

/** V rounded up so the head's V4 / 4 vec4 columns split evenly among a thread's COLUMNS. */
function padV(V) {
  const m = 4 * Math.max(COLUMNS.linear1, COLUMNS.linearRows);
  return Math.ceil(V / m) * m;
}

/** [rows4, V4] -> [rows, V] */
function unpad(padded, rows, V, V4) {
  const out = new Float32Array(rows * V);
  for (let r = 0; r < rows; r++) out.set(padded.subarray(r * V4, r * V4 + V), r * V);
  return out;
}
