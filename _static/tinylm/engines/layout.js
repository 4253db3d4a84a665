// The tiny transformer's config and tensor layout (CONTRACTS §4), shared by both engines.
//
// All parameters live in one flat Float32Array. Each tensor starts at a multiple of
// 64 floats (256 bytes, WebGPU's storage-offset alignment), so a GPU buffer can hold
// the same layout byte for byte. Not handled: configs beyond what fits in memory.

export const FORMAT = "llmbook-tiny/1";
export const CONFIG_KEYS = ["vocab_size", "context_len", "d_model", "n_heads", "n_layers", "d_ff"];
const ALIGN = 64;

/** A complete, checked config; d_ff defaults to 4·d_model. Throws Error naming the problem. */
export function normalizeConfig(raw) {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new Error("weights file has no 'config' object");
  const unknown = Object.keys(raw).filter((k) => !CONFIG_KEYS.includes(k));
  if (unknown.length) throw new Error(`unknown config keys ${JSON.stringify(unknown)}`);
  const c = { ...raw };
  if (c.d_ff === undefined || c.d_ff === null) c.d_ff = 4 * c.d_model;
  for (const k of CONFIG_KEYS) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`config ${k} must be a positive integer, not ${JSON.stringify(c[k])}`);
  }
  if (c.d_model % c.n_heads) throw new Error(`d_model ${c.d_model} is not divisible by n_heads ${c.n_heads}`);
  if (c.vocab_size > 65536) throw new Error(`vocab_size ${c.vocab_size} is over the widget's limit of 65,536`);
  const total = layout(c).total;
  if (total > 64e6) throw new Error(`${total.toLocaleString("en")} parameters is more than this page can hold (64 M)`);
  return Object.fromEntries(CONFIG_KEYS.map((k) => [k, c[k]]));
}

/** [[name, shape], …] in file order. */
export function tensorShapes(c) {
  const d = c.d_model;
  const out = [["tok_emb", [c.vocab_size, d]], ["pos_emb", [c.context_len, d]]];
  for (let i = 0; i < c.n_layers; i++) {
    const p = `layers.${i}.`;
    out.push([p + "ln1.weight", [d]], [p + "ln1.bias", [d]], [p + "attn.w_qkv", [d, 3 * d]],
      [p + "attn.w_out", [d, d]], [p + "ln2.weight", [d]], [p + "ln2.bias", [d]],
      [p + "ffn.w1", [d, c.d_ff]], [p + "ffn.w2", [c.d_ff, d]]);
  }
  out.push(["ln_f.weight", [d]], ["ln_f.bias", [d]]);
  return out;
}

/** {entries: [{name, shape, offset, size}], byName, total (floats, padded), count (real params)}. */
export function layout(c) {
  const entries = [];
  let offset = 0, count = 0;
  for (const [name, shape] of tensorShapes(c)) {
    const size = shape.reduce((a, b) => a * b, 1);
    entries.push({ name, shape, offset, size });
    offset += Math.ceil(size / ALIGN) * ALIGN;
    count += size;
  }
  return { entries, byName: Object.fromEntries(entries.map((e) => [e.name, e])), total: offset, count };
}

/** Named views into a flat parameter (or gradient) array. */
export function views(c, flat) {
  const out = {};
  for (const e of layout(c).entries) out[e.name] = flat.subarray(e.offset, e.offset + e.size);
  return out;
}
