// Llama-family checkpoints in the page (CONTRACTS §8): TinyLlama-1.1B-Chat first.
//
//   import { parseSafetensors, createLlama } from "./llama.js";
//   const tensors = parseSafetensors(bytes, { bf16: "view" });   // bfloat16 stays bfloat16 (Uint16Array views)
//   const m = await createLlama(tensors, { backend: "cpu", config });   // config: the checkpoint's config.json, optional
//   const cache = m.newCache();
//   const out = await m.forward(ids, { cache });   // {logits [T × V], residual [L+1][T, d], ...}
//
// The arithmetic of transformers' LlamaForCausalLM in float32: RMSNorm, RoPE (rotate-half),
// grouped-query attention, SwiGLU, an untied head. The weight matrices stay in the dtype they
// were stored in (bfloat16 for TinyLlama: 2.2 GB, not 4.4 GB) and are widened to float32 one
// row at a time inside linear(); sums run in JavaScript numbers (float64, so at least float32),
// results are stored as float32. Names are mapped in one place, llamaWeights().
// The CPU engine is plain JavaScript (a WebAssembly kernel and a WebGPU engine come later:
// backend "webgpu" falls back to it, m.fallback saying so). Not handled: batches, training,
// RoPE scaling (Llama 3's "llama3", "linear", "dynamic" are refused by name), attention or
// MLP biases, sliding windows, positions past max_position_embeddings (the caller cuts).

import { checkIds } from "./gpt2-common.js";   // vocabulary and context checks, shared with the GPT-2 engine
export { parseSafetensors, SafetensorsError } from "./safetensors.js";

export class CheckpointError extends Error {}

/** TinyLlama-1.1B's values, used for what neither config.json nor the shapes say. */
export const LLAMA_DEFAULTS = { head_dim: 64, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 2048 };

const LAYER_TENSORS = {                        // name -> shape, for d, I, q = H·hd, kv = KV·hd
  "input_layernorm.weight": (d) => [d],
  "self_attn.q_proj.weight": (d, I, q) => [q, d],
  "self_attn.k_proj.weight": (d, I, q, kv) => [kv, d],
  "self_attn.v_proj.weight": (d, I, q, kv) => [kv, d],
  "self_attn.o_proj.weight": (d, I, q) => [d, q],
  "post_attention_layernorm.weight": (d) => [d],
  "mlp.gate_proj.weight": (d, I) => [I, d],
  "mlp.up_proj.weight": (d, I) => [I, d],
  "mlp.down_proj.weight": (d, I) => [d, I],
};
const IGNORED = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;   // a buffer older checkpoints saved

/** The checkpoint's shapes for a config: name -> shape (nn.Linear weights are [out, in]). */
export function llamaShapes(c, { head = true } = {}) {
  const d = c.hidden_size, I = c.intermediate_size, q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  const shapes = { "model.embed_tokens.weight": [c.vocab_size, d], "model.norm.weight": [d] };
  if (head) shapes["lm_head.weight"] = [c.vocab_size, d];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    for (const [k, f] of Object.entries(LAYER_TENSORS)) shapes[`model.layers.${i}.${k}`] = f(d, I, q, kv);
  }
  return shapes;
}

/**
 * The config the engine runs: config.json's fields where given (checked against the shapes),
 * else read from the shapes, else TinyLlama's values (head_dim 64, theta 10000, eps 1e-5).
 */
export function llamaConfig(tensors, given = {}) {
  const shape = (name) => tensors.get(name).shape;
  const [V, d] = shape("model.embed_tokens.weight");
  let L = 0;
  while (tensors.has(`model.layers.${L}.input_layernorm.weight`)) L++;
  if (!L) throw new CheckpointError("this is not a Llama checkpoint: it has no layers (model.layers.0.input_layernorm.weight)");
  for (const k of ["self_attn.q_proj.weight", "self_attn.k_proj.weight", "mlp.gate_proj.weight"]) {
    if (!tensors.has(`model.layers.0.${k}`)) throw new CheckpointError(`this is not a Llama checkpoint: it has no tensor model.layers.0.${k}`);
  }
  const qRows = shape("model.layers.0.self_attn.q_proj.weight")[0], kvRows = shape("model.layers.0.self_attn.k_proj.weight")[0];
  const hd = given.head_dim ?? (given.num_attention_heads ? (given.hidden_size ?? d) / given.num_attention_heads : LLAMA_DEFAULTS.head_dim);
  const rope = given.rope_parameters || given.rope_scaling || {};
  const kind = rope.rope_type ?? rope.type ?? "default";
  if (kind !== "default") throw new CheckpointError(`RoPE scaling "${kind}" is not handled by this engine (plain RoPE only)`);
  for (const k of ["attention_bias", "mlp_bias"]) if (given[k]) throw new CheckpointError(`config.json sets ${k}: biases are not handled by this engine`);
  const config = {
    vocab_size: V, hidden_size: d, intermediate_size: shape("model.layers.0.mlp.gate_proj.weight")[0], num_hidden_layers: L,
    num_attention_heads: qRows / hd, num_key_value_heads: kvRows / hd, head_dim: hd,
    rope_theta: given.rope_theta ?? rope.rope_theta ?? LLAMA_DEFAULTS.rope_theta,
    rms_norm_eps: given.rms_norm_eps ?? LLAMA_DEFAULTS.rms_norm_eps,
    max_position_embeddings: given.max_position_embeddings ?? LLAMA_DEFAULTS.max_position_embeddings,
  };
  for (const [k, v] of Object.entries(config)) {
    if (k in given && given[k] !== v) throw new CheckpointError(`config.json says ${k} ${given[k]}, but the tensors' shapes give ${v}`);
  }
  const { num_attention_heads: H, num_key_value_heads: KV } = config;
  if (!Number.isInteger(H) || !Number.isInteger(KV) || !Number.isInteger(hd) || hd % 2) {
    throw new CheckpointError(`q_proj has ${qRows} rows and k_proj ${kvRows}: not whole heads of ${hd}; pass the checkpoint's config.json (head_dim, num_attention_heads)`);
  }
  if (H % KV) throw new CheckpointError(`${H} query heads do not share ${KV} KV heads evenly`);
  return config;
}

/**
 * The one place checkpoint names meet the engine: Map from parseSafetensors ->
 * {config, w: {embed, norm, head, layers: [{ln1, q, k, v, o, ln2, gate, up, down}]}}. Matrices
 * keep their stored data (Uint16Array of bfloat16 bits, or Float32Array); norm vectors are
 * widened to float32 (d values each). Throws CheckpointError naming what does not fit.
 */
export function llamaWeights(tensors, given = {}) {
  if (!(tensors instanceof Map)) throw new CheckpointError("expected the tensors as parseSafetensors returns them (a Map)");
  for (const gpt2 of ["wte.weight", "transformer.wte.weight", "h.0.attn.c_attn.weight"]) {
    if (tensors.has(gpt2)) throw new CheckpointError(`this is a GPT-2 checkpoint (it has ${gpt2}), not a Llama one: it belongs on the GPT-2 page`);
  }
  if (!tensors.has("model.embed_tokens.weight")) throw new CheckpointError("this is not a Llama checkpoint: it has no tensor model.embed_tokens.weight");
  const config = llamaConfig(tensors, given || {});
  const tied = !tensors.has("lm_head.weight");
  if (tied && !given?.tie_word_embeddings) throw new CheckpointError("this checkpoint has no lm_head.weight (Llama's head is untied); if it is tied, pass config.tie_word_embeddings");
  const shapes = llamaShapes(config, { head: !tied });
  for (const name of tensors.keys()) {
    if (!(name in shapes) && !IGNORED.test(name)) {
      throw new CheckpointError(`tensor ${name} is not part of a Llama checkpoint with ${config.num_hidden_layers} layers`);
    }
  }
  const need = (name) => {
    const t = tensors.get(name), want = shapes[name];
    if (!t) throw new CheckpointError(`this Llama checkpoint has no tensor ${name}`);
    if (t.shape.length !== want.length || t.shape.some((s, i) => s !== want[i])) {
      throw new CheckpointError(`tensor ${name} has shape ${JSON.stringify(t.shape)}; a Llama with hidden_size ${config.hidden_size}, ` +
        `${config.num_attention_heads} heads of ${config.head_dim} (${config.num_key_value_heads} KV) and intermediate_size ` +
        `${config.intermediate_size} needs ${JSON.stringify(want)}`);
    }
    const n = want.reduce((a, b) => a * b, 1), data = t.data;
    const ok = data && data.length === n && (data instanceof Float32Array || (data instanceof Uint16Array && t.dtype === "BF16"));
    if (!ok) throw new CheckpointError(`tensor ${name} (${t.dtype}) should hold ${n} values as a Float32Array, or BF16 bits as a Uint16Array`);
    return data;
  };
  const vec = (name) => widen(need(name));
  const layers = Array.from({ length: config.num_hidden_layers }, (_, i) => {
    const p = `model.layers.${i}.`;
    return {
      ln1: vec(p + "input_layernorm.weight"), q: need(p + "self_attn.q_proj.weight"), k: need(p + "self_attn.k_proj.weight"),
      v: need(p + "self_attn.v_proj.weight"), o: need(p + "self_attn.o_proj.weight"), ln2: vec(p + "post_attention_layernorm.weight"),
      gate: need(p + "mlp.gate_proj.weight"), up: need(p + "mlp.up_proj.weight"), down: need(p + "mlp.down_proj.weight"),
    };
  });
  const embed = need("model.embed_tokens.weight");
  return { config, tied, w: { embed, norm: vec("model.norm.weight"), head: tied ? embed : need("lm_head.weight"), layers } };
}

/** A model on the asked-for backend; "webgpu" falls back to the CPU (not written yet), m.fallback saying why. */
export async function createLlama(tensors, { backend = "cpu", config = null } = {}) {
  const { config: c, w, tied } = llamaWeights(tensors, config || {});
  if (backend !== "webgpu" && backend !== "cpu") throw new Error(`backend must be "webgpu" or "cpu", not ${JSON.stringify(backend)}`);
  const m = new LlamaCPU(c, w, tied);
  if (backend === "webgpu") m.fallback = "the WebGPU Llama engine is not written yet: the CPU engine runs";
  return m;
}

// ---------------------------------------------------------------------------------------------
// Kernels. Row-major; a weight matrix is a Float32Array or a Uint16Array of bfloat16 bits.

const scratchBuf = { f32: new Float32Array(0), u32: new Uint32Array(0) };

/** A float32 scratch row of n values and its Uint32Array alias (bfloat16 bits << 16 are float32 bits). */
function scratch(n) {
  if (scratchBuf.f32.length < n) {
    scratchBuf.f32 = new Float32Array(n);
    scratchBuf.u32 = new Uint32Array(scratchBuf.f32.buffer);
  }
  return scratchBuf;
}

/** Row r of W [rows, K] as float32 values in out[0..K) (a copy, widened when bfloat16); bits: out's Uint32Array alias. */
function rowInto(out, W, r, K, bits = null) {
  const o = r * K;
  if (W instanceof Float32Array) { out.set(W.subarray(o, o + K)); return out; }
  bits = bits || new Uint32Array(out.buffer, out.byteOffset, K);
  for (let k = 0; k < K; k++) bits[k] = W[o + k] << 16;     // bfloat16 is float32's upper half
  return out;
}

/** A whole tensor as float32 (norm vectors: small). */
function widen(data) {
  return data instanceof Float32Array ? data : rowInto(new Float32Array(data.length), data, 0, data.length);
}

/** a[ao .. ao+K) · b[bo .. bo+K), four partial sums. */
function dot(a, ao, b, bo, K) {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, k = 0;
  for (; k + 3 < K; k += 4) {
    s0 += a[ao + k] * b[bo + k]; s1 += a[ao + k + 1] * b[bo + k + 1];
    s2 += a[ao + k + 2] * b[bo + k + 2]; s3 += a[ao + k + 3] * b[bo + k + 3];
  }
  for (; k < K; k++) s0 += a[ao + k] * b[bo + k];
  return (s0 + s1) + (s2 + s3);
}

/**
 * nn.Linear without bias: y [T, N] = x [T, K] · Wᵀ, W [N, K] (float32 or bfloat16 bits).
 * Each row of W is widened once into a float32 scratch row, then met by all T rows of x.
 * into: y += x Wᵀ (the residual add) instead of a new array.
 */
export function linear(x, W, T, K, N, into = null) {
  const y = into || new Float32Array(T * N);
  const f32 = W instanceof Float32Array, { f32: row, u32: bits } = scratch(K);
  for (let n = 0; n < N; n++) {
    let b = W, bo = n * K;
    if (!f32) { rowInto(row, W, n, K, bits); b = row; bo = 0; }
    for (let t = 0; t < T; t++) {
      const s = dot(x, t * K, b, bo, K);
      if (into) y[t * N + n] += s; else y[t * N + n] = s;
    }
  }
  return y;
}

/** RMSNorm per row: x [T, d] -> x / sqrt(mean(x²) + eps) · w, in float32. */
export function rmsNorm(x, w, T, d, eps) {
  const y = new Float32Array(T * d);
  for (let t = 0; t < T; t++) {
    const o = t * d;
    let ss = 0;
    for (let c = 0; c < d; c++) ss += x[o + c] * x[o + c];
    const inv = Math.fround(1 / Math.sqrt(Math.fround(Math.fround(ss / d) + eps)));
    for (let c = 0; c < d; c++) y[o + c] = w[c] * Math.fround(x[o + c] * inv);
  }
  return y;
}

/** RoPE's inverse frequencies as transformers computes them in float32: 1 / theta^(2i / hd), i < hd/2. */
export function ropeFrequencies(hd, theta) {
  const f = new Float32Array(hd / 2);
  for (let i = 0; i < hd / 2; i++) f[i] = 1 / Math.fround(theta ** Math.fround((2 * i) / hd));
  return f;
}

/**
 * Rotate-half RoPE in place on x [T, heads·hd] at positions past .. past+T-1: dimension j pairs
 * with j + hd/2 (not interleaved), angle position · invFreq[j] rounded to float32 as in transformers.
 */
export function applyRope(x, T, heads, hd, past, invFreq) {
  const half = hd / 2, cos = new Float32Array(half), sin = new Float32Array(half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(invFreq[i] * (past + t));
      cos[i] = Math.cos(angle); sin[i] = Math.sin(angle);
    }
    for (let h = 0; h < heads; h++) {
      const o = (t * heads + h) * hd;
      for (let i = 0; i < half; i++) {
        const a = x[o + i], b = x[o + i + half];
        x[o + i] = a * cos[i] - b * sin[i];
        x[o + i + half] = b * cos[i] + a * sin[i];
      }
    }
  }
  return x;
}

const silu = (g) => g / (1 + Math.exp(-g));

// ---------------------------------------------------------------------------------------------

/** The KV cache: K (after RoPE) and V rows of every layer, float32, grown as tokens come. */
export class LlamaCache {
  constructor(config) {
    this.config = config;
    this.width = config.num_key_value_heads * config.head_dim;           // KV·hd floats per token and layer
    this.capacity = 0;
    this.keys = [];                                                       // [L][capacity, KV·hd]
    this.values = [];
    this.length = 0;
  }

  /** Room for n tokens (doubling, at most max_position_embeddings). */
  reserve(n) {
    if (n <= this.capacity) return;
    const cap = Math.min(Math.max(n, 2 * this.capacity, 16), this.config.max_position_embeddings), L = this.config.num_hidden_layers;
    const grow = (old) => { const a = new Float32Array(cap * this.width); if (old) a.set(old.subarray(0, this.length * this.width)); return a; };
    this.keys = Array.from({ length: L }, (_, l) => grow(this.keys[l]));
    this.values = Array.from({ length: L }, (_, l) => grow(this.values[l]));
    this.capacity = cap;
  }

  /** Bytes the cached tokens hold: 2 (K, V) × layers × tokens × KV heads × head_dim × 4. */
  get bytes() { return this.length * LlamaCache.bytesPerToken(this.config); }

  static bytesPerToken(c) { return 2 * c.num_hidden_layers * c.num_key_value_heads * c.head_dim * 4; }
}

function keptLayers(option, L) {
  if (option === "all") return new Set(Array.from({ length: L }, (_, i) => i));
  if (option === undefined || option === "none" || option === null) return new Set();
  return new Set(option);
}

class LlamaCPU {
  constructor(config, w, tied) {
    this.config = config;
    this.w = w;
    this.tied = tied;
    this.invFreq = ropeFrequencies(config.head_dim, config.rope_theta);
    const all = [w.embed, w.norm, ...(tied ? [] : [w.head])];
    for (const l of w.layers) all.push(l.ln1, l.q, l.k, l.v, l.o, l.ln2, l.gate, l.up, l.down);
    this.weightBytes = all.reduce((s, a) => s + a.byteLength, 0);      // what the weights take in memory
    this.dtype = w.layers[0].q instanceof Uint16Array ? "BF16" : "F32";
  }

  get backend() { return "cpu"; }

  newCache() { return new LlamaCache(this.config); }

  /**
   * ids [T] -> {logits [rows × V], logitRows, past, T, positions [T], residual [L+1][T, d] (entering each
   * layer, then leaving the last, before the final norm), attention [L] ([H, T, past+T] for kept layers,
   * else null), rope ({layer, q, k: after RoPE [T, H·hd] / [T, KV·hd], qRaw, kRaw: before, invFreq}),
   * mlp ({layer, gate, up, act = silu(gate)·up: [T, I]}), norm [T, d] (the final RMSNorm)}.
   * opts: cache (a LlamaCache, extended), logits "all" | "last", residual true | false,
   * attention "none" (default) | "all" | [layers], rope: a layer or null, mlp: a layer or null.
   */
  async forward(ids, { cache = null, logits = "all", residual = true, attention = "none", rope = null, mlp = null } = {}) {
    const c = this.config, w = this.w, d = c.hidden_size, L = c.num_hidden_layers, I = c.intermediate_size;
    const H = c.num_attention_heads, KV = c.num_key_value_heads, hd = c.head_dim, eps = c.rms_norm_eps;
    const past = cache ? cache.length : 0;
    ids = checkIds(ids, c, past, c.max_position_embeddings);
    const T = ids.length, keep = keptLayers(attention, L);
    if (cache) cache.reserve(past + T);
    const x = new Float32Array(T * d);                                    // the residual stream [T, d]
    for (let t = 0; t < T; t++) rowInto(x.subarray(t * d, (t + 1) * d), w.embed, ids[t], d);
    const out = { past, T, positions: Int32Array.from(ids, (_, t) => past + t), residual: residual ? [x.slice()] : null, attention: [] };
    for (let l = 0; l < L; l++) {
      const lw = w.layers[l];
      const h = rmsNorm(x, lw.ln1, T, d, eps);
      const q = linear(h, lw.q, T, d, H * hd), k = linear(h, lw.k, T, d, KV * hd), v = linear(h, lw.v, T, d, KV * hd);
      const raw = rope === l ? { qRaw: q.slice(), kRaw: k.slice() } : null;
      applyRope(q, T, H, hd, past, this.invFreq);
      applyRope(k, T, KV, hd, past, this.invFreq);
      if (raw) out.rope = { layer: l, q, k, ...raw, invFreq: this.invFreq };
      let keys = k, values = v;
      if (cache) {
        keys = cache.keys[l]; values = cache.values[l];
        keys.set(k, past * KV * hd); values.set(v, past * KV * hd);
      }
      const att = attend(q, keys, values, T, past, c, keep.has(l));
      linear(att.out, lw.o, T, H * hd, d, x);                              // x += heads · o_projᵀ
      const h2 = rmsNorm(x, lw.ln2, T, d, eps);
      const gate = linear(h2, lw.gate, T, d, I), up = linear(h2, lw.up, T, d, I), act = new Float32Array(T * I);
      for (let i = 0; i < T * I; i++) act[i] = silu(gate[i]) * up[i];
      linear(act, lw.down, T, I, d, x);                                   // x += down(silu(gate) · up)
      if (mlp === l) out.mlp = { layer: l, gate, up, act };
      out.attention.push(att.probs);
      if (residual) out.residual.push(x.slice());
    }
    if (cache) cache.length = past + T;
    out.norm = rmsNorm(x, w.norm, T, d, eps);
    out.logitRows = logits === "last" ? 1 : T;
    out.logits = linear(out.norm.subarray((T - out.logitRows) * d), w.head, out.logitRows, d, c.vocab_size);
    return out;
  }

  /** The head's logits for any residual row [d] (the logit lens): final RMSNorm, then lm_head -> [V]. */
  lens(row) {
    const c = this.config;
    return linear(rmsNorm(row, this.w.norm, 1, c.hidden_size, c.rms_norm_eps), this.w.head, 1, c.hidden_size, c.vocab_size);
  }

  /**
   * Greedy decoding: the prompt through the cache, then the argmax token, one at a time, until one of
   * stop or maxNewTokens. onToken(id, step) is awaited after each; returning false stops. -> {ids, cache}.
   */
  async generate(ids, { maxNewTokens = 32, stop = [2], cache = null, onToken = null } = {}) {
    cache = cache || this.newCache();
    let next = Int32Array.from(ids);
    const made = [];
    for (let step = 0; step < maxNewTokens && cache.length + next.length <= this.config.max_position_embeddings; step++) {
      const { logits } = await this.forward(next, { cache, logits: "last", residual: false });
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      made.push(best);
      if (onToken && (await onToken(best, step)) === false) break;
      if (stop.includes(best)) break;
      next = Int32Array.of(best);
    }
    return { ids: made, cache };
  }
}

/**
 * Causal grouped-query attention of T new queries over past + T keys. q [T, H·hd] after RoPE;
 * keys, values [past+T (or more), KV·hd] (the cache's rows, or this pass's). Query head h reads KV
 * head floor(h / (H / KV)). -> {out [T, H·hd], probs [H, T, past+T] when kept, else null}.
 */
export function attend(q, keys, values, T, past, config, keepProbs = false) {
  const { num_attention_heads: H, num_key_value_heads: KV, head_dim: hd } = config;
  const Tk = past + T, kvw = KV * hd, group = H / KV, scale = 1 / Math.sqrt(hd);
  const out = new Float32Array(T * H * hd), probs = keepProbs ? new Float32Array(H * T * Tk) : null;
  const row = new Float32Array(Tk);
  for (let h = 0; h < H; h++) {
    const g = Math.floor(h / group) * hd;
    for (let t = 0; t < T; t++) {
      const qo = (t * H + h) * hd, last = past + t;
      let max = -Infinity, sum = 0;
      for (let j = 0; j <= last; j++) {
        row[j] = Math.fround(dot(q, qo, keys, j * kvw + g, hd)) * scale;
        if (row[j] > max) max = row[j];
      }
      for (let j = 0; j <= last; j++) { row[j] = Math.exp(row[j] - max); sum += row[j]; }
      for (let j = 0; j <= last; j++) {
        const p = row[j] / sum, vo = j * kvw + g;
        if (probs) probs[(h * T + t) * Tk + j] = p;
        for (let e = 0; e < hd; e++) out[qo + e] += p * values[vo + e];
      }
    }
  }
  return { out, probs };
}
