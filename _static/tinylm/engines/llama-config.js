// What every Llama engine shares (llama.js's CPU engines, llama-webgpu.js): the checkpoint's
// names and shapes, the config read from them, and the checks that refuse a wrong file by
// name. Pure functions of a Map name -> {dtype, shape[, data]}: they work on parseSafetensors'
// tensors and on a bare header's entries alike (the streamed loader checks a file from its
// header, before its 2 GB body arrive). No engine imports: an engine module may import this
// one without a cycle (llama.js imports the engines).
// Not handled: RoPE scaling (refused by name), attention or MLP biases (refused), sliding windows.

export class CheckpointError extends Error {}

/** TinyLlama-1.1B's values, used for what neither config.json nor the shapes say. */
export const LLAMA_DEFAULTS = { head_dim: 64, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 2048 };

/** The seven matrices of a layer, in the order the engines keep them. */
export const LAYER_MATRICES = ["q", "k", "v", "o", "gate", "up", "down"];

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
const LAYER_NAMES = {                          // the engines' short names -> the checkpoint's
  ln1: "input_layernorm.weight", q: "self_attn.q_proj.weight", k: "self_attn.k_proj.weight", v: "self_attn.v_proj.weight",
  o: "self_attn.o_proj.weight", ln2: "post_attention_layernorm.weight", gate: "mlp.gate_proj.weight", up: "mlp.up_proj.weight",
  down: "mlp.down_proj.weight",
};
const IGNORED = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;   // a buffer older checkpoints saved

/** Checkpoint name of layer i's tensor `short` (ln1, q, k, v, o, ln2, gate, up, down). */
export const layerName = (i, short) => `model.layers.${i}.${LAYER_NAMES[short]}`;

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
 * Names and shapes checked, no data read: Map name -> {dtype, shape} (parseSafetensors' tensors
 * or a header's entries) -> {config, tied, shapes}. Throws CheckpointError naming what does not fit.
 */
export function llamaLayout(tensors, given = {}) {
  if (!(tensors instanceof Map)) throw new CheckpointError("expected the tensors as parseSafetensors returns them (a Map)");
  given = given || {};
  for (const gpt2 of ["wte.weight", "transformer.wte.weight", "h.0.attn.c_attn.weight"]) {
    if (tensors.has(gpt2)) throw new CheckpointError(`this is a GPT-2 checkpoint (it has ${gpt2}), not a Llama one: it belongs on the GPT-2 page`);
  }
  if (!tensors.has("model.embed_tokens.weight")) throw new CheckpointError("this is not a Llama checkpoint: it has no tensor model.embed_tokens.weight");
  const config = llamaConfig(tensors, given);
  const tied = !tensors.has("lm_head.weight");
  if (tied && !given.tie_word_embeddings) throw new CheckpointError("this checkpoint has no lm_head.weight (Llama's head is untied); if it is tied, pass config.tie_word_embeddings");
  const shapes = llamaShapes(config, { head: !tied });
  for (const name of tensors.keys()) {
    if (!(name in shapes) && !IGNORED.test(name)) {
      throw new CheckpointError(`tensor ${name} is not part of a Llama checkpoint with ${config.num_hidden_layers} layers`);
    }
  }
  for (const [name, want] of Object.entries(shapes)) {
    const t = tensors.get(name);
    if (!t) throw new CheckpointError(`this Llama checkpoint has no tensor ${name}`);
    if (t.shape.length !== want.length || t.shape.some((s, i) => s !== want[i])) {
      throw new CheckpointError(`tensor ${name} has shape ${JSON.stringify(t.shape)}; a Llama with hidden_size ${config.hidden_size}, ` +
        `${config.num_attention_heads} heads of ${config.head_dim} (${config.num_key_value_heads} KV) and intermediate_size ` +
        `${config.intermediate_size} needs ${JSON.stringify(want)}`);
    }
  }
  return { config, tied, shapes };
}

/**
 * The one place checkpoint names meet the engines: Map from parseSafetensors ->
 * {config, tied, w: {embed, norm, head, layers: [{ln1, q, k, v, o, ln2, gate, up, down}]}}. Matrices
 * keep their stored data (Uint16Array of bfloat16 bits, or Float32Array); norm vectors are
 * widened to float32 (d values each). Throws CheckpointError naming what does not fit.
 */
export function llamaWeights(tensors, given = {}) {
  const { config, tied, shapes } = llamaLayout(tensors, given);
  const need = (name) => {
    const t = tensors.get(name), n = shapes[name].reduce((a, b) => a * b, 1), data = t.data;
    const ok = data && data.length === n && (data instanceof Float32Array || (data instanceof Uint16Array && t.dtype === "BF16"));
    if (!ok) throw new CheckpointError(`tensor ${name} (${t.dtype}) should hold ${n} values as a Float32Array, or BF16 bits as a Uint16Array`);
    return data;
  };
  const vec = (name) => widenBF16(need(name));
  const layers = Array.from({ length: config.num_hidden_layers }, (_, i) => {
    const l = { ln1: vec(layerName(i, "ln1")), ln2: vec(layerName(i, "ln2")) };
    for (const m of LAYER_MATRICES) l[m] = need(layerName(i, m));
    return l;
  });
  const embed = need("model.embed_tokens.weight");
  return { config, tied, w: { embed, norm: vec("model.norm.weight"), head: tied ? embed : need("lm_head.weight"), layers } };
}

/** A tensor's data as float32: a Float32Array as it is, a Uint16Array of bfloat16 bits widened (a copy). */
export function widenBF16(data) {
  if (data instanceof Float32Array) return data;
  const bits = new Uint32Array(data.length);
  for (let i = 0; i < data.length; i++) bits[i] = data[i] << 16;       // bfloat16 is float32's upper half
  return new Float32Array(bits.buffer);
}
