// What both GPT-2 engines share (gpt2.js on the CPU, gpt2-webgpu.js): the checkpoint's
// shapes, the KV cache's size, the checks on a forward's input, and the host-side
// embedding lookup and logit lens. Not handled: GPT-2 variants with another MLP width than 4·n_embd.

import { layerNorm } from "./cpu.js";

/** The checkpoint's shapes for a config: name -> shape (Conv1D weights are [in, out]). */
export function gpt2Shapes(c) {
  const d = c.n_embd, shapes = { "wte.weight": [c.vocab_size, d], "wpe.weight": [c.n_positions, d], "ln_f.weight": [d], "ln_f.bias": [d] };
  const per = { "ln_1.weight": [d], "ln_1.bias": [d], "attn.c_attn.weight": [d, 3 * d], "attn.c_attn.bias": [3 * d],
    "attn.c_proj.weight": [d, d], "attn.c_proj.bias": [d], "ln_2.weight": [d], "ln_2.bias": [d],
    "mlp.c_fc.weight": [d, 4 * d], "mlp.c_fc.bias": [4 * d], "mlp.c_proj.weight": [4 * d, d], "mlp.c_proj.bias": [d] };
  for (let i = 0; i < c.n_layer; i++) for (const [k, s] of Object.entries(per)) shapes[`h.${i}.${k}`] = s;
  return shapes;
}

/** A KV cache: K and V rows of every layer, float32, for up to n_positions tokens. */
export class KVCache {
  /** host: keep the rows in Float32Arrays (the CPU engine); the WebGPU engine keeps them on the device. */
  constructor(config, { host = true } = {}) {
    const { n_layer: L, n_positions: C, n_embd: d } = config;
    this.config = config;
    this.keys = host ? Array.from({ length: L }, () => new Float32Array(C * d)) : null;     // [L][C, d]
    this.values = host ? Array.from({ length: L }, () => new Float32Array(C * d)) : null;
    this.length = 0;
  }

  /** Bytes the cache holds: 2 (K, V) × layers × tokens × n_embd × 4. */
  get bytes() { return 2 * this.config.n_layer * this.length * this.config.n_embd * 4; }

  static bytesPerToken(config) { return 2 * config.n_layer * config.n_embd * 4; }
}

/** Check ids against the vocabulary and the context (GPT-2's n_positions unless given); -> Int32Array. */
export function checkIds(ids, config, past = 0, context = config.n_positions) {
  const out = Int32Array.from(ids);
  if (!out.length) throw new RangeError("no tokens: the prompt is empty");
  const bad = out.findIndex((id) => id < 0 || id >= config.vocab_size);
  if (bad >= 0) throw new RangeError(`token id ${out[bad]} at position ${bad} is outside the vocabulary [0, ${config.vocab_size})`);
  if (past + out.length > context) {
    throw new RangeError(`${past} cached + ${out.length} new tokens pass the context of ${context} positions`);
  }
  return out;
}

/** Which layers keep their attention probabilities: "all", "none" or a list. */
export function keptLayers(option, L) {
  if (option === undefined || option === "all") return new Set(Array.from({ length: L }, (_, i) => i));
  if (option === "none") return new Set();
  return new Set(option);
}

/** Each token's row of wte and its position's row of wpe: {token, position}, each [T, d]. */
export function embed(w, ids, past, d) {
  const T = ids.length, token = new Float32Array(T * d), position = new Float32Array(T * d);
  for (let t = 0; t < T; t++) {
    token.set(w.wte.subarray(ids[t] * d, (ids[t] + 1) * d), t * d);
    position.set(w.wpe.subarray((past + t) * d, (past + t + 1) * d), t * d);
  }
  return { token, position };
}

/** x [rows, d] times wteᵀ, one dot product per vocabulary row (no transposed copy): [rows, V]. */
export function tiedHead(wte, x, rows, d) {
  const V = wte.length / d, y = new Float32Array(rows * V);
  for (let r = 0; r < rows; r++) {
    const xr = x.subarray(r * d, (r + 1) * d);
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let c = 0, o = v * d; c < d; c++) s += xr[c] * wte[o + c];
      y[r * V + v] = s;
    }
  }
  return y;
}

/** The logit lens: one residual row [d] through ln_f and the tied head -> [V]. */
export function lens(w, row, d) {
  return tiedHead(w.wte, layerNorm(row, w.lnf[0], w.lnf[1], 1, d).y, 1, d);
}
