// The Llama engine in plain JavaScript (CONTRACTS §8), and the JavaScript pieces the
// WebAssembly engine (llama-wasm.js) shares: RMSNorm, RoPE, grouped-query attention, the KV
// cache, greedy decoding. The fallback where WebAssembly SIMD is missing (or a matrix is
// float32, or kernel: "js"), and the reference the tests hold the WebAssembly engine to.
// Weight matrices stay in their stored dtype (Uint16Array of bfloat16 bits, or Float32Array)
// and are widened one row at a time inside linear(); sums run in JavaScript numbers (float64,
// so at least float32), results are stored as float32.
// Not handled: batches, training, positions past max_position_embeddings (the caller cuts).

import { checkIds } from "./gpt2-common.js";   // vocabulary and context checks, shared with the GPT-2 engine

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
export function rowInto(out, W, r, K, bits = null) {
  const o = r * K;
  if (W instanceof Float32Array) { out.set(W.subarray(o, o + K)); return out; }
  bits = bits || new Uint32Array(out.buffer, out.byteOffset, K);
  for (let k = 0; k < K; k++) bits[k] = W[o + k] << 16;     // bfloat16 is float32's upper half
  return out;
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

export const silu = (g) => g / (1 + Math.exp(-g));

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

/** Which layers keep their attention probabilities: "none" (default), "all" or a list. */
export function keptLayers(option, L) {
  if (option === "all") return new Set(Array.from({ length: L }, (_, i) => i));
  if (option === undefined || option === "none" || option === null) return new Set();
  return new Set(option);
}

/** The CPU engine in JavaScript: weights read where they lie (views into the file's buffer). */
export class LlamaJS {
  constructor(config, w, tied) {
    this.kernel = "js";
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
   * mlp ({layer, gate, up, act = silu(gate)·up: [T, I], mid: the residual entering the feed-forward sub-block,
   * down: what it adds (the residual after it minus mid): [T, d]}), norm [T, d] (the final RMSNorm)}.
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
      const mid = mlp === l ? x.slice() : null;                             // the residual between the two sub-blocks
      linear(act, lw.down, T, I, d, x);                                   // x += down(silu(gate) · up)
      if (mid) out.mlp = { layer: l, gate, up, act, mid, down: x.map((v, i) => v - mid[i]) };
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

  /** Greedy decoding (greedy() below). */
  generate(ids, opts) { return greedy(this, ids, opts); }
}

/**
 * Greedy decoding on engine m: the prompt through the cache, then the argmax token, one at a time,
 * until one of stop or maxNewTokens. onToken(id, step) is awaited after each; returning false stops.
 * -> {ids, cache}.
 */
export async function greedy(m, ids, { maxNewTokens = 32, stop = [2], cache = null, onToken = null } = {}) {
  cache = cache || m.newCache();
  let next = Int32Array.from(ids);
  const made = [];
  for (let step = 0; step < maxNewTokens && cache.length + next.length <= m.config.max_position_embeddings; step++) {
    const { logits } = await m.forward(next, { cache, logits: "last", residual: false });
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    made.push(best);
    if (onToken && (await onToken(best, step)) === false) break;
    if (stop.includes(best)) break;
    next = Int32Array.of(best);
  }
  return { ids: made, cache };
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
