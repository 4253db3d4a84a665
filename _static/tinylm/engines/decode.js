// Token-by-token inference with a KV cache, on the CPU, for the inference panel.
//
// Each step feeds one token: its query attends over every cached key, its own key
// and value join the cache, and the step returns the next-token logits with each
// head's attention row. A head can be switched off (its output zeroed before
// w_out) to see what it contributes. Not handled: batches; positions past
// context_len (the caller restarts the cache on a shorter window).

import { views } from "./layout.js";

const EPS = 1e-5;
const GELU_K = Math.sqrt(2 / Math.PI);

export class Decoder {
  /** params: flat Float32Array (read, not copied: reset() after the weights change). */
  constructor(config, params) {
    this.config = config;
    this.p = views(config, params);
    const { context_len: C, d_model: d, n_layers: L } = config;
    this.keys = Array.from({ length: L }, () => new Float32Array(C * d));    // [L][C, d]
    this.values = Array.from({ length: L }, () => new Float32Array(C * d));
    this.length = 0;
  }

  reset() { this.length = 0; }

  /** Bytes the cache holds now: K and V, every layer, float32. */
  get cacheBytes() { return 2 * this.config.n_layers * this.length * this.config.d_model * 4; }

  /**
   * Feed token id at the next position.
   * off: Set of "layer.head" strings whose output is zeroed.
   * -> {logits Float32Array [V], attention: [layer][head] Float32Array [length]}
   */
  step(id, off = new Set()) {
    const { d_model: d, n_heads: H, n_layers: L, d_ff: F, vocab_size: V, context_len: C } = this.config;
    if (this.length >= C) throw new Error(`the KV cache is full (${C} positions)`);
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`token id ${id} is outside [0, ${V})`);
    const p = this.p, pos = this.length, dh = d / H, scale = 1 / Math.sqrt(dh);
    const x = new Float32Array(d);
    for (let c = 0; c < d; c++) x[c] = p.tok_emb[id * d + c] + p.pos_emb[pos * d + c];
    const attention = [];
    for (let i = 0; i < L; i++) {
      const w = (s) => p[`layers.${i}.${s}`];
      const qkv = vecmat(norm(x, w("ln1.weight"), w("ln1.bias")), w("attn.w_qkv"), 3 * d);   // [3d]
      this.keys[i].set(qkv.subarray(d, 2 * d), pos * d);
      this.values[i].set(qkv.subarray(2 * d), pos * d);
      const heads = new Float32Array(d), rows = [];
      for (let h = 0; h < H; h++) {
        const row = new Float32Array(pos + 1);
        let max = -Infinity, sum = 0;
        for (let j = 0; j <= pos; j++) {
          let s = 0;
          for (let c = 0; c < dh; c++) s += qkv[h * dh + c] * this.keys[i][j * d + h * dh + c];
          row[j] = s * scale;
          max = Math.max(max, row[j]);
        }
        for (let j = 0; j <= pos; j++) { row[j] = Math.exp(row[j] - max); sum += row[j]; }
        for (let j = 0; j <= pos; j++) row[j] /= sum;
        rows.push(row);
        if (off.has(`${i}.${h}`)) continue;
        for (let j = 0; j <= pos; j++) {
          for (let c = 0; c < dh; c++) heads[h * dh + c] += row[j] * this.values[i][j * d + h * dh + c];
        }
      }
      attention.push(rows);
      addInto(x, vecmat(heads, w("attn.w_out"), d));
      const pre = vecmat(norm(x, w("ln2.weight"), w("ln2.bias")), w("ffn.w1"), F);
      for (let k = 0; k < F; k++) pre[k] = 0.5 * pre[k] * (1 + Math.tanh(GELU_K * (pre[k] + 0.044715 * pre[k] ** 3)));
      addInto(x, vecmat(pre, w("ffn.w2"), d));
    }
    const h = norm(x, p["ln_f.weight"], p["ln_f.bias"]);
    const logits = new Float32Array(V);
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += h[c] * p.tok_emb[v * d + c];
      logits[v] = s;
    }
    this.length++;
    return { logits, attention };
  }
}

/** softmax(logits / temperature), keeping the top k (k ≤ 0: all). Greedy when temperature is 0. */
export function nextTokenProbs(logits, { temperature = 1, topK = 0 } = {}) {
  const V = logits.length, p = new Float32Array(V);
  if (temperature <= 0) {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
    p[best] = 1;
    return p;
  }
  let cutoff = -Infinity;
  if (topK > 0 && topK < V) cutoff = Float32Array.from(logits).sort()[V - topK];
  let max = -Infinity, sum = 0;
  for (let v = 0; v < V; v++) if (logits[v] >= cutoff) max = Math.max(max, logits[v]);
  for (let v = 0; v < V; v++) {
    p[v] = logits[v] >= cutoff ? Math.exp((logits[v] - max) / temperature) : 0;
    sum += p[v];
  }
  for (let v = 0; v < V; v++) p[v] /= sum;
  return p;
}

/** Plain softmax (temperature 1), for showing the model's own distribution. */
export function softmax(logits) { return nextTokenProbs(logits, { temperature: 1 }); }

function norm(x, w, b) {
  const d = x.length, y = new Float32Array(d);
  let mu = 0, v = 0;
  for (let c = 0; c < d; c++) mu += x[c];
  mu /= d;
  for (let c = 0; c < d; c++) v += (x[c] - mu) ** 2;
  const r = 1 / Math.sqrt(v / d + EPS);
  for (let c = 0; c < d; c++) y[c] = (x[c] - mu) * r * w[c] + b[c];
  return y;
}

/** x [K] @ W [K, N] -> [N] */
function vecmat(x, W, N) {
  const y = new Float32Array(N);
  for (let k = 0; k < x.length; k++) {
    const a = x[k], o = k * N;
    for (let n = 0; n < N; n++) y[n] += a * W[o + n];
  }
  return y;
}

function addInto(x, y) { for (let c = 0; c < x.length; c++) x[c] += y[c]; }
