// Llama-family checkpoints on WebGPU (CONTRACTS §8), the same model object as llama.js's CPU engines:
//
//   import { createLlamaGPU } from "./llama-webgpu.js";
//   const m = await createLlamaGPU(tensors, { config });   // tensors: parseSafetensors(bytes, { bf16: "view" })
//   const cache = m.newCache();                             // K and V of every layer, resident on the GPU
//   const out = await m.forward(ids, { cache, logits: "last", residual: false });   // {logits [1 × V], ...}
//   m.lens(row) (host, [V]); await m.lensRows(rows) (the logit lens of n rows on the GPU, [n][V]); m.generate(ids, opts)
// (llama.js's createLlama(tensors, { backend: "webgpu" }) and its streamed loader build this engine.)
//
// bfloat16 matrices are uploaded as the file stores them (two values per u32) and widened inside
// the kernels (llama-kernels.js); float32 matrices as they are (F16 files arrive widened). Every sum
// runs in float32. The KV cache and the activations stay on the device: a forward writes the ids,
// one 16-byte step uniform and the RoPE angles, records every dispatch into one command encoder,
// submits once and reads back the logits (the last row, or all) and only the intermediates asked for.
// A tensor larger than what the device binds in one buffer (TinyLlama's embed_tokens and lm_head:
// 125 MiB, under WebGPU's default 128 MiB but more than some devices give) is split by rows into
// several buffers, one dispatch each. createLlamaGPU throws an Error saying why when there is no
// WebGPU, no adapter, no room, or a row that no binding can hold: the caller falls back to the CPU.
// Not handled: several devices, batches, training, float16 arithmetic, RoPE scaling (refused in
// llama-config.js), a pass whose activations pass the binding limit (refused by size: send the
// prompt in chunks through the cache).

import { checkIds } from "./gpt2-common.js";
import { layerName, llamaWeights, widenBF16 } from "./llama-config.js";
import { greedy, keptLayers, linear, rmsNorm, ropeFrequencies } from "./llama-js.js";
import { RMSNORM, ROPE, SWIGLU, WEIGHT_ROWS, attendKernel, embedKernel, linearKernel } from "./llama-kernels.js";

const linearKey = (dtype, R, vec4) => `linear-${dtype}-${R}${vec4 ? "-vec4" : ""}`;
/** Threads of linearKernel for M rows of x times N rows of W: a tile of R x rows by WEIGHT_ROWS W rows each. */
const linearThreads = (M, N, R) => Math.ceil(M / R) * Math.ceil(N / WEIGHT_ROWS);
const UPLOAD_BYTES = 32 * 2 ** 20;   // weights are written in slices of this, each waited for (bounds the staging memory)
const MiB = (n) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 3 : 0)} MiB`;

/**
 * A Llama on WebGPU, or an Error saying why there is none. opts.device: a GPUDevice to use (else
 * one is asked of navigator.gpu with the adapter's own binding limits); opts.maxBinding: bytes per
 * binding to assume at most (tests force the split path with it).
 */
export async function createLlamaGPU(tensors, { config = null, ...opts } = {}) {
  const { config: c, w, tied } = llamaWeights(tensors, config || {});
  return llamaGPUFromWeights(c, w, tied, opts);
}

/**
 * The same from llamaWeights' {config, w, tied} (llama.js's createLlama, or the streamed loader's
 * weights: w's arrays may be views into another engine's memory; they are uploaded, then only the
 * logit lens reads them).
 */
export async function llamaGPUFromWeights(c, w, tied, { device = null, maxBinding = Infinity, gpu = globalThis.navigator?.gpu } = {}) {
  const dev = device || (await requestDevice(gpu));
  const engine = new LlamaGPU(c, w, tied, dev, Math.min(dev.limits.maxStorageBufferBindingSize, dev.limits.maxBufferSize, maxBinding));
  try {
    await engine.setup();
  } catch (err) {
    engine.destroy(!device);
    throw err;
  }
  engine.ownsDevice = !device;
  return engine;
}

/** A device with the adapter's binding limits (big tensors in fewer pieces), else the defaults. */
async function requestDevice(gpu) {
  if (!gpu) throw new Error("this browser has no WebGPU (navigator.gpu is missing)");
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error("WebGPU is present but offered no adapter (blocked or no usable GPU)");
  const lim = adapter.limits;
  try {
    return await adapter.requestDevice({ requiredLimits: {
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize, maxBufferSize: lim.maxBufferSize } });
  } catch {
    return adapter.requestDevice();        // the default limits: big tensors are split into more bindings
  }
}

const USAGE = () => ({ storage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  uniform: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, read: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });

/** The KV cache on the device: per layer K (after RoPE) and V, [capacity, KV·hd] float32, grown by doubling. */
export class LlamaGPUCache {
  constructor(engine) {
    this.engine = engine;
    this.config = engine.config;
    this.width = this.config.num_key_value_heads * this.config.head_dim;
    this.capacity = 0;
    this.keys = [];                  // [L] GPUBuffer
    this.values = [];
    this.length = 0;
    this.generation = 0;             // bumped when the buffers change (the engine's bind groups follow)
  }

  /** Room for n tokens: new buffers (doubling, within max_position_embeddings and the binding limit), old rows copied. */
  reserve(n) {
    if (n <= this.capacity) return;
    const e = this.engine, rowBytes = this.width * 4, fit = Math.floor(e.limit / rowBytes);
    if (n > fit) throw new RangeError(`${n} tokens of KV cache need ${MiB(n * rowBytes)} per layer; this GPU binds at most ${MiB(e.limit)}`);
    const cap = Math.min(Math.max(n, 2 * this.capacity, 16), this.config.max_position_embeddings, fit);
    const enc = e.device.createCommandEncoder(), old = [...this.keys, ...this.values];
    const grow = (prev) => {
      const b = e.buffer(cap * this.width);
      if (prev && this.length) enc.copyBufferToBuffer(prev, 0, b, 0, this.length * rowBytes);
      return b;
    };
    this.keys = this.keys.length ? this.keys.map(grow) : Array.from({ length: this.config.num_hidden_layers }, () => grow(null));
    this.values = this.values.length ? this.values.map(grow) : this.keys.map(() => grow(null));
    e.device.queue.submit([enc.finish()]);
    for (const b of old) b.destroy();
    this.capacity = cap;
    this.generation++;
  }

  /** Bytes the cached tokens hold: 2 (K, V) × layers × tokens × KV heads × head_dim × 4. */
  get bytes() { return this.length * LlamaGPUCache.bytesPerToken(this.config); }

  static bytesPerToken(c) { return 2 * c.num_hidden_layers * c.num_key_value_heads * c.head_dim * 4; }

  destroy() { for (const b of [...this.keys, ...this.values]) b.destroy(); this.keys = []; this.values = []; this.capacity = 0; }
}

class LlamaGPU {
  constructor(config, w, tied, device, limit) {
    this.config = config;
    this.host = w;                     // the checkpoint's arrays: the logit lens reads them
    this.tied = tied;
    this.device = device;
    this.limit = limit;                // bytes one binding may hold
    this.lost = null;
    this.ownsDevice = false;
    this.kernel = "wgsl";
    this.invFreq = ropeFrequencies(config.head_dim, config.rope_theta);
    this.dtype = w.layers[0].q instanceof Uint16Array ? "BF16" : "F32";
    this.pipelines = new Map();
    this.acts = null;                  // activation buffers for up to acts.T tokens
    this.plans = new WeakMap();        // cache -> {key, layers: [ops]}
    this.busy = Promise.resolve();     // forwards run one at a time
    device.lost.then((info) => { this.lost = info.message || info.reason || "device lost"; });
  }

  get backend() { return "webgpu"; }

  buffer(floats, usage = USAGE().storage) {
    return this.device.createBuffer({ size: Math.max(16, Math.ceil(floats / 4) * 16), usage });   // whole vec4s
  }

  /** A uniform buffer holding u32 values (numbers) and f32 ones ({f32: v}). */
  uniform(values) {
    const data = new ArrayBuffer(32), u = new Uint32Array(data), f = new Float32Array(data);
    values.forEach((v, i) => { if (typeof v === "number") u[i] = v; else f[i] = v.f32; });
    const b = this.device.createBuffer({ size: 32, usage: USAGE().uniform });
    this.device.queue.writeBuffer(b, 0, data);
    return b;
  }

  async pipeline(key, code) {
    if (!this.pipelines.has(key)) {
      const module = this.device.createShaderModule({ code, label: key });
      this.pipelines.set(key, await this.device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" }, label: key }));
    }
    return this.pipelines.get(key);
  }

  /**
   * A weight matrix [rows, K] on the device: {dtype, parts: [{buffer, r0, r1}]}, split by rows when
   * it is larger than one binding (then listed in this.splits, for the page to say). bfloat16 stays packed (K odd: widened here, a row must start on a word).
   */
  async matrix(name, data, rows, K) {
    let dtype = data instanceof Uint16Array ? "bf16" : "f32";
    if (dtype === "bf16" && K % 2) { data = widenBF16(data); dtype = "f32"; }
    const rowBytes = K * (dtype === "bf16" ? 2 : 4);
    if (rowBytes > this.limit) {
      throw new Error(`this GPU binds at most ${this.limit} bytes per buffer; one row of ${name} needs ${rowBytes}`);
    }
    const per = Math.floor(this.limit / rowBytes), parts = [];
    for (let r0 = 0; r0 < rows; r0 += per) {
      const r1 = Math.min(rows, r0 + per), bytes = (r1 - r0) * rowBytes;
      const buffer = this.device.createBuffer({ size: Math.max(16, bytes), usage: USAGE().storage, label: name });
      for (let at = 0; at < bytes; at += UPLOAD_BYTES) {           // the page's staging copy stays below UPLOAD_BYTES
        this.device.queue.writeBuffer(buffer, at, data.buffer, data.byteOffset + r0 * rowBytes + at, Math.min(UPLOAD_BYTES, bytes - at));
        await this.device.queue.onSubmittedWorkDone();
      }
      parts.push({ buffer, r0, r1 });
      this.weightBytes += bytes;
    }
    if (parts.length > 1) this.splits.push({ name, parts: parts.length });
    return { dtype, parts, K, rows, vec4: K % (dtype === "bf16" ? 8 : 4) === 0 };
  }

  vector(data) {
    const b = this.buffer(data.length);
    this.device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
    this.weightBytes += data.byteLength;
    return b;
  }

  async setup() {
    const d = this.device, c = this.config, h = this.host;
    const D = c.hidden_size, I = c.intermediate_size, qw = c.num_attention_heads * c.head_dim, kw = c.num_key_value_heads * c.head_dim;
    d.pushErrorScope("out-of-memory");
    d.pushErrorScope("validation");
    this.weightBytes = 0;
    this.splits = [];                  // [{name, parts}]: the tensors split by rows over several bindings
    const shapes = { q: [qw, D], k: [kw, D], v: [kw, D], o: [D, qw], gate: [I, D], up: [I, D], down: [D, I] };
    this.w = { layers: [] };
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const lw = h.layers[l], gw = { ln1: this.vector(lw.ln1), ln2: this.vector(lw.ln2) };
      for (const [m, [rows, K]] of Object.entries(shapes)) gw[m] = await this.matrix(layerName(l, m), lw[m], rows, K);
      this.w.layers.push(gw);
    }
    this.w.embed = await this.matrix("model.embed_tokens.weight", h.embed, c.vocab_size, D);
    this.w.head = this.tied ? this.w.embed : await this.matrix("lm_head.weight", h.head, c.vocab_size, D);
    this.w.norm = this.vector(h.norm);
    this.step = d.createBuffer({ size: 16, usage: USAGE().uniform });
    const dtypes = new Set([this.w.embed.dtype, this.w.head.dtype, ...this.w.layers.flatMap((l) => Object.keys(shapes).map((m) => l[m].dtype))]);
    for (const t of dtypes) {
      await this.pipeline(`embed-${t}`, embedKernel(t));
      for (const R of [1, 4]) for (const v of [false, true]) await this.pipeline(linearKey(t, R, v), linearKernel(t, R, v));
    }
    await this.pipeline("rmsnorm", RMSNORM);
    await this.pipeline("rope", ROPE);
    await this.pipeline("swiglu", SWIGLU);
    for (const keep of [false, true]) await this.pipeline(`attend-${keep}`, attendKernel(c.head_dim, keep));
    this.scratch = new LlamaGPUCache(this);                              // the cache of a forward without one
    await d.queue.onSubmittedWorkDone();
    const invalid = await d.popErrorScope(), oom = await d.popErrorScope();
    if (oom) throw new Error(`the GPU has no room for the weights (${MiB(this.weightBytes)}): ${oom.message}`);
    if (invalid) throw new Error(`WebGPU refused the model: ${invalid.message}`);
  }

  newCache() { return new LlamaGPUCache(this); }

  /** Activation buffers for T tokens (grown by doubling); each within the binding limit or a RangeError naming it. */
  activations(T) {
    if (this.acts && this.acts.T >= T) return this.acts;
    const c = this.config, D = c.hidden_size, I = c.intermediate_size, qw = c.num_attention_heads * c.head_dim;
    const kw = c.num_key_value_heads * c.head_dim, cap = Math.min(Math.max(T, 2 * (this.acts?.T || 0), 4), c.max_position_embeddings);
    const widths = { x: D, h: D, q: qw, k: kw, v: kw, qr: qw, heads: qw, gate: I, up: I, act: I, norm: D, ids: 1, cs: c.head_dim };
    const rows = Math.min(cap, Math.max(T, Math.floor(this.limit / (4 * Math.max(...Object.values(widths))))));
    for (const [name, width] of Object.entries(widths)) {
      if (T * width * 4 > this.limit) {
        throw new RangeError(`a pass of ${T} tokens needs ${MiB(T * width * 4)} for its ${name} rows; this GPU binds at most ` +
          `${MiB(this.limit)}: send the prompt in shorter chunks through the cache`);
      }
    }
    if (this.acts) for (const b of Object.values(this.acts.buf)) b.destroy();
    const buf = Object.fromEntries(Object.entries(widths).map(([k, width]) => [k, this.buffer(rows * width)]));
    this.acts = { T: rows, buf, generation: (this.acts?.generation || 0) + 1 };
    return this.acts;
  }

  /** An op: pipeline, bind group over [step, params, ...storage], threads as a function of T. */
  op(key, params, storage, threads) {
    const pipeline = this.pipelines.get(key), entries = [this.step, params, ...storage].map((buffer, i) => ({ binding: i, resource: { buffer } }));
    return { pipeline, bind: this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }), threads };
  }

  /**
   * y (+)= x Wᵀ over every part of W: one op per part. mode "dyn": rows 0..T-1 of x; "last": row T-1
   * only (the head, M = 1); {M, xr}: M rows from row xr (a chunk of the head). ldy: y's row length.
   */
  linearOps(x, W, y, { add = false, mode = "dyn", ldy = W.rows, n0 = 0, R = 4 } = {}) {
    return W.parts.map((p) => {
      const N = p.r1 - p.r0, M = mode === "dyn" ? 0 : mode === "last" ? 1 : mode.M, xr = mode === "dyn" || mode === "last" ? 0 : mode.xr;
      const dyn = mode === "dyn" ? 1 : mode === "last" ? 2 : 0;
      const params = this.uniform([W.K, N, ldy, n0 + p.r0, add ? 1 : 0, dyn, M, xr]);
      const rowsOf = (T) => (dyn === 1 ? T : dyn === 2 ? 1 : M);
      return this.op(linearKey(W.dtype, R, W.vec4), params, [x, p.buffer, y], (T) => linearThreads(rowsOf(T), N, R));
    });
  }

  /** The ops of every layer (and the final norm) for a cache's buffers: built once per activations/cache generation. */
  plan(cache) {
    const key = `${this.acts.generation}/${cache.generation}`, known = this.plans.get(cache);
    if (known && known.key === key) return known;
    const c = this.config, a = this.acts.buf, D = c.hidden_size, I = c.intermediate_size;
    const H = c.num_attention_heads, KV = c.num_key_value_heads, hd = c.head_dim, eps = { f32: c.rms_norm_eps };
    const norm = (x, wbuf, y) => this.op("rmsnorm", this.uniform([D, eps]), [x, wbuf, y], (T) => T);
    const both = (f) => ({ 1: f(1), 4: f(4) });                             // R = 1 for one token, 4 for a prompt
    const embed = this.w.embed.parts.map((p) =>
      this.op(`embed-${this.w.embed.dtype}`, this.uniform([D, p.r0, p.r1]), [a.ids, p.buffer, a.x], (T) => T * D));
    const layers = this.w.layers.map((lw, l) => ({
      ln1: norm(a.x, lw.ln1, a.h),
      qkv: both((R) => [...this.linearOps(a.h, lw.q, a.q, { R }), ...this.linearOps(a.h, lw.k, a.k, { R }), ...this.linearOps(a.h, lw.v, a.v, { R })]),
      rope: this.op("rope", this.uniform([H, KV, hd]), [a.q, a.k, a.v, a.cs, a.qr, cache.keys[l], cache.values[l]], (T) => T * (H + 2 * KV) * hd),
      attend: this.op("attend-false", this.uniform([H, KV]), [a.qr, cache.keys[l], cache.values[l], a.heads], (T) => H * T),
      o: both((R) => this.linearOps(a.heads, lw.o, a.x, { add: true, R })),
      ln2: norm(a.x, lw.ln2, a.h),
      gateUp: both((R) => [...this.linearOps(a.h, lw.gate, a.gate, { R }), ...this.linearOps(a.h, lw.up, a.up, { R })]),
      swiglu: this.op("swiglu", this.uniform([I]), [a.gate, a.up, a.act], (T) => T * I),
      down: both((R) => this.linearOps(a.act, lw.down, a.x, { add: true, R })),
    }));
    const plan = { key, embed, layers, norm: norm(a.x, this.w.norm, a.norm) };
    this.plans.set(cache, plan);
    return plan;
  }

  /** The head for the last row, into one [V] buffer: ops built once per activations generation. */
  lastHead() {
    if (!this.lastHeadOps || this.lastHeadOps.generation !== this.acts.generation) {
      this.lastHeadOps?.out.destroy();
      const out = this.buffer(this.config.vocab_size);
      this.lastHeadOps = { generation: this.acts.generation, out, ops: this.linearOps(this.acts.buf.norm, this.w.head, out, { mode: "last", ldy: this.config.vocab_size, R: 1 }) };
    }
    return this.lastHeadOps;
  }

  /**
   * The same contract as llama.js's engines: ids [T] -> {logits [rows × V], logitRows, past, T, positions,
   * residual [L+1][T, d] or null, attention [L] ([H, T, past+T] for kept layers, else null), rope, mlp, norm [T, d]}.
   * opts: cache (a LlamaGPUCache from newCache(), extended), logits "all" | "last", residual true | false,
   * attention "none" | "all" | [layers], rope: a layer or null, mlp: a layer or null.
   */
  forward(ids, opts = {}) {
    const run = this.busy.then(() => this.pass(ids, opts));
    this.busy = run.catch(() => {});
    return run;
  }

  async pass(ids, { cache = null, logits = "all", residual = true, attention = "none", rope = null, mlp = null } = {}) {
    if (this.lost) throw new Error(`the WebGPU device was lost (${this.lost})`);
    if (cache && cache.engine !== this) throw new Error("this cache belongs to another model: make it with this model's newCache()");
    const c = this.config, kv = cache || this.scratch, past = cache ? cache.length : 0;
    if (!cache) kv.length = 0;
    ids = checkIds(ids, c, past, c.max_position_embeddings);
    const T = ids.length, keep = keptLayers(attention, c.num_hidden_layers);
    const dev = this.device, a = this.activations(T).buf;
    kv.reserve(past + T);
    const tmp = [], reads = [];
    dev.pushErrorScope("out-of-memory");
    dev.pushErrorScope("validation");
    let recorded = false;
    try {
      const want = this.record(ids, { T, past, kv, a, keep, residual, rope, mlp, logits, tmp, reads });
      recorded = true;
      return await this.finish(want, { cache, kv, past, T, ids, logits, rope, mlp, residual });
    } finally {
      if (!recorded) { await dev.popErrorScope(); await dev.popErrorScope(); }
      if (!cache) kv.length = 0;
      for (const b of [...reads, ...tmp]) b.destroy();
    }
  }

  /** Every dispatch and read-back copy of one pass into one encoder, submitted once. -> what to read. */
  record(ids, { T, past, kv, a, keep, residual, rope, mlp, logits, tmp, reads }) {
    const c = this.config, D = c.hidden_size, L = c.num_hidden_layers, V = c.vocab_size, I = c.intermediate_size;
    const H = c.num_attention_heads, KV = c.num_key_value_heads, hd = c.head_dim, qw = H * hd, kw = KV * hd;
    const dev = this.device, Tk = past + T, R = T === 1 ? 1 : 4, plan = this.plan(kv);
    dev.queue.writeBuffer(this.step, 0, Uint32Array.of(T, past, 0, 0));
    dev.queue.writeBuffer(a.ids, 0, Uint32Array.from(ids));
    dev.queue.writeBuffer(a.cs, 0, this.angles(past, T));

    const enc = dev.createCommandEncoder();
    let pass = null;
    const run = (op) => {
      if (Array.isArray(op)) { op.forEach(run); return; }
      pass = pass || enc.beginComputePass();
      const wg = Math.max(1, Math.ceil(op.threads(T) / 64)), x = Math.min(wg, 65535);
      pass.setPipeline(op.pipeline);
      pass.setBindGroup(0, op.bind);
      pass.dispatchWorkgroups(x, Math.ceil(wg / x));
    };
    const read = (src, floats, offset = 0) => {
      if (pass) { pass.end(); pass = null; }
      const dst = this.buffer(floats, USAGE().read);
      enc.copyBufferToBuffer(src, offset * 4, dst, 0, floats * 4);
      reads.push(dst);
      return { dst, n: floats };
    };
    const want = { residual: residual ? [] : null, attention: [], rope: null, mlp: null };

    run(plan.embed);
    if (residual) want.residual.push(read(a.x, T * D));
    for (let l = 0; l < L; l++) {
      const p = plan.layers[l];
      run([p.ln1, p.qkv[R], p.rope]);
      if (rope === l) {
        want.rope = { layer: l, q: read(a.qr, T * qw), k: read(kv.keys[l], T * kw, past * kw), qRaw: read(a.q, T * qw), kRaw: read(a.k, T * kw) };
      }
      if (keep.has(l)) {
        const bytes = H * T * Tk * 4;
        if (bytes > this.limit) throw new RangeError(`attention probabilities of layer ${l} for ${T} tokens need ${MiB(bytes)}; this GPU binds at most ${MiB(this.limit)}`);
        const probs = this.buffer(H * T * Tk), params = this.uniform([H, KV]);
        tmp.push(probs, params);
        run(this.op("attend-true", params, [a.qr, kv.keys[l], kv.values[l], a.heads, probs], () => H * T));
        want.attention.push(read(probs, H * T * Tk));
      } else {
        run(p.attend);
        want.attention.push(null);
      }
      run([p.o[R], p.ln2, p.gateUp[R], p.swiglu]);
      if (mlp === l) want.mlp = { layer: l, gate: read(a.gate, T * I), up: read(a.up, T * I), act: read(a.act, T * I), mid: read(a.x, T * D) };
      run(p.down[R]);
      if (mlp === l) want.mlp.after = read(a.x, T * D);
      if (residual) want.residual.push(read(a.x, T * D));
    }
    run(plan.norm);
    want.norm = read(a.norm, T * D);
    const rows = logits === "last" ? 1 : T;
    if (logits === "last") {
      const head = this.lastHead();
      run(head.ops);
      want.logits = [{ read: read(head.out, V), rows: 1, r0: 0 }];
    } else {
      want.logits = this.allHead(T, tmp).map((chunk) => { run(chunk.ops); return { ...chunk, read: read(chunk.out, chunk.rows * chunk.N) }; });
    }
    if (pass) pass.end();
    dev.queue.submit([enc.finish()]);
    return want;
  }

  /** Waits for the pass, checks the error scopes, maps the read-backs -> the forward's result. */
  async finish(want, { cache, kv, past, T, ids, logits, rope, mlp, residual }) {
    const dev = this.device, invalid = await dev.popErrorScope(), oom = await dev.popErrorScope();
    if (oom) throw new Error(`the GPU ran out of memory for this pass: ${oom.message}`);
    if (invalid) throw new Error(`WebGPU refused the pass: ${invalid.message}`);
    const reads = [want.norm, ...want.logits.map((g) => g.read), ...(want.residual || []), ...want.attention.filter(Boolean),
      ...(want.rope ? Object.values(want.rope).filter((r) => r && r.dst) : []), ...(want.mlp ? Object.values(want.mlp).filter((r) => r && r.dst) : [])];
    await Promise.all(reads.map((r) => r.dst.mapAsync(GPUMapMode.READ)));
    if (this.lost) throw new Error(`the WebGPU device was lost (${this.lost})`);
    const take = (r) => (r ? new Float32Array(r.dst.getMappedRange().slice(0, r.n * 4)) : null);
    if (cache) kv.length = past + T;
    const rows = logits === "last" ? 1 : T;
    const out = { past, T, positions: Int32Array.from(ids, (_, t) => past + t), logitRows: rows };
    out.residual = residual ? want.residual.map(take) : null;
    out.attention = want.attention.map(take);
    if (want.rope) out.rope = { layer: rope, q: take(want.rope.q), k: take(want.rope.k), qRaw: take(want.rope.qRaw), kRaw: take(want.rope.kRaw), invFreq: this.invFreq };
    if (want.mlp) {
      const mid = take(want.mlp.mid), after = take(want.mlp.after);
      out.mlp = { layer: mlp, gate: take(want.mlp.gate), up: take(want.mlp.up), act: take(want.mlp.act), mid, down: after.map((v, i) => v - mid[i]) };
    }
    out.norm = take(want.norm);
    out.logits = logits === "last" ? take(want.logits[0].read) : this.assemble(want.logits.map((g) => ({ ...g, data: take(g.read) })), rows);
    return out;
  }

  /** cos then sin of the hd/2 RoPE angles for positions past .. past+T-1, [T, hd], float32 as transformers rounds them. */
  angles(past, T) {
    const half = this.config.head_dim / 2, out = new Float32Array(T * 2 * half);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(this.invFreq[i] * (past + t));
        out[t * 2 * half + i] = Math.cos(angle);
        out[t * 2 * half + half + i] = Math.sin(angle);
      }
    }
    return out;
  }

  /**
   * The head for all T rows: one output buffer per (chunk of rows, part of lm_head), each within the
   * binding limit. -> [{ops, out, rows, r0 (first row), n0 (first vocabulary entry), N}]; buffers go in tmp.
   */
  allHead(T, tmp, input = this.acts.buf.norm) {
    const out = [], D = this.config.hidden_size;
    for (const p of this.w.head.parts) {
      const N = p.r1 - p.r0, per = Math.max(1, Math.floor(this.limit / (4 * N)));
      for (let r0 = 0; r0 < T; r0 += per) {
        const rows = Math.min(per, T - r0), buf = this.buffer(rows * N), params = this.uniform([D, N, N, 0, 0, 0, rows, r0]);
        tmp.push(buf, params);
        const R = rows === 1 ? 1 : 4;
        const op = this.op(linearKey(this.w.head.dtype, R, this.w.head.vec4), params, [input, p.buffer, buf], () => linearThreads(rows, N, R));
        out.push({ ops: [op], out: buf, rows, r0, n0: p.r0, N });
      }
    }
    return out;
  }

  /** Pieces [rows, N] at (r0, n0) -> logits [T, V]. */
  assemble(pieces, T) {
    const V = this.config.vocab_size, out = new Float32Array(T * V);
    for (const g of pieces) for (let r = 0; r < g.rows; r++) out.set(g.data.subarray(r * g.N, (r + 1) * g.N), (g.r0 + r) * V + g.n0);
    return out;
  }

  /** The head's logits for any residual row [d] (the logit lens), on the host's copy of the weights. */
  lens(row) {
    const c = this.config;
    return linear(rmsNorm(row, this.host.norm, 1, c.hidden_size, c.rms_norm_eps), this.host.head, 1, c.hidden_size, c.vocab_size);
  }

  /**
   * The logit lens of several residual rows in one submission on the GPU: rows [n][d] -> [n][V] (final
   * RMSNorm, then lm_head). What lens() does row by row on the host, where TinyLlama's head costs 65 M
   * multiply-adds a row in JavaScript.
   */
  lensRows(rows) {
    const run = this.busy.then(() => this.lensPass(rows));
    this.busy = run.catch(() => {});
    return run;
  }

  async lensPass(rows) {
    const D = this.config.hidden_size, V = this.config.vocab_size, n = rows.length, dev = this.device, tmp = [];
    if (!n) return [];
    if (n * D * 4 > this.limit) throw new RangeError(`${n} rows of ${D} values pass what this GPU binds (${MiB(this.limit)}): fewer at a time`);
    const flat = new Float32Array(n * D);
    rows.forEach((r, i) => {
      if (r.length !== D) throw new RangeError(`a residual row has ${D} values, not ${r.length}`);
      flat.set(r, i * D);
    });
    const x = this.buffer(n * D), y = this.buffer(n * D), params = this.uniform([D, { f32: this.config.rms_norm_eps }]);
    tmp.push(x, y, params);
    try {
      dev.queue.writeBuffer(x, 0, flat);
      dev.queue.writeBuffer(this.step, 0, Uint32Array.of(n, 0, 0, 0));      // the norm's row count; every forward writes its own
      const chunks = this.allHead(n, tmp, y), enc = dev.createCommandEncoder(), pass = enc.beginComputePass();
      for (const op of [this.op("rmsnorm", params, [x, this.w.norm, y], () => n), ...chunks.flatMap((g) => g.ops)]) {
        const wg = Math.max(1, Math.ceil(op.threads(n) / 64)), gx = Math.min(wg, 65535);
        pass.setPipeline(op.pipeline);
        pass.setBindGroup(0, op.bind);
        pass.dispatchWorkgroups(gx, Math.ceil(wg / gx));
      }
      pass.end();
      for (const g of chunks) {
        g.dst = this.buffer(g.rows * g.N, USAGE().read);
        tmp.push(g.dst);
        enc.copyBufferToBuffer(g.out, 0, g.dst, 0, g.rows * g.N * 4);
      }
      dev.queue.submit([enc.finish()]);
      await Promise.all(chunks.map((g) => g.dst.mapAsync(GPUMapMode.READ)));
      if (this.lost) throw new Error(`the WebGPU device was lost (${this.lost})`);
      const all = this.assemble(chunks.map((g) => ({ ...g, data: new Float32Array(g.dst.getMappedRange().slice(0)) })), n);
      return Array.from({ length: n }, (_, i) => all.slice(i * V, (i + 1) * V));
    } finally {
      for (const b of tmp) b.destroy();
    }
  }

  /** Greedy decoding (llama-js.js's greedy()): the argmax of the last row's logits, one token at a time. */
  generate(ids, opts) { return greedy(this, ids, opts); }

  /** Frees the device's buffers (and the device, when createLlamaGPU asked for it). */
  destroy(device = this.ownsDevice) {
    if (device) { this.device.destroy(); return; }
    const bufs = [this.step, this.acts && Object.values(this.acts.buf), this.lastHeadOps?.out, this.w?.norm,
      ...(this.w?.layers || []).flatMap((l) => Object.values(l).map((m) => m.parts ? m.parts.map((p) => p.buffer) : m)),
      this.w?.embed?.parts.map((p) => p.buffer), !this.tied && this.w?.head?.parts.map((p) => p.buffer)].flat(2);
    for (const b of bufs) if (b && b.destroy) b.destroy();
    this.scratch?.destroy();
  }
}
