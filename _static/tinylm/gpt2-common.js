// What both GPT-2 engines share (gpt2.js on the CPU, gpt2-webgpu.js): the checkpoint's
// shapes, the KV cache's size, and the checks on a forward's input.
// Not handled: GPT-2 variants with another MLP width than 4·n_embd.

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

/** Check ids against the vocabulary and the context; -> Int32Array. */
export function checkIds(ids, config, past = 0) {
  const out = Int32Array.from(ids);
  if (!out.length) throw new RangeError("no tokens: the prompt is empty");
  const bad = out.findIndex((id) => id < 0 || id >= config.vocab_size);
  if (bad >= 0) throw new RangeError(`token id ${out[bad]} at position ${bad} is outside the vocabulary [0, ${config.vocab_size})`);
  if (past + out.length > config.n_positions) {
    throw new RangeError(`${past} cached + ${out.length} new tokens pass the context of ${config.n_positions} positions`);
  }
  return out;
}

/** Which layers keep their attention probabilities: "all", "none" or a list. */
export function keptLayers(option, L) {
  if (option === undefined || option === "all") return new Set(Array.from({ length: L }, (_, i) => i));
  if (option === "none") return new Set();
  return new Set(option);
}
