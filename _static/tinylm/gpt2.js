// GPT-2-family checkpoints in the page (CONTRACTS §7): distilgpt2 first.
//
//   import { parseSafetensors, createGPT2 } from "./gpt2.js";
//   const m = await createGPT2(parseSafetensors(bytes), { backend: "webgpu" });   // or "cpu"
//   const cache = m.newCache();
//   const out = await m.forward(ids, { cache });    // {logits [T × V], residual, attention, ...}
//
// The same arithmetic as the book's tiny model (the CPU engine's kernels in linalg.js,
// the WGSL kernels in kernels.js), with GPT-2's biases, its checkpoint's names and a
// KV cache. Names are mapped in one place, gpt2Weights(). Not handled: batches,
// dropout, training (the tiny model's engines train), positions past n_positions (the
// caller cuts the prompt), checkpoints whose head size is not 64 without opts.n_head.

import { layerNorm } from "./cpu.js";
import { checkIds, embed, gpt2Shapes, KVCache, keptLayers, lens, tiedHead } from "./gpt2-common.js";
import { createGPT2GPU } from "./gpt2-webgpu.js";
import { attentionWasm, gelu, matmul, transpose } from "./linalg.js";

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

/** A model on the asked-for backend; WebGPU falls back to the CPU, m.fallback saying why. */
export async function createGPT2(tensors, { backend = "webgpu", n_head, gpu = globalThis.navigator && navigator.gpu } = {}) {
  const { config, w } = gpt2Weights(tensors, { n_head });
  if (backend === "webgpu") {
    try {
      return await createGPT2GPU(config, w, gpu);
    } catch (err) {
      const m = new GPT2CPU(config, w);
      m.fallback = err.message;
      return m;
    }
  }
  if (backend !== "cpu") throw new Error(`backend must be "webgpu" or "cpu", not ${JSON.stringify(backend)}`);
  return new GPT2CPU(config, w);
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

class GPT2CPU {
  constructor(config, w) {
    this.config = config;
    this.w = w;
    this.wteT = null;       // [d, V], made on the first prompt of 4+ tokens
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
