// The WebGPU engine: the CPU engine's forward, backward and AdamW as WGSL compute
// shaders (kernels.js), one command buffer per training step.
//
// For each batch shape a "plan" allocates the activation buffers and records every
// dispatch once; a step then uploads the ids, writes AdamW's step constants and
// submits. Each step reads back the loss and the weights before and after the
// update (the host copy that toJSON(), inference and a device-loss fallback use).
// Not handled: several models sharing a device; shapes whose buffers pass the
// device's storage-buffer limit (the plan's creation fails with the device's message).

import { KERNELS } from "./kernels.js";
import { layout } from "./layout.js";

const S = GPUBufferUsageOr();

function GPUBufferUsageOr() {
  const u = globalThis.GPUBufferUsage;
  return u ? { storage: u.STORAGE | u.COPY_SRC | u.COPY_DST, uniform: u.UNIFORM | u.COPY_DST, read: u.MAP_READ | u.COPY_DST } : null;
}

/** A WebGPU engine, or an Error saying why there is none. */
export async function createGPUEngine(config, params, gpu) {
  if (!gpu) throw new Error("this browser has no WebGPU (navigator.gpu is missing)");
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error("WebGPU is present but offered no adapter (blocked or no usable GPU)");
  const device = await adapter.requestDevice();
  const info = adapter.info || {};
  const engine = new GPUEngine(config, params, device, [info.vendor, info.architecture, info.description].filter(Boolean).join(" ") || "unknown adapter");
  await engine.compile();
  return engine;
}

class GPUEngine {
  constructor(config, params, device, adapterName) {
    this.config = config;
    this.layout = layout(config);
    this.device = device;
    this.adapterName = adapterName;
    this.lost = null;
    device.lost.then((info) => { this.lost = info.message || info.reason || "device lost"; });
    const n = this.layout.total * 4;
    this.params = this.buffer(n);
    this.grads = this.buffer(n);
    this.moment1 = this.buffer(n);
    this.moment2 = this.buffer(n);
    this.dummy = this.buffer(16);
    this.adamStep = 0;
    this.adamUniform = device.createBuffer({ size: 64, usage: S.uniform });
    this.hostParams = Float32Array.from(params);
    device.queue.writeBuffer(this.params, 0, this.hostParams);
    this.plans = new Map();
  }

  get kind() { return "webgpu"; }

  buffer(bytes) { return this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 4) * 4), usage: S.storage }); }

  async compile() {
    this.device.pushErrorScope("validation");
    this.pipelines = {};
    for (const [name, code] of Object.entries(KERNELS)) {
      const module = this.device.createShaderModule({ code, label: name });
      this.pipelines[name] = await this.device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" }, label: name });
    }
    const err = await this.device.popErrorScope();
    if (err) throw new Error(`WebGPU rejected the shaders: ${err.message}`);
  }

  /** A dispatch: kernel name, uniform values ({f: x} for an f32), storage buffers in binding order, thread count or [x, y] workgroups. */
  op(name, values, buffers, threads) {
    const data = new ArrayBuffer(64), u32 = new Uint32Array(data), f32 = new Float32Array(data);
    values.forEach((v, i) => { if (typeof v === "object") f32[i] = v.f; else u32[i] = v; });
    const ub = this.device.createBuffer({ size: 64, usage: S.uniform });
    this.device.queue.writeBuffer(ub, 0, data);
    return this.opWith(name, ub, buffers, threads);
  }

  opWith(name, uniform, buffers, threads) {
    const pipeline = this.pipelines[name];
    const entries = [{ binding: 0, resource: { buffer: uniform } }, ...buffers.map((b, i) => ({ binding: i + 1, resource: { buffer: b } }))];
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    let groups = threads;
    if (!Array.isArray(threads)) {
      const wg = Math.max(1, Math.ceil(threads / 64)), x = Math.min(wg, 65535);
      groups = [x, Math.ceil(wg / x)];
    }
    return { pipeline, bindGroup, groups };
  }

  /** C = op(A) @ op(B) (+ D), offsets in floats. */
  mm(C, A, B, M, K, N, { tA = 0, tB = 0, offA = 0, offB = 0, offC = 0, D = null } = {}) {
    const u = [M, K, N, tA, tB, D ? 1 : 0, offA, offB, offC, 0], bufs = [A, B, D || this.dummy, C];
    if (M % 4 === 0 && N % 4 === 0) return this.op("matmul4", u, bufs, (M * N) / 16);
    return this.op("matmulDirect", u, bufs, M * N);
  }

  plan(B, T, train) {
    const key = `${B}x${T}${train ? "t" : "f"}`;
    if (!this.plans.has(key)) {
      this.device.pushErrorScope("validation");
      this.plans.set(key, this.build(B, T, train));
    }
    return this.plans.get(key);
  }

  build(B, T, train) {
    const { d_model: d, d_ff: F, n_layers: L, vocab_size: V, n_heads: H } = this.config, N = B * T;
    const off = (name) => this.layout.byName[name].offset, P = this.params, G = this.grads;
    const buf = (floats) => this.buffer(floats * 4);
    const p = { B, T, N, ids: buf(N), targets: buf(N), ops: [], back: [] };
    p.tokOffsets = buf(V + 1);
    p.tokPositions = buf(N);
    const xs = [buf(N * d)], layers = [];
    p.ops.push(this.op("embed", [N, T, d, off("tok_emb"), off("pos_emb")], [p.ids, P, xs[0]], N * d));
    for (let i = 0; i < L; i++) {
      const w = (s) => off(`layers.${i}.${s}`);
      const a = { ln1: buf(N * d), s1: buf(2 * N), qkv: buf(N * 3 * d), probs: buf(B * H * T * T), heads: buf(N * d),
        mid: buf(N * d), ln2: buf(N * d), s2: buf(2 * N), pre: buf(N * F), act: buf(N * F) };
      xs.push(buf(N * d));
      p.ops.push(
        this.op("layernorm", [N, d, w("ln1.weight"), w("ln1.bias")], [xs[i], P, a.ln1, a.s1], N),
        this.mm(a.qkv, a.ln1, P, N, d, 3 * d, { offB: w("attn.w_qkv") }),
        this.op("attention", [B, T, d, H], [a.qkv, a.probs, a.heads], B * H * T),
        this.mm(a.mid, a.heads, P, N, d, d, { offB: w("attn.w_out"), D: xs[i] }),
        this.op("layernorm", [N, d, w("ln2.weight"), w("ln2.bias")], [a.mid, P, a.ln2, a.s2], N),
        this.mm(a.pre, a.ln2, P, N, d, F, { offB: w("ffn.w1") }),
        this.op("gelu", [N * F], [a.pre, a.act], N * F),
        this.mm(xs[i + 1], a.act, P, N, F, d, { offB: w("ffn.w2"), D: a.mid }));
      layers.push(a);
    }
    const lnf = buf(N * d), sf = buf(2 * N);
    p.logits = buf(N * V);
    p.ops.push(
      this.op("layernorm", [N, d, off("ln_f.weight"), off("ln_f.bias")], [xs[L], P, lnf, sf], N),
      this.mm(p.logits, lnf, P, N, d, V, { offB: off("tok_emb"), tB: 1 }));
    p.readLogits = this.device.createBuffer({ size: N * V * 4, usage: S.read });
    if (train) this.buildBackward(p, xs, layers, lnf, sf);
    return p;
  }

  buildBackward(p, xs, layers, lnf, sf) {
    const { d_model: d, d_ff: F, n_layers: L, vocab_size: V, n_heads: H } = this.config;
    const { B, T, N } = p, P = this.params, G = this.grads;
    const off = (name) => this.layout.byName[name].offset;
    const buf = (floats) => this.buffer(floats * 4);
    const rowloss = buf(N), dh = buf(N * d), dx = buf(N * d), dact = buf(N * F), dheads = buf(N * d),
      dqkv = buf(N * 3 * d), dS = buf(B * H * T * T);
    p.loss = buf(4);
    p.dx = dx;
    const ops = p.back;
    ops.push(
      this.op("crossentropy", [N, V], [p.logits, p.targets, rowloss], N),
      this.op("meanloss", [N], [rowloss, p.loss], [1, 1]),
      this.mm(G, p.logits, lnf, V, N, d, { tA: 1, offC: off("tok_emb") }),          // head: dE = dlogitsᵀ h
      this.mm(dh, p.logits, P, N, V, d, { offB: off("tok_emb") }),
      this.op("lnBackX", [N, d, off("ln_f.weight")], [dh, xs[L], sf, P, dx], N),
      this.op("lnBackW", [N, d, off("ln_f.weight"), off("ln_f.bias")], [dh, xs[L], sf, G], d));
    for (let i = L - 1; i >= 0; i--) {
      const a = layers[i], w = (s) => off(`layers.${i}.${s}`);
      ops.push(
        this.mm(G, a.act, dx, F, N, d, { tA: 1, offC: w("ffn.w2") }),
        this.mm(dact, dx, P, N, d, F, { tB: 1, offB: w("ffn.w2") }),
        this.op("geluBack", [N * F], [a.pre, dact], N * F),
        this.mm(G, a.ln2, dact, d, N, F, { tA: 1, offC: w("ffn.w1") }),
        this.mm(dh, dact, P, N, F, d, { tB: 1, offB: w("ffn.w1") }),
        this.op("lnBackX", [N, d, w("ln2.weight")], [dh, a.mid, a.s2, P, dx], N),
        this.op("lnBackW", [N, d, w("ln2.weight"), w("ln2.bias")], [dh, a.mid, a.s2, G], d),
        this.mm(G, a.heads, dx, d, N, d, { tA: 1, offC: w("attn.w_out") }),
        this.mm(dheads, dx, P, N, d, d, { tB: 1, offB: w("attn.w_out") }),
        this.op("attnBackRows", [B, T, d, H], [dheads, a.qkv, a.probs, dS, dqkv], B * H * T),
        this.op("attnBackCols", [B, T, d, H], [dheads, a.qkv, a.probs, dS, dqkv], B * H * T),
        this.mm(G, a.ln1, dqkv, d, N, 3 * d, { tA: 1, offC: w("attn.w_qkv") }),
        this.mm(dh, dqkv, P, N, 3 * d, d, { tB: 1, offB: w("attn.w_qkv") }),
        this.op("lnBackX", [N, d, w("ln1.weight")], [dh, xs[i], a.s1, P, dx], N),
        this.op("lnBackW", [N, d, w("ln1.weight"), w("ln1.bias")], [dh, xs[i], a.s1, G], d));
    }
    ops.push(
      this.op("embedBackTok", [V, d, off("tok_emb")], [p.tokOffsets, p.tokPositions, dx, G], V * d),
      this.op("embedBackPos", [B, T, d, off("pos_emb")], [dx, G], T * d));
    p.adam = this.opWith("adamw", this.adamUniform, [P, G, this.moment1, this.moment2], this.layout.total);
    const n = this.layout.total * 4;
    p.readLoss = this.device.createBuffer({ size: 16, usage: S.read });
    p.readBefore = this.device.createBuffer({ size: n, usage: S.read });
    p.readAfter = this.device.createBuffer({ size: n, usage: S.read });
    p.readGrads = this.device.createBuffer({ size: n, usage: S.read });
  }

  async ready(p) {
    if (p.checked) return;
    const err = await this.device.popErrorScope();
    if (err) throw new Error(`WebGPU could not set up a ${p.B}×${p.T} batch: ${err.message}`);
    p.checked = true;
  }

  check() { if (this.lost) throw new Error(`the WebGPU device was lost (${this.lost})`); }

  upload(p, inputs, targets) {
    const q = this.device.queue;
    q.writeBuffer(p.ids, 0, Uint32Array.from(inputs));
    if (!targets) return;
    q.writeBuffer(p.targets, 0, Uint32Array.from(targets));
    // counting sort of positions by token, for the embedding gradient
    const V = this.config.vocab_size, offsets = new Uint32Array(V + 1), positions = new Uint32Array(inputs.length);
    for (const id of inputs) offsets[id + 1]++;
    for (let v = 0; v < V; v++) offsets[v + 1] += offsets[v];
    const fill = offsets.slice(0, V);
    inputs.forEach((id, n) => { positions[fill[id]++] = n; });
    q.writeBuffer(p.tokOffsets, 0, offsets);
    q.writeBuffer(p.tokPositions, 0, positions);
  }

  pass(encoder, ops) {
    const pass = encoder.beginComputePass();
    for (const o of ops) {
      pass.setPipeline(o.pipeline);
      pass.setBindGroup(0, o.bindGroup);
      pass.dispatchWorkgroups(o.groups[0], o.groups[1]);
    }
    pass.end();
  }

  async forward(ids, B, T) {
    this.check();
    const p = this.plan(B, T, false);
    await this.ready(p);
    this.upload(p, ids, null);
    const enc = this.device.createCommandEncoder();
    this.pass(enc, p.ops);
    enc.copyBufferToBuffer(p.logits, 0, p.readLogits, 0, p.N * this.config.vocab_size * 4);
    this.device.queue.submit([enc.finish()]);
    return (await this.read(p.readLogits))[0];
  }

  async lossAndGrads(inputs, targets, B, T) {
    this.check();
    const p = this.plan(B, T, true);
    await this.ready(p);
    this.upload(p, inputs, targets);
    const enc = this.device.createCommandEncoder();
    enc.clearBuffer(this.grads);
    enc.clearBuffer(p.dx);                       // the residual gradient accumulates per layer
    this.pass(enc, [...p.ops, ...p.back]);
    enc.copyBufferToBuffer(p.loss, 0, p.readLoss, 0, 16);
    enc.copyBufferToBuffer(this.grads, 0, p.readGrads, 0, this.layout.total * 4);
    this.device.queue.submit([enc.finish()]);
    const [loss, grads] = await this.read(p.readLoss, p.readGrads);
    return { loss: loss[0], grads };
  }

  async trainStep(inputs, targets, B, T, { lr, weightDecay, beta1, beta2, eps }) {
    this.check();
    const p = this.plan(B, T, true);
    await this.ready(p);
    this.upload(p, inputs, targets);
    const t = this.adamStep + 1, bc1 = 1 - beta1 ** t;
    const u = new ArrayBuffer(64), u32 = new Uint32Array(u), f32 = new Float32Array(u);
    u32[0] = this.layout.total;
    f32.set([1 - lr * weightDecay, beta1, beta2, eps, lr / bc1, Math.sqrt(1 - beta2 ** t)], 1);
    this.device.queue.writeBuffer(this.adamUniform, 0, u);
    const n = this.layout.total * 4, enc = this.device.createCommandEncoder();
    enc.clearBuffer(this.grads);
    enc.clearBuffer(p.dx);                       // the residual gradient accumulates per layer
    this.pass(enc, [...p.ops, ...p.back]);
    enc.copyBufferToBuffer(this.params, 0, p.readBefore, 0, n);
    this.pass(enc, [p.adam]);
    enc.copyBufferToBuffer(this.params, 0, p.readAfter, 0, n);
    enc.copyBufferToBuffer(p.loss, 0, p.readLoss, 0, 16);
    this.device.queue.submit([enc.finish()]);
    const [loss, before, after] = await this.read(p.readLoss, p.readBefore, p.readAfter);
    this.adamStep = t;
    if (!Number.isFinite(loss[0])) return { loss: loss[0] };
    this.hostParams = after;
    return { loss: loss[0], before };
  }

  /** Copies of mappable buffers' contents, after the queue's work is done. */
  async read(...buffers) {
    await Promise.all(buffers.map((b) => b.mapAsync(GPUMapMode.READ)));
    this.check();
    return buffers.map((b) => { const copy = new Float32Array(b.getMappedRange().slice(0)); b.unmap(); return copy; });
  }

  async setParams(flat) {
    this.check();
    this.hostParams = Float32Array.from(flat);
    this.device.queue.writeBuffer(this.params, 0, this.hostParams);
    const enc = this.device.createCommandEncoder();
    enc.clearBuffer(this.moment1);
    enc.clearBuffer(this.moment2);
    this.device.queue.submit([enc.finish()]);
    this.adamStep = 0;
    await this.device.queue.onSubmittedWorkDone();
  }

  destroy() { this.device.destroy(); }
}
