// GPT-2-family checkpoints in the page (CONTRACTS §7): distilgpt2 first.
//
//   import { parseSafetensors, createGPT2 } from "./gpt2.js";
//   const m = await createGPT2(parseSafetensors(bytes), { backend: "webgpu" });   // or "cpu"
//   const cache = m.newCache();
//   const out = await m.forward(ids, { cache });    // {logits [T × V], residual, attention, ...}
//
// The same arithmetic as the book's tiny model (the CPU engine's kernels in linalg.js,
// the WGSL kernels in kernels.js), with GPT-2's biases, its checkpoint's names and a
// KV cache. The CPU engine keeps the weights in WebAssembly memory (GPT2Wasm): placed
// once at load, read in place by simd.wat's kernels, so a generated token streams each
// weight once; JavaScript does the small rest (LayerNorm, biases, copying rows out). Where
// WebAssembly SIMD is missing (or setKernel("js")), GPT2JS runs the same pass in JavaScript.
// Names are mapped in one place, gpt2Weights(). Where threads can run (pool.js: a cross-origin
// isolated page; Node when asked) the weights sit in a shared memory and every big product
// is split by columns across a small pool; m.threads says how many run and m.threadsWhy why
// only one. Not handled: batches, dropout, training (the tiny model's engines train),
// positions past n_positions (the caller cuts the prompt), checkpoints whose head size is
// not 64 without opts.n_head, threads for the JavaScript fallback or the small steps.

import { layerNorm } from "./cpu.js";
import { checkIds, embed, gpt2Shapes, KVCache, keptLayers, lens, tiedHead } from "./gpt2-common.js";
import { createGPT2GPU } from "./gpt2-webgpu.js";
import { activeKernel, attentionWasm, gelu, matmul, sharedArena, transpose, wasmArena } from "./linalg.js";
import { Pool, poolPlan } from "./pool.js";

export { checkIds, gpt2Shapes, KVCache, keptLayers } from "./gpt2-common.js";
export { parseSafetensors, SafetensorsError } from "./safetensors.js";

export class CheckpointError extends Error {}

const LAYER_TENSORS = ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
  "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"];
const IGNORED = /^h\.\d+\.attn\.(bias|masked_bias)$|^lm_head\.weight$/;   // causal-mask buffers; the head is wte

/**
 * The one place checkpoint names meet the engine: Map from parseSafetensors ->
 * {config, w: {wte, wpe, lnf: [w, b], layers: [{ln1, attn, proj, ln2, fc, fc2}]}}, each a
 * [weight, bias] pair of Float32Arrays. Throws CheckpointError naming what does not fit.
 */
export function gpt2Weights(tensors, { n_head } = {}) {
  const t = new Map();
  for (const [name, v] of tensors) t.set(name.replace(/^transformer\./, ""), v);
  const need = (name) => {
    if (!t.has(name)) throw new CheckpointError(`this is not a GPT-2 checkpoint: it has no tensor ${name}`);
    return t.get(name);
  };
  const wte = need("wte.weight"), wpe = need("wpe.weight");
  if (wte.shape.length !== 2 || wpe.shape.length !== 2 || wte.shape[1] !== wpe.shape[1]) {
    throw new CheckpointError(`wte ${JSON.stringify(wte.shape)} and wpe ${JSON.stringify(wpe.shape)} are not a GPT-2's embeddings`);
  }
  let n_layer = 0;
  while (t.has(`h.${n_layer}.ln_1.weight`)) n_layer++;
  const n_embd = wte.shape[1], config = { vocab_size: wte.shape[0], n_positions: wpe.shape[0], n_embd, n_layer, n_head: n_head || n_embd / 64 };
  if (!n_layer) throw new CheckpointError("this is not a GPT-2 checkpoint: it has no layers (h.0.ln_1.weight)");
  if (!Number.isInteger(config.n_head) || n_embd % config.n_head) throw new CheckpointError(`n_embd ${n_embd} does not split into heads of 64; pass n_head`);
  const shapes = gpt2Shapes(config);
  for (const name of t.keys()) {
    if (!(name in shapes) && !IGNORED.test(name)) throw new CheckpointError(`tensor ${name} is not part of a GPT-2 checkpoint with ${n_layer} layers`);
  }
  for (const [name, shape] of Object.entries(shapes)) {
    const got = need(name).shape;
    if (got.length !== shape.length || got.some((s, i) => s !== shape[i])) {
      throw new CheckpointError(`tensor ${name} has shape ${JSON.stringify(got)}; a GPT-2 with n_embd ${n_embd} needs ${JSON.stringify(shape)}`);
    }
  }
  const pair = (p) => [need(`${p}.weight`).data, need(`${p}.bias`).data];
  const layers = Array.from({ length: n_layer }, (_, i) => ({
    ln1: pair(`h.${i}.ln_1`), attn: pair(`h.${i}.attn.c_attn`), proj: pair(`h.${i}.attn.c_proj`),
    ln2: pair(`h.${i}.ln_2`), fc: pair(`h.${i}.mlp.c_fc`), fc2: pair(`h.${i}.mlp.c_proj`),
  }));
  return { config, w: { wte: wte.data, wpe: wpe.data, lnf: pair("ln_f"), layers } };
}

/** A model on the asked-for backend; WebGPU falls back to the CPU, m.fallback saying why.
 *  threads: the CPU engine's, "auto" or a count (pool.js poolPlan). */
export async function createGPT2(tensors, { backend = "webgpu", n_head, gpu = globalThis.navigator && navigator.gpu, threads = "auto" } = {}) {
  const { config, w } = gpt2Weights(tensors, { n_head });
  const plan = poolPlan(threads);
  if (backend === "webgpu") {
    try {
      return await createGPT2GPU(config, w, gpu);
    } catch (err) {
      const m = await createCPU(config, w, plan);
      m.fallback = err.message;
      return m;
    }
  }
  if (backend !== "cpu") throw new Error(`backend must be "webgpu" or "cpu", not ${JSON.stringify(backend)}`);
  return createCPU(config, w, plan);
}

/** GPT2Wasm where WebAssembly SIMD runs and its memory can grow to hold the weights, else GPT2JS.
 *  With plan.threads > 1, GPT2Wasm on a shared memory with a pool; one thread if that fails. */
async function createCPU(config, w, plan) {
  const wasm = activeKernel() === "wasm" && config.n_embd % 8 === 0;
  let why = wasm ? plan.why : "no WebAssembly SIMD";
  if (wasm && plan.threads > 1) {
    let pool = null;
    try {
      const size = GPT2Wasm.floats(config), arena = await sharedArena(size.fixed + size.frame(4, 4), size.fixed + size.maxFrame);
      if (arena) {
        pool = await Pool.start(arena, plan.threads);
        return new GPT2Wasm(config, w, arena, pool);
      }
      why = "no shared WebAssembly memory here";
    } catch (err) {
      if (pool) pool.close();
      why = `threads could not start: ${err.message}`;
    }
  }
  const arena = wasm && (await wasmArena());
  if (!arena) return threaded(new GPT2JS(config, w), why);
  try {
    return threaded(new GPT2Wasm(config, w, arena), why);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;      // memory.grow refused: the browser's limit
    const m = new GPT2JS(config, w);
    m.kernelFallback = err.message;
    return threaded(m, why);
  }
}

function threaded(m, why) {
  m.threadsWhy = why;
  return m;
}

function addBias(x, b, rows, n) {
  for (let r = 0; r < rows; r++) for (let c = 0, o = r * n; c < n; c++) x[o + c] += b[c];
}

function linear(x, [W, b], rows, nIn, nOut, into = null) {
  const y = into || new Float32Array(rows * nOut);
  matmul(y, x, W, rows, nIn, nOut, Boolean(into));   // into: y += x W
  addBias(y, b, rows, nOut);
  return y;
}

/** The CPU engine in JavaScript (and the old WebAssembly kernels that copy their operands):
 *  the fallback where WebAssembly SIMD is missing, and the reference the tests hold GPT2Wasm to. */
class GPT2JS {
  constructor(config, w) {
    this.kernel = "js";
    this.config = config;
    this.w = w;
    this.wteT = null;       // [d, V], made on the first prompt of 4+ tokens
    this.threads = 1;
  }

  get backend() { return "cpu"; }

  newCache() { return new KVCache(this.config); }

  /**
   * ids [T] -> {logits [rows × V], logitRows, embeddings {token, position} [T, d], residual [L+1][T, d],
   * attention [L][H, T, past+T] (kept layers, else null), qkv [L][T, 3d], lnf [T, d], past}.
   * opts: cache (a KVCache, extended), logits "all" | "last", attention "all" | "none" | [layers].
   */
  async forward(ids, { cache = null, logits = "all", attention } = {}) {
    const { n_embd: d, n_layer: L, n_head: H } = this.config, w = this.w;
    const past = cache ? cache.length : 0;
    ids = checkIds(ids, this.config, past);
    const T = ids.length, keep = keptLayers(attention, L);
    const { token, position } = embed(w, ids, past, d), x = new Float32Array(T * d);
    for (let i = 0; i < T * d; i++) x[i] = token[i] + position[i];
    const out = { past, T, embeddings: { token, position }, residual: [x.slice()], attention: [], qkv: [] };
    for (let l = 0; l < L; l++) {
      const lw = w.layers[l];
      const qkv = linear(layerNorm(x, lw.ln1[0], lw.ln1[1], T, d).y, lw.attn, T, d, 3 * d);   // [T, 3d]
      const att = attend(qkv, T, past, this.config, cache && { keys: cache.keys[l], values: cache.values[l] });
      linear(att.out, lw.proj, T, d, d, x);                                                  // x += heads W + b
      const h = gelu(linear(layerNorm(x, lw.ln2[0], lw.ln2[1], T, d).y, lw.fc, T, d, 4 * d)).y;
      linear(h, lw.fc2, T, 4 * d, d, x);
      out.qkv.push(qkv);
      out.attention.push(keep.has(l) ? att.probs : null);
      out.residual.push(x.slice());
    }
    if (cache) cache.length = past + T;
    out.lnf = layerNorm(x, w.lnf[0], w.lnf[1], T, d).y;
    out.logitRows = logits === "last" ? 1 : T;
    out.logits = this.head(out.lnf.subarray((T - out.logitRows) * d), out.logitRows);
    return out;
  }

  /** rows of LN_f output [rows, d] -> logits [rows, V] = x wteᵀ (the tied head). */
  head(x, rows) {
    const { n_embd: d, vocab_size: V } = this.config;
    if (rows < 4) return tiedHead(this.w.wte, x, rows, d);
    this.wteT = this.wteT || transpose(new Float32Array(d * V), this.w.wte, V, d);
    const y = new Float32Array(rows * V);
    matmul(y, x, this.wteT, rows, d, V);
    return y;
  }

  /** The head's logits for any residual row (the logit lens): LN_f then wteᵀ. */
  lens(row) { return lens(this.w, row, this.config.n_embd); }
}

const K_SLICE = 256;                                 // rows of W per gemm_cols call (gemmRows)

/**
 * The CPU engine on WebAssembly. Memory, in floats: the four Conv1D weights of every layer
 * in the checkpoint's [in, out] layout, wteᵀ [d, Vp] (the tied head as an [in, out] weight,
 * V padded to a multiple of 8 with zero columns), the KV rows of one cache [L][K | V][C, d],
 * a row in and a row of logits for the head, then a frame for one forward's activations
 * (rows padded to a multiple of 4; the padded rows are computed and never read).
 * The KV cache a caller holds (KVCache, rows on the host) is mirrored here: a forward on the
 * cache the memory last saw appends to it in place; another cache is copied in first.
 */
class GPT2Wasm {
  constructor(config, w, arena, pool = null) {
    const { n_embd: d, n_layer: L, n_positions: C, vocab_size: V } = config;
    this.config = config;
    this.w = w;
    this.kernel = "wasm";
    this.a = arena;
    this.pool = pool;                                // null: one thread
    this.threads = pool ? pool.size : 1;
    this.threadsWhy = null;
    this.Vp = Math.ceil(V / 8) * 8;
    const put = (src) => { const at = arena.alloc(src.length); arena.f.set(src, at); return at; };
    this.layers = w.layers.map((lw) => ({ attn: put(lw.attn[0]), proj: put(lw.proj[0]), fc: put(lw.fc[0]), fc2: put(lw.fc2[0]) }));
    this.wteT = arena.alloc(d * this.Vp);
    transposeInto(arena.f, this.wteT, w.wte, V, d, this.Vp);
    this.kv = arena.alloc(2 * L * C * d);            // layer l: keys at kv + 2lCd, values after them
    this.rowIn = arena.alloc(d);
    this.rowOut = arena.alloc(this.Vp);
    this.frameAt = arena.top;
    this.kvOwner = null;                             // the KVCache the mirror holds, and its length
    this.kvLength = 0;
  }

  get backend() { return "cpu"; }

  newCache() { return new KVCache(this.config); }

  /** The pool's threads stopped (the model cannot run again); nothing to do on one thread. */
  destroy() {
    if (this.pool) this.pool.close();
  }

  /** Floats of memory: {fixed: weights, cache and rows; frame(T4, Tk): a forward's; maxFrame: the largest}. */
  static floats(config) {
    const { n_embd: d, n_layer: L, n_positions: C, vocab_size: V } = config, Vp = Math.ceil(V / 8) * 8, q = (n) => Math.ceil(n / 4) * 4;
    const fixed = 4 + (L * 12 * d * d) + q(d * Vp) + q(2 * L * C * d) + q(d) + q(Vp) + 4 * L;   // 4 per tensor: alignment
    const frame = (T4, Tk) => frameLayout(config, Vp, 0, T4, Tk, false).top;
    return { fixed, frame, maxFrame: frame(Math.ceil(C / 4) * 4, C) };
  }

  /** Offsets of one forward's activations (T4 rows, Tk keys), the memory grown to hold them. */
  frame(T4, Tk, withKV) {
    const { at, top } = frameLayout(this.config, this.Vp, this.frameAt, T4, Tk, withKV);
    this.a.reserve(top);
    this.packAt = at.pack;
    return at;
  }

  /** y[N] += x[K] W[K, N] (float offsets): on the pool's threads where there are. */
  gemv(xAt, wAt, yAt, K, N) {
    if (this.pool) this.pool.gemv(4 * xAt, 4 * wAt, 4 * yAt, K, N);
    else this.a.k.gemv(4 * xAt, 4 * wAt, 4 * yAt, K, N);
  }

  /** The same contract as GPT2JS.forward (CONTRACTS §7). */
  async forward(ids, { cache = null, logits = "all", attention } = {}) {
    const { n_embd: d, n_layer: L, n_head: H, n_positions: C } = this.config, w = this.w, k = this.a.k;
    const past = cache ? cache.length : 0;
    ids = checkIds(ids, this.config, past);
    const T = ids.length, T4 = Math.ceil(T / 4) * 4, Tk = past + T, keep = keptLayers(attention, L);
    const at = this.frame(T4, Tk, Boolean(cache));
    if (cache) this.loadCache(cache, past);
    const f = this.a.f;
    const { token, position } = embed(w, ids, past, d), x = at.x;
    f.fill(0, x, at.probs);                                           // activations, padded rows included
    for (let i = 0; i < T * d; i++) f[x + i] = token[i] + position[i];
    const out = { past, T, embeddings: { token, position }, residual: [f.slice(x, x + T * d)], attention: [], qkv: [] };
    for (let l = 0; l < L; l++) {
      const lw = w.layers[l], lo = this.layers[l];
      const kAt = cache ? this.kv + 2 * l * C * d : at.k, vAt = cache ? kAt + C * d : at.v;
      layerNormAt(f, x, at.ln, lw.ln1, T, d);
      this.linear(at.ln, lo.attn, lw.attn[1], at.qkv, T, T4, d, 3 * d, false);          // qkv [T, 3d]
      for (let t = 0; t < T; t++) {                                                       // K, V rows into the cache
        const row = at.qkv + t * 3 * d;
        f.copyWithin(kAt + (past + t) * d, row + d, row + 2 * d);
        f.copyWithin(vAt + (past + t) * d, row + 2 * d, row + 3 * d);
      }
      f.fill(0, at.heads, at.heads + T4 * d);
      k.attn_kv(4 * at.qkv, 12 * d, 4 * kAt, 4 * vAt, 4 * at.probs, 4 * at.ps, 4 * at.heads, T, past, d, H, 1 / Math.sqrt(d / H));
      this.linear(at.heads, lo.proj, lw.proj[1], x, T, T4, d, d, true);                 // x += heads W + b
      layerNormAt(f, x, at.ln, lw.ln2, T, d);
      this.linear(at.ln, lo.fc, lw.fc[1], at.h, T, T4, d, 4 * d, false);
      k.gelu(4 * at.h, 4 * at.h, 4 * at.h, T4 * 4 * d);
      this.linear(at.h, lo.fc2, lw.fc2[1], x, T, T4, 4 * d, d, true);
      out.qkv.push(f.slice(at.qkv, at.qkv + T * 3 * d));
      out.attention.push(keep.has(l) ? this.probsOut(at, T, past) : null);
      out.residual.push(f.slice(x, x + T * d));
    }
    if (cache) this.saveCache(cache, past, T);
    layerNormAt(f, x, at.ln, w.lnf, T, d);
    out.lnf = f.slice(at.ln, at.ln + T * d);
    out.logitRows = logits === "last" ? 1 : T;
    out.logits = this.head(at, at.ln + (T - out.logitRows) * d, out.logitRows);
    return out;
  }

  /** y (+)= x W + b on rows [0, T): W at `wAt` [nIn, nOut]. One row streams W once (gemv);
   *  more are packed in blocks of 4 and meet each strip of W while it is in cache (gemm_cols). */
  linear(xAt, wAt, b, yAt, T, T4, nIn, nOut, accumulate) {
    const f = this.a.f;
    for (let t = 0; t < T; t++) {
      if (accumulate) for (let c = 0, o = yAt + t * nOut; c < nOut; c++) f[o + c] += b[c];
      else f.set(b, yAt + t * nOut);
    }
    if (T === 1) this.gemv(xAt, wAt, yAt, nIn, nOut);
    else this.gemmRows(xAt, wAt, yAt, T4, nIn, nOut);
  }

  /** C[M4, N] += A[M4, K] W[K, N] (offsets; M4 a multiple of 4): A packed, then W in slices of
   *  K_SLICE rows, so a slice's 8-column strip stays in L1 and its pages in the TLB while every
   *  block of rows meets it (measured: 26% faster than whole columns of W). */
  gemmRows(aAt, wAt, cAt, M4, K, N) {
    const k = this.a.k;
    k.pack4(4 * aAt, 4 * this.packAt, M4, K);
    if (this.pool) return this.pool.gemm(4 * this.packAt, 4 * wAt, 4 * cAt, M4, K, N, K_SLICE);
    for (let k0 = 0; k0 < K; k0 += K_SLICE) {
      k.gemm_cols(4 * (this.packAt + 4 * k0), 4 * (wAt + k0 * N), 4 * cAt, M4, Math.min(K_SLICE, K - k0), N, K);
    }
  }

  /** rows of LN_f output at `xAt` [rows, d] -> logits [rows, V] (x wteᵀ, the tied head). */
  head(at, xAt, rows) {
    const { n_embd: d, vocab_size: V } = this.config, Vp = this.Vp, y = new Float32Array(rows * V);
    if (rows === 1) {
      const f = this.a.f;
      f.fill(0, this.rowOut, this.rowOut + Vp);
      this.gemv(xAt, this.wteT, this.rowOut, d, Vp);
      y.set(f.subarray(this.rowOut, this.rowOut + V));
      return y;
    }
    for (let r0 = 0; r0 < rows; r0 += at.headRows) {                  // the rows past `rows` are padding
      const n = Math.min(at.headRows, rows - r0), f = this.a.f;
      f.fill(0, at.logits, at.logits + at.headRows * Vp);
      this.gemmRows(xAt + r0 * d, this.wteT, at.logits, Math.ceil(n / 4) * 4, d, Vp);
      for (let r = 0; r < n; r++) y.set(f.subarray(at.logits + r * Vp, at.logits + r * Vp + V), (r0 + r) * V);
    }
    return y;
  }

  /** The head's logits for any residual row (the logit lens): LN_f then wteᵀ. */
  lens(row) {
    const { n_embd: d, vocab_size: V } = this.config, f = this.a.f, Vp = this.Vp;
    f.set(layerNorm(row, this.w.lnf[0], this.w.lnf[1], 1, d).y, this.rowIn);
    f.fill(0, this.rowOut, this.rowOut + Vp);
    this.gemv(this.rowIn, this.wteT, this.rowOut, d, Vp);
    return f.slice(this.rowOut, this.rowOut + V);
  }

  /** The probabilities the kernel left in padded rows -> [H, T, past + T], zeros above the diagonal. */
  probsOut(at, T, past) {
    const H = this.config.n_head, Tk = past + T, f = this.a.f, p = new Float32Array(H * T * Tk);
    for (let r = 0; r < H * T; r++) {
      const from = at.probs + r * at.ps;
      p.set(f.subarray(from, from + past + (r % T) + 1), r * Tk);
    }
    return p;
  }

  /** Make the memory's KV rows those of `cache` (copied in unless they already are). */
  loadCache(cache, past) {
    if (this.kvOwner === cache && this.kvLength === past) return;
    const { n_embd: d, n_layer: L, n_positions: C } = this.config, f = this.a.f;
    for (let l = 0; l < L; l++) {
      f.set(cache.keys[l].subarray(0, past * d), this.kv + 2 * l * C * d);
      f.set(cache.values[l].subarray(0, past * d), this.kv + (2 * l + 1) * C * d);
    }
  }

  /** The T new K, V rows back to the caller's cache (its host copy). */
  saveCache(cache, past, T) {
    const { n_embd: d, n_layer: L, n_positions: C } = this.config, f = this.a.f;
    for (let l = 0; l < L; l++) {
      const kAt = this.kv + 2 * l * C * d, vAt = kAt + C * d;
      cache.keys[l].set(f.subarray(kAt + past * d, kAt + (past + T) * d), past * d);
      cache.values[l].set(f.subarray(vAt + past * d, vAt + (past + T) * d), past * d);
    }
    cache.length = past + T;
    this.kvOwner = cache;
    this.kvLength = past + T;
  }
}

/** GPT2Wasm's frame from float `top` on: {at: offsets by name, top: its end}. */
function frameLayout({ n_embd: d, n_head: H }, Vp, top, T4, Tk, withKV) {
  const at = {};
  const take = (name, n) => { at[name] = top; top += Math.ceil(n / 4) * 4; };
  take("x", T4 * d); take("ln", T4 * d); take("qkv", T4 * 3 * d); take("heads", T4 * d); take("h", T4 * 4 * d);
  take("pack", T4 * 4 * d);                         // a product's rows packed for gemm_cols
  at.ps = Math.ceil(Tk / 4) * 4;
  take("probs", H * T4 * at.ps);
  if (!withKV) { take("k", T4 * d); take("v", T4 * d); }
  at.headRows = Math.min(T4, 32);
  take("logits", at.headRows * Vp);
  return { at, top };
}

/** LayerNorm (eps 1e-5) of rows [0, T) at `xAt` into `yAt`, in memory `f`: cpu.js's arithmetic. */
function layerNormAt(f, xAt, yAt, [w, b], T, d) {
  for (let t = 0; t < T; t++) {
    const o = xAt + t * d, q = yAt + t * d;
    let mu = 0;
    for (let c = 0; c < d; c++) mu += f[o + c];
    mu /= d;
    let v = 0;
    for (let c = 0; c < d; c++) v += (f[o + c] - mu) ** 2;
    const r = 1 / Math.sqrt(v / d + 1e-5);
    for (let c = 0; c < d; c++) f[q + c] = (f[o + c] - mu) * r * w[c] + b[c];
  }
}

/** dst[at + c·Vp + v] = src[v·d + c]: wte [V, d] as wteᵀ [d, Vp], in blocks of rows that stay in cache. */
function transposeInto(dst, at, src, V, d, Vp) {
  for (let v0 = 0; v0 < V; v0 += 64) {
    const v1 = Math.min(V, v0 + 64);
    for (let c = 0; c < d; c++) {
      const o = at + c * Vp;
      for (let v = v0; v < v1; v++) dst[o + v] = src[v * d + c];
    }
  }
}

/**
 * Causal attention of T new queries over past + T keys. qkv [T, 3d]; kv: the layer's cache
 * (the new K, V rows are written into it) or null (no past). -> probs [H, T, past+T], out [T, d].
 */
export function attend(qkv, T, past, config, kv) {
  const { n_embd: d, n_head: H } = config, dh = d / H, scale = 1 / Math.sqrt(dh), Tk = past + T;
  if (kv) storeKV(qkv, T, past, d, kv);
  if (!past) {
    const fast = paddedAttention(qkv, T, d, H);
    if (fast) return fast;
  }
  const keyRow = (j, o) => (kv ? kv.keys[j * d + o] : qkv[j * 3 * d + d + o]);
  const valRow = kv ? (j) => kv.values.subarray(j * d, (j + 1) * d) : (j) => qkv.subarray(j * 3 * d + 2 * d, (j + 1) * 3 * d);
  const probs = new Float32Array(H * T * Tk), out = new Float32Array(T * d);
  for (let h = 0; h < H; h++) {
    for (let t = 0; t < T; t++) {
      const row = probs.subarray((h * T + t) * Tk, (h * T + t + 1) * Tk), q = t * 3 * d + h * dh, last = past + t;
      let max = -Infinity, sum = 0;
      for (let j = 0; j <= last; j++) {
        let s = 0;
        for (let c = 0; c < dh; c++) s += qkv[q + c] * keyRow(j, h * dh + c);
        row[j] = s * scale;
        if (row[j] > max) max = row[j];
      }
      for (let j = 0; j <= last; j++) { row[j] = Math.exp(row[j] - max); sum += row[j]; }
      const o = t * d + h * dh;
      for (let j = 0; j <= last; j++) {
        row[j] /= sum;
        const v = valRow(j);
        for (let c = 0; c < dh; c++) out[o + c] += row[j] * v[h * dh + c];
      }
    }
  }
  return { probs, out };
}

/** Causal attention on WebAssembly, padded to a multiple of 4 rows: a padded key sits after
 *  every real query, so the mask hides it and the real rows are exact. Null if it cannot run. */
function paddedAttention(qkv, T, d, H) {
  const T4 = Math.ceil(T / 4) * 4;
  let padded = qkv;
  if (T4 !== T) {
    padded = new Float32Array(T4 * 3 * d);
    padded.set(qkv);
  }
  const fast = attentionWasm(padded, 1, T4, d, H);
  if (!fast || T4 === T) return fast;
  const probs = new Float32Array(H * T * T);
  for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) {
    probs.set(fast.probs.subarray((h * T4 + t) * T4, (h * T4 + t) * T4 + T), (h * T + t) * T);
  }
  return { probs, out: fast.out.subarray(0, T * d) };
}

function storeKV(qkv, T, past, d, kv) {
  for (let t = 0; t < T; t++) {
    kv.keys.set(qkv.subarray(t * 3 * d + d, t * 3 * d + 2 * d), (past + t) * d);
    kv.values.set(qkv.subarray(t * 3 * d + 2 * d, (t + 1) * 3 * d), (past + t) * d);
  }
}
