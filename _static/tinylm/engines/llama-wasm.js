// The Llama CPU engine on WebAssembly SIMD (CONTRACTS §8), the design of gpt2.js's GPT2Wasm:
// the weights are placed ONCE in the engine's own WebAssembly memory and read there in place
// by simd-bf16.wat's kernels (the products, SwiGLU, attention's dot products and weighted sums);
// the KV cache lives there too; JavaScript does the small rest (RMSNorm, RoPE, the softmax,
// copying rows out) on views of that memory.
//
// Weights stay bfloat16 in the checkpoint's own nn.Linear layout [out, in]: the kernels widen
// them to float32 as they read (x·Wᵀ as dot products down W's rows, four rows a sweep for one
// token, two rows × four tokens for the prompt). That layout is the file's, so the streamed
// loader (LlamaLoader) copies the file's body into memory as it arrives: one copy of the
// weights, never two. Memory, in order: the weights (the file's body, or tensor by tensor),
// the KV rows of one cache [L][K | V][max_position_embeddings, KV·hd] float32, then a frame
// for one forward's activations (rows padded to a multiple of 4, grown for longer prompts).
// A caller's LlamaCache is mirrored: a forward on the cache the memory last saw appends in
// place; another cache is copied in first.
// Not handled: float32 or float16 matrices (the JavaScript engine runs those), sizes that are
// not multiples of 8 (hidden, intermediate, H·hd) and 4 (hd, KV·hd, vocabulary): same; weights
// plus cache past WebAssembly's 4 GB; threads.

import { checkIds } from "./gpt2-common.js";
import { CheckpointError, LAYER_MATRICES, layerName, llamaLayout, llamaWeights, widenBF16 } from "./llama-config.js";
import { applyRope, greedy, keptLayers, LlamaCache, ropeFrequencies, rowInto } from "./llama-js.js";
import { llamaGPUFromWeights } from "./llama-webgpu.js";
import { readHeader, SafetensorsError } from "./safetensors.js";
import { SIMD_BF16_WASM, SIMD_BF16_WASM_RELAXED } from "./simd-bf16.js";

const FIRST_FRAME = 64;          // rows the first frame holds: the memory grows once for weights, cache and this
const HEAD_ROWS = 32;            // logits rows computed per gemm_bf16 call when all rows are asked for
const PAGE = 65536;

let compiled = null;             // {module (a Promise), relaxed}, shared by every engine; each has its own memory

const wasmBytes = (b64) => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));

/**
 * simd-bf16.wat's kernels in a fresh instance (its own memory), or null where WebAssembly SIMD is
 * missing: the relaxed-SIMD build (fused multiply-adds) where the browser validates it, else the
 * plain one. -> the exports plus `relaxed` (which build it is).
 */
export async function bf16Kernels() {
  try {
    if (!compiled) {
      const relaxed = WebAssembly.validate(wasmBytes(SIMD_BF16_WASM_RELAXED));
      compiled = { relaxed, module: WebAssembly.compile(wasmBytes(relaxed ? SIMD_BF16_WASM_RELAXED : SIMD_BF16_WASM)) };
    }
    return { ...(await WebAssembly.instantiate(await compiled.module)).exports, relaxed: compiled.relaxed };
  } catch {
    return null;
  }
}

/** Why this config cannot run on the kernels (their sizes must be multiples of 8 and 4), or null. */
export function wasmUnfit(c) {
  const q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  const bad = [["hidden_size", c.hidden_size, 8], ["intermediate_size", c.intermediate_size, 8], ["H·head_dim", q, 8], ["head_dim", c.head_dim, 4],
    ["KV·head_dim", kv, 4], ["vocab_size", c.vocab_size, 4]].filter(([, v, m]) => v % m);
  return bad.length ? `the WebAssembly kernels need ${bad.map(([n, v, m]) => `${n} (${v}) a multiple of ${m}`).join(", ")}` : null;
}

/** The engine's WebAssembly memory: byte offsets, 16-byte aligned, views fetched again after growth. */
class Bf16Memory {
  constructor(k) {
    this.k = k;                  // the kernels (permute8, gemv_bf16, gemm_bf16, swiglu, rowdots, mix) and relaxed
    this.top = 64;               // bytes in use; the first 64 left unused
  }

  /** n bytes -> their offset (no growth: reserve() first). */
  alloc(n) {
    const at = this.top;
    this.top += Math.ceil(n / 16) * 16;
    return at;
  }

  /** Grow the memory to hold at least n bytes; RangeError (said plainly) if the browser refuses. */
  reserve(n) {
    const mem = this.k.memory, need = n - mem.buffer.byteLength;
    if (need <= 0) return;
    if (n > 65536 * PAGE) throw new RangeError(`${gb(n)} of WebAssembly memory are needed, past its limit of 4 GB`);
    try {
      mem.grow(Math.ceil(need / PAGE));
    } catch (err) {
      throw new RangeError(`this browser would not grow WebAssembly memory to ${gb(n)} (${err.message})`);
    }
  }

  get f() { return this.view("vf", Float32Array); }
  get u16() { return this.view("vu16", Uint16Array); }
  get u8() { return this.view("vu8", Uint8Array); }

  view(key, Kind) {
    const buf = this.k.memory.buffer;
    if (!this[key] || this[key].buffer !== buf) this[key] = new Kind(buf);
    return this[key];
  }
}

const gb = (n) => `${(n / 1e9).toFixed(2)} GB`;
const kvBytes = (c) => 2 * c.num_hidden_layers * c.max_position_embeddings * c.num_key_value_heads * c.head_dim * 4;

/** Bytes of a frame for T4 rows (LlamaWasm.frame's layout). */
function frameBytes(c, T4) {
  const d = c.hidden_size, I = c.intermediate_size, q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  const floats = T4 * (d + Math.max(d, q) + Math.max(d, I, q) + q + 2 * kv + 2 * I) + Math.min(T4, HEAD_ROWS) * c.vocab_size;
  return 4 * (floats + c.max_position_embeddings) + 16 * 11;
}

/**
 * The engine from parseSafetensors' tensors (llamaWeights' w: every matrix a Uint16Array of
 * bfloat16 bits), copied tensor by tensor into a fresh memory grown once -> {model}, or {why} where
 * it cannot run; RangeError if the memory cannot grow.
 */
export async function createLlamaWasm(config, w, tied) {
  const why = wasmUnfit(config) || (w.layers[0].q instanceof Uint16Array && w.embed instanceof Uint16Array && w.head instanceof Uint16Array
    ? null : "the matrices are not bfloat16");
  if (why) return { why };
  const k = await bf16Kernels();
  if (!k) return { why: "this browser has no WebAssembly SIMD" };
  const mem = new Bf16Memory(k), mats = [w.embed, ...(tied ? [] : [w.head]), ...w.layers.flatMap((l) => LAYER_MATRICES.map((m) => l[m]))];
  const weights = mats.reduce((s, a) => s + Math.ceil(a.byteLength / 16) * 16, 0);
  mem.reserve(mem.top + weights + kvBytes(config) + frameBytes(config, FIRST_FRAME));
  const put = (data) => { const at = mem.alloc(data.byteLength); mem.u16.set(data, at >>> 1); return at; };
  const embed = put(w.embed);
  const at = { embed, head: tied ? embed : put(w.head), layers: w.layers.map((l) => Object.fromEntries(LAYER_MATRICES.map((m) => [m, put(l[m])]))) };
  const norms = { norm: w.norm, layers: w.layers.map((l) => ({ ln1: l.ln1, ln2: l.ln2 })) };
  const weightBytes = mats.reduce((s, a) => s + a.byteLength, 0) + 4 * config.hidden_size * (2 * config.num_hidden_layers + 1);
  return { model: new LlamaWasm(config, tied, mem, at, norms, weightBytes) };
}

/** The engine. Built by createLlamaWasm (tensors) or LlamaLoader.finish (a streamed file). */
export class LlamaWasm {
  constructor(config, tied, mem, at, norms, weightBytes) {
    this.kernel = "wasm";
    this.simd = mem.k.relaxed ? "relaxed" : "simd128";   // which build of the kernels (bf16Kernels)
    this.config = config;
    this.tied = tied;
    this.dtype = "BF16";
    this.weightBytes = weightBytes;                // the matrices at 2 bytes a weight, the norm vectors at 4
    this.mem = mem;
    this.w = at;                                   // byte offsets: {embed, head, layers: [{q, k, v, o, gate, up, down}]}
    this.norms = norms;                            // float32: {norm, layers: [{ln1, ln2}]}
    this.invFreq = ropeFrequencies(config.head_dim, config.rope_theta);
    this.kvw = config.num_key_value_heads * config.head_dim;
    this.kv = mem.alloc(kvBytes(config));          // layer l: keys at kv + 2l·C·kvw floats, values after them
    this.frameAt = mem.top;
    this.frameRows = 0;
    this.kvOwner = null;                           // the LlamaCache the memory's KV rows belong to, and its length
    this.kvLength = 0;
    this.frame(FIRST_FRAME);
  }

  get backend() { return "cpu"; }

  /** Bytes of WebAssembly memory the engine holds (weights, KV rows, frame). */
  get memoryBytes() { return this.mem.k.memory.buffer.byteLength; }

  newCache() { return new LlamaCache(this.config); }

  generate(ids, opts) { return greedy(this, ids, opts); }

  /** Byte offsets of one forward's activations for T4 rows; the memory grown (once more) for longer prompts. */
  frame(T4) {
    if (T4 <= this.frameRows) return this.at;
    T4 = Math.max(T4, this.frameRows * 2, FIRST_FRAME);
    const c = this.config, d = c.hidden_size, I = c.intermediate_size, q = c.num_attention_heads * c.head_dim;
    let top = this.frameAt;
    const take = (n) => { const a = top; top += Math.ceil((4 * n) / 16) * 16; return a; };
    this.at = {
      x: take(T4 * d), h: take(T4 * Math.max(d, q)), xp: take(T4 * Math.max(d, I, q)), q: take(T4 * q), k: take(T4 * this.kvw),
      v: take(T4 * this.kvw), gate: take(T4 * I), up: take(T4 * I),
    };
    this.at.logits = take(Math.min(T4, HEAD_ROWS) * c.vocab_size);
    this.at.row = take(c.max_position_embeddings);                  // one query's scores, then probabilities
    this.mem.reserve(top);
    this.frameRows = T4;
    return this.at;
  }

  /**
   * The same contract as LlamaJS.forward (llama-js.js): ids [T] -> {logits, logitRows, past, T, positions,
   * residual, attention, rope, mlp, norm}; opts cache, logits "all" | "last", residual, attention, rope, mlp.
   */
  async forward(ids, { cache = null, logits = "all", residual = true, attention = "none", rope = null, mlp = null } = {}) {
    const c = this.config, d = c.hidden_size, L = c.num_hidden_layers, I = c.intermediate_size, C = c.max_position_embeddings;
    const H = c.num_attention_heads, KV = c.num_key_value_heads, hd = c.head_dim, eps = c.rms_norm_eps, q = H * hd, kvw = this.kvw;
    const past = cache ? cache.length : 0;
    ids = checkIds(ids, c, past, C);
    const T = ids.length, T4 = Math.ceil(T / 4) * 4, keep = keptLayers(attention, L);
    if (cache) cache.reserve(past + T);
    const at = this.frame(T4), k = this.mem.k;
    if (cache) this.loadCache(cache, past);
    else this.kvOwner = null;                                          // a pass without a cache writes over the rows
    const f = this.mem.f, X = at.x >>> 2, Hh = at.h >>> 2, Q = at.q >>> 2, K = at.k >>> 2, Vv = at.v >>> 2;
    const embed = this.mem.u16.subarray(this.w.embed >>> 1, (this.w.embed >>> 1) + c.vocab_size * d);
    for (let t = 0; t < T; t++) rowInto(f.subarray(X + t * d, X + (t + 1) * d), embed, ids[t], d);
    const out = { past, T, positions: Int32Array.from(ids, (_, t) => past + t), residual: residual ? [f.slice(X, X + T * d)] : null, attention: [] };
    for (let l = 0; l < L; l++) {
      const lw = this.w.layers[l], ln = this.norms.layers[l];
      const kAt = (this.kv >>> 2) + 2 * l * C * kvw, vAt = kAt + C * kvw;
      rmsNormAt(f, X, f, Hh, ln.ln1, T, d, eps);
      this.input(at.h, T, T4, d);
      this.product(lw.q, at.q, T, T4, d, q, 0);                       // q [T, H·hd] = h q_projᵀ
      this.product(lw.k, at.k, T, T4, d, kvw, 0);
      this.product(lw.v, at.v, T, T4, d, kvw, 0);
      const qv = f.subarray(Q, Q + T * q), kv = f.subarray(K, K + T * kvw);
      const raw = rope === l ? { qRaw: qv.slice(), kRaw: kv.slice() } : null;
      applyRope(qv, T, H, hd, past, this.invFreq);
      applyRope(kv, T, KV, hd, past, this.invFreq);
      if (raw) out.rope = { layer: l, q: qv.slice(), k: kv.slice(), ...raw, invFreq: this.invFreq };
      f.copyWithin(kAt + past * kvw, K, K + T * kvw);                 // K, V rows into the cache
      f.copyWithin(vAt + past * kvw, Vv, Vv + T * kvw);
      const att = this.attend(kAt, vAt, T, past, keep.has(l));       // heads [T, H·hd] into h
      this.input(at.h, T, T4, q);
      this.product(lw.o, at.x, T, T4, q, d, 1);                       // x += heads o_projᵀ
      rmsNormAt(f, X, f, Hh, ln.ln2, T, d, eps);
      this.input(at.h, T, T4, d);
      this.product(lw.gate, at.gate, T, T4, d, I, 0);
      this.product(lw.up, at.up, T, T4, d, I, 0);
      const act = this.swiglu(T, T4, I, mlp === l);
      const mid = act ? f.slice(X, X + T * d) : null;                 // the residual between the two sub-blocks
      this.product(lw.down, at.x, T, T4, I, d, 1);                    // x += down(silu(gate) · up)
      if (act) {
        out.mlp = { layer: l, gate: f.slice(at.gate >>> 2, (at.gate >>> 2) + T * I), up: f.slice(at.up >>> 2, (at.up >>> 2) + T * I), act,
          mid, down: f.slice(X, X + T * d).map((v, i) => v - mid[i]) };
      }
      out.attention.push(att.probs);
      if (residual) out.residual.push(f.slice(X, X + T * d));
    }
    if (cache) this.saveCache(cache, past, T);
    rmsNormAt(f, X, f, Hh, this.norms.norm, T, d, eps);
    out.norm = f.slice(Hh, Hh + T * d);
    out.logitRows = logits === "last" ? 1 : T;
    out.logits = this.head(T - out.logitRows, out.logitRows);
    return out;
  }

  /**
   * silu(gate) · up for rows [0, T) of the frame's gate and up [T, I], written by the kernel (its
   * float32 e^x, within 2 ulp of Math.exp) straight into the permuted input xp, padded rows zero.
   * -> the products as a Float32Array [T, I] (read back, un-permuted) when keep, else null.
   */
  swiglu(T, T4, I, keep) {
    const at = this.at, P = at.xp >>> 2, f = this.mem.f;
    this.mem.k.swiglu(at.gate, at.up, at.xp, T * I);
    if (T4 > T && T > 1) f.fill(0, P + T * I, P + T4 * I);
    if (!keep) return null;
    const act = new Float32Array(T * I);
    for (let i = 0; i < T * I; i++) { const j = i & 7; act[i] = f[P + (i & ~7) + (j & 1 ? 4 + (j >>> 1) : j >>> 1)]; }
    return act;
  }

  /**
   * Causal attention of the frame's q [T, H·hd] (after RoPE) over the cache's rows [0, past + T)
   * of layer keys at float offset kAt, values at vAt, into the frame's h [T, H·hd]: llama-js.js's
   * attend with its dot products and weighted sums done by the kernels (rowdots, mix: float32
   * sums) and the softmax in JavaScript as there. -> {probs: [H, T, past + T] when keepProbs, else null}.
   */
  attend(kAt, vAt, T, past, keepProbs) {
    const c = this.config, H = c.num_attention_heads, hd = c.head_dim, kvw = this.kvw, q = H * hd, group = H / c.num_key_value_heads;
    const k = this.mem.k, f = this.mem.f, at = this.at, R = at.row >>> 2, scale = 1 / Math.sqrt(hd), Tk = past + T;
    const probs = keepProbs ? new Float32Array(H * T * Tk) : null;
    f.fill(0, at.h >>> 2, (at.h >>> 2) + T * q);                    // mix adds to the heads
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / group) * hd;
      for (let t = 0; t < T; t++) {
        const qo = (t * H + h) * hd, n = past + t + 1;
        k.rowdots(at.row, at.q + 4 * qo, 4 * (kAt + g), 4 * kvw, n, hd);   // row[j] = q_t · k_j
        let max = -Infinity, sum = 0;
        for (let j = 0; j < n; j++) { const v = (f[R + j] *= scale); if (v > max) max = v; }
        for (let j = 0; j < n; j++) sum += (f[R + j] = Math.exp(f[R + j] - max));
        for (let j = 0; j < n; j++) f[R + j] /= sum;
        if (probs) probs.set(f.subarray(R, R + n), (h * T + t) * Tk);
        k.mix(at.h + 4 * qo, at.row, 4, 4 * (vAt + g), 4 * kvw, n, hd);    // out_t = Σ_j row[j] v_j
      }
    }
    return { probs };
  }

  /** Rows [0, T) of [T, K] floats at byte offset `src` -> the permuted input xp (permute8), padded rows zero. */
  input(src, T, T4, K) {
    const xp = this.at.xp;
    this.mem.k.permute8(src, xp, T * K);
    if (T4 > T && T > 1) this.mem.f.fill(0, (xp >>> 2) + T * K, (xp >>> 2) + T4 * K);
  }

  /** y [T, N] (+= when acc) xp [T, K] · Wᵀ, W bfloat16 [N, K] at byte offset w: gemv for one row, else gemm on T4 rows. */
  product(w, y, T, T4, K, N, acc) {
    if (T === 1) this.mem.k.gemv_bf16(this.at.xp, w, y, K, N, acc);
    else this.mem.k.gemm_bf16(this.at.xp, w, y, T4, K, N, acc);
  }

  /** Logits for rows [r0, r0 + rows) of the final norm (in the frame's h): [rows, V]. */
  head(r0, rows) {
    const d = this.config.hidden_size, V = this.config.vocab_size, k = this.mem.k, at = this.at, y = new Float32Array(rows * V);
    for (let r = 0; r < rows; r += HEAD_ROWS) {
      const n = Math.min(HEAD_ROWS, rows - r), n4 = n === 1 ? 1 : Math.ceil(n / 4) * 4;
      this.input(at.h + 4 * (r0 + r) * d, n, n4, d);
      this.product(this.w.head, at.logits, n, n4, d, V, 0);
      y.set(this.mem.f.subarray(at.logits >>> 2, (at.logits >>> 2) + n * V), r * V);
    }
    return y;
  }

  /** The head's logits for any residual row [d] (the logit lens): final RMSNorm, then lm_head -> [V]. */
  lens(row) {
    const c = this.config, f = this.mem.f;
    rmsNormAt(Float32Array.from(row), 0, f, this.at.h >>> 2, this.norms.norm, 1, c.hidden_size, c.rms_norm_eps);
    return this.head(0, 1);
  }

  /** Make the memory's KV rows those of `cache` (copied in unless they already are). */
  loadCache(cache, past) {
    if (this.kvOwner === cache && this.kvLength === past) return;
    const { num_hidden_layers: L, max_position_embeddings: C } = this.config, f = this.mem.f, kvw = this.kvw;
    for (let l = 0; l < L; l++) {
      const kAt = (this.kv >>> 2) + 2 * l * C * kvw;
      f.set(cache.keys[l].subarray(0, past * kvw), kAt);
      f.set(cache.values[l].subarray(0, past * kvw), kAt + C * kvw);
    }
    this.kvOwner = cache;
    this.kvLength = past;
  }

  /** The T new K, V rows back to the caller's cache (its host copy). */
  saveCache(cache, past, T) {
    const { num_hidden_layers: L, max_position_embeddings: C } = this.config, f = this.mem.f, kvw = this.kvw;
    for (let l = 0; l < L; l++) {
      const kAt = (this.kv >>> 2) + 2 * l * C * kvw, vAt = kAt + C * kvw;
      cache.keys[l].set(f.subarray(kAt + past * kvw, kAt + (past + T) * kvw), past * kvw);
      cache.values[l].set(f.subarray(vAt + past * kvw, vAt + (past + T) * kvw), past * kvw);
    }
    cache.length = past + T;
    this.kvOwner = cache;
    this.kvLength = past + T;
  }
}

/**
 * RMSNorm of rows [0, T) of `src` (from float offset s) into `dst` (from float offset o):
 * x / sqrt(mean(x²) + eps) · w, llama-js.js's rmsNorm arithmetic.
 */
function rmsNormAt(src, s, dst, o, w, T, d, eps) {
  for (let t = 0; t < T; t++) {
    const a = s + t * d, b = o + t * d;
    let ss = 0;
    for (let c = 0; c < d; c++) ss += src[a + c] * src[a + c];
    const inv = Math.fround(1 / Math.sqrt(Math.fround(Math.fround(ss / d) + eps)));
    for (let c = 0; c < d; c++) dst[b + c] = w[c] * Math.fround(src[a + c] * inv);
  }
}


// ---------------------------------------------------------------------------------------------
// The streamed loader: a file's bytes written straight into the engine's memory as they arrive.

/**
 * A Llama checkpoint loaded from its bytes in order, chunk by chunk (a fetch's body, or a file
 * read in pieces), straight into the engine's WebAssembly memory: the header is read and checked
 * as soon as it is in (CheckpointError / SafetensorsError before the body downloads), the memory
 * grows once, and every later byte is copied to its place. One copy of the weights at any time.
 * push(chunk) takes the file from byte 0 (Uint8Array or ArrayBuffer; chunks of any size, the
 * header may span several); it copies what it keeps, so a caller may reuse the chunk's buffer. After the header: header ({length, entries, metadata}), config,
 * total (the file's size as its header gives it) and received (bytes so far) for a progress bar.
 * finish() -> the engine (SafetensorsError if the file was cut short).
 */
export class LlamaLoader {
  constructor(kernels, given = null) {
    this.k = kernels;
    this.given = given || {};
    this.received = 0;
    this.pending = [];               // chunks before the header is complete
    this.header = null;
    this.config = null;
    this.total = null;
  }

  push(chunk) {
    const bytes = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
    if (!this.header) {
      this.pending.push(bytes.slice());            // a copy: the caller may read into the same buffer again
      this.received += bytes.length;
      this.readHeaderIfIn();
      return;
    }
    this.write(bytes, this.received);
    this.received += bytes.length;
  }

  /** Once 8 + n bytes are in: check the header, size and grow the memory, place what came after it. */
  readHeaderIfIn() {
    if (this.received < 8) return;
    const all = concat(this.pending), n = Number(new DataView(all.buffer, all.byteOffset, 8).getBigUint64(0, true));
    if (n > 100 * 2 ** 20 || this.received < 8 + n) {
      if (n > 100 * 2 ** 20) readHeader(all.buffer.slice(all.byteOffset, all.byteOffset + all.length));   // its message
      this.pending = [all];
      return;
    }
    const header = readHeader(all.buffer.slice(all.byteOffset, all.byteOffset + 8 + n), { fileBytes: Infinity });
    const entries = new Map(Object.entries(header.entries));
    const { config, tied, shapes } = llamaLayout(entries, this.given);
    for (const [name, shape] of Object.entries(shapes)) {
      const dtype = entries.get(name).dtype, ok = dtype === "BF16" || (shape.length === 1 && dtype === "F32");
      if (!ok) throw new CheckpointError(`tensor ${name} is ${dtype}: the streamed loader keeps bfloat16 weights (float32 norm vectors); ` +
        "pass the whole file to createLlama(parseSafetensors(bytes)) instead");
    }
    const why = wasmUnfit(config);
    if (why) throw new CheckpointError(`${why}; pass the whole file to createLlama(parseSafetensors(bytes)) instead`);
    const body = Math.max(0, ...[...entries.values()].map((e) => e.data_offsets[1]));
    this.mem = new Bf16Memory(this.k);
    this.mem.reserve(this.mem.top + Math.ceil(body / 16) * 16 + kvBytes(config) + frameBytes(config, FIRST_FRAME));
    this.base = this.mem.alloc(body);                 // the body's byte 0
    Object.assign(this, { header, entries, config, tied, shapes, start: 8 + n, total: 8 + n + body, pending: null });
    this.write(all.subarray(8 + n), 8 + n);
  }

  /** bytes that begin at file offset `pos` -> their place in memory (what lies past the tensors is dropped). */
  write(bytes, pos) {
    const from = Math.max(0, this.start - pos), to = Math.min(bytes.length, this.total - pos);
    if (to > from) this.mem.u8.set(bytes.subarray(from, to), this.base + pos + from - this.start);
  }

  /** Throws SafetensorsError unless every byte the header describes is in. */
  complete() {
    if (!this.header && this.pending.length) readHeader(concat(this.pending).slice().buffer);   // "not a safetensors file"?
    if (!this.header || this.received < this.total) {
      throw new SafetensorsError(`the file ended after ${this.received.toLocaleString("en")} bytes, but its header ` +
        `${this.total ? `describes ${this.total.toLocaleString("en")}` : "did not finish"}: a download cut short?`);
    }
  }

  /**
   * The loaded file as parseSafetensors(bytes, { bf16: "view" }) gives it: Map name -> {dtype, shape,
   * data}, BF16 data as Uint16Array views of this loader's memory (no copy; F32 copied when not
   * 4-byte aligned). For an engine that uploads the weights elsewhere (WebGPU); the views die if
   * finish()'s engine grows the memory, so use one or the other.
   */
  tensors() {
    this.complete();
    const out = new Map(), buf = this.mem.k.memory.buffer;
    for (const [name, e] of this.entries) {
      const at = this.base + e.data_offsets[0], n = e.shape.reduce((a, b) => a * b, 1);
      const data = e.dtype === "BF16" ? new Uint16Array(buf, at, n)
        : at % 4 ? new Float32Array(buf.slice(at, at + 4 * n)) : new Float32Array(buf, at, n);
      out.set(name, { dtype: e.dtype, shape: e.shape, data });
    }
    return out;
  }

  /**
   * The engine, once every byte is in. "webgpu": llama-webgpu.js's engine uploads tensors() (the
   * memory is kept: its logit lens reads them there), else the CPU engine on this memory, m.fallback
   * saying why. gpu: a navigator.gpu to use instead of the page's (tests).
   */
  async finish({ backend = "cpu", gpu } = {}) {
    if (backend !== "webgpu" && backend !== "cpu") throw new Error(`backend must be "webgpu" or "cpu", not ${JSON.stringify(backend)}`);
    this.complete();
    let fallback = null;
    if (backend === "webgpu") {
      try {
        const { config, w, tied } = llamaWeights(this.tensors(), this.given);
        return await llamaGPUFromWeights(config, w, tied, gpu === undefined ? {} : { gpu });
      } catch (err) {
        fallback = err.message;
      }
    }
    const c = this.config, L = c.num_hidden_layers, at = (name) => this.base + this.entries.get(name).data_offsets[0];
    const vec = (name) => {
      const e = this.entries.get(name), a = at(name), raw = this.mem.u8.slice(a, a + e.data_offsets[1] - e.data_offsets[0]).buffer;
      return e.dtype === "F32" ? new Float32Array(raw) : widenBF16(new Uint16Array(raw));
    };
    const embed = at("model.embed_tokens.weight");
    const w = { embed, head: this.tied ? embed : at("lm_head.weight"), layers: [] }, norms = { norm: vec("model.norm.weight"), layers: [] };
    let weightBytes = 4 * c.hidden_size * (2 * L + 1);
    for (const name of ["model.embed_tokens.weight", ...(this.tied ? [] : ["lm_head.weight"])]) weightBytes += 2 * this.shapes[name].reduce((a, b) => a * b);
    for (let i = 0; i < L; i++) {
      w.layers.push(Object.fromEntries(LAYER_MATRICES.map((m) => [m, at(layerName(i, m))])));
      norms.layers.push({ ln1: vec(layerName(i, "ln1")), ln2: vec(layerName(i, "ln2")) });
      for (const m of LAYER_MATRICES) weightBytes += 2 * this.shapes[layerName(i, m)].reduce((a, b) => a * b);
    }
    const m = new LlamaWasm(c, this.tied, this.mem, w, norms, weightBytes);
    if (fallback) m.fallback = fallback;
    return m;
  }
}

function concat(chunks) {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}
