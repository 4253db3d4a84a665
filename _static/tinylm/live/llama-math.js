// The numbers the live TinyLlama page shows that are not the engine's own output, each computed
// here from the live pass (llama.js forward: rope, mlp, attention, residual, norm) and the config,
// in small functions that run under Node: the chat template's ids, RoPE's angles and what the
// rotation does to one query–key dot product, GQA's head groups and KV bytes, SwiGLU for one
// token, RMSNorm of one row, the answer's text from its ids.
// Not handled: system or earlier assistant messages (one user turn), RoPE scaling.

import { softmax } from "../engines/decode.js";
import { maxAbsDiff, topK } from "./live-math.js";

/**
 * The chat template applied to one message, as llmbook.lm.tokenizers.template_ids does it: each
 * text stretch between special tokens encoded on its own (the message inside its stretch, as text:
 * a typed "</s>" stays characters), special tokens as their ids. parts: llama-data.js "template".
 * -> {ids, segments: [{kind: "special" | "text", name?, text?, ids, message: bool}]}
 */
export function chatIds(parts, encode, message, marker) {
  const ids = [], segments = [];
  for (const part of parts) {
    if ("special" in part) {
      ids.push(part.special);
      segments.push({ kind: "special", name: part.name, ids: [part.special], message: false });
      continue;
    }
    const text = part.text.split(marker).join(message), stretch = encode(text);
    ids.push(...stretch);
    segments.push({ kind: "text", text, ids: stretch, message: part.text.includes(marker) });
  }
  return { ids, segments };
}

/** The answer's text from its ids as sentencepiece decodes it: pieces joined, "▁" a space (the first one dropped),
 *  <0xNN> pieces as bytes, UTF-8 decoded (a character cut at the end shows as U+FFFD); special ids left out. */
export function decodePieces(ids, pieces, special = {}) {
  const bytes = [], enc = new TextEncoder();
  for (const id of ids) {
    if (special[id] !== undefined) continue;
    const p = pieces[id] ?? "", byte = /^<0x([0-9A-F]{2})>$/.exec(p);
    if (byte) bytes.push(parseInt(byte[1], 16));
    else bytes.push(...enc.encode(p.replace(/\u2581/g, " ")));
  }
  const text = new TextDecoder("utf-8").decode(Uint8Array.from(bytes));
  return text.startsWith(" ") ? text.slice(1) : text;          // the first piece's ▁ is the dummy prefix: sentencepiece drops it
}

/** RoPE's angle for every frequency pair at one position: position · invFreq[i] (float32, as the engine). [hd/2] */
export function ropeAngles(invFreq, position) {
  return Float32Array.from(invFreq, (f) => Math.fround(f * position));
}

/** One head's vector [hd] rotated to `position`, rotate-half: dimension i pairs with i + hd/2. */
export function rotate(vec, invFreq, position) {
  const half = vec.length / 2, out = new Float32Array(vec.length), angles = ropeAngles(invFreq, position);
  for (let i = 0; i < half; i++) {
    const c = Math.cos(angles[i]), s = Math.sin(angles[i]), a = vec[i], b = vec[i + half];
    out[i] = a * c - b * s;
    out[i + half] = b * c + a * s;
  }
  return out;
}

const dot = (a, b) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; };
const row = (a, r, w, o, n) => a.slice(r * w + o, r * w + o + n);

/**
 * RoPE on one query head of the pass (rope: forward's {q, k, qRaw, kRaw, invFreq} for one layer):
 * the query at position t (past + T - 1, the last) and the key of every position s ≤ t from its KV head.
 * -> {t, angles [hd/2] at t, dots: [{s, raw: q·k before RoPE, rotated: after}], check: max |Δ| between
 * this rotation and the engine's, shift: {by, delta}: both rotated again to t + by and s + by, the
 * largest change of any rotated dot (only the distance t − s matters), norms: ‖q‖ before and after}.
 */
export function ropeView(rope, config, head, past, T, shift = 100) {
  const { num_attention_heads: H, num_key_value_heads: KV, head_dim: hd } = config, g = Math.floor(head / (H / KV));
  const last = T - 1, t = past + last;
  const qRaw = row(rope.qRaw, last, H * hd, head * hd, hd), qEngine = row(rope.q, last, H * hd, head * hd, hd);
  const q = rotate(qRaw, rope.invFreq, t);
  let check = maxAbsDiff(q, qEngine), moved = 0;
  const dots = [];
  for (let j = 0; j < T; j++) {
    const s = past + j, kRaw = row(rope.kRaw, j, KV * hd, g * hd, hd), k = rotate(kRaw, rope.invFreq, s);
    check = Math.max(check, maxAbsDiff(k, row(rope.k, j, KV * hd, g * hd, hd)));
    const rotated = dot(q, k), again = dot(rotate(qRaw, rope.invFreq, t + shift), rotate(kRaw, rope.invFreq, s + shift));
    moved = Math.max(moved, Math.abs(again - rotated) / Math.max(1, Math.abs(rotated)));
    dots.push({ s, raw: dot(qRaw, kRaw), rotated });
  }
  return { t, kvHead: g, angles: ropeAngles(rope.invFreq, t), dots, check, shift: { by: shift, delta: moved },
    norms: [Math.hypot(...qRaw), Math.hypot(...q)] };
}

/** GQA: the query heads that read each KV head (head h reads floor(h / (H / KV))). [KV][H/KV] */
export function gqaGroups({ num_attention_heads: H, num_key_value_heads: KV }) {
  const group = H / KV;
  return Array.from({ length: KV }, (_, g) => Array.from({ length: group }, (_, i) => g * group + i));
}

/** KV-cache bytes per token in float32, as the engine keeps it, and what one KV head per query head would take. */
export function kvBytes({ num_hidden_layers: L, num_attention_heads: H, num_key_value_heads: KV, head_dim: hd }, bytes = 4) {
  const perToken = 2 * L * KV * hd * bytes, withoutGqa = 2 * L * H * hd * bytes;
  return { perToken, withoutGqa, saved: withoutGqa - perToken, ratio: withoutGqa / perToken };
}

/**
 * Causal attention of one query head over T positions from the rotated q [T, H·hd] and k [T, KV·hd]
 * of a pass with no past: scores, scaled, masked, probs ([T, T] each), and max |Δ| against the
 * engine's own probabilities (engine: [H, T, T] or null).
 */
export function headStages(rope, config, head, T, engine = null) {
  const { num_attention_heads: H, num_key_value_heads: KV, head_dim: hd } = config, g = Math.floor(head / (H / KV));
  const scale = 1 / Math.sqrt(hd), n = T * T;
  const scores = new Float32Array(n), scaled = new Float32Array(n), masked = new Float32Array(n), probs = new Float32Array(n);
  for (let i = 0; i < T; i++) {
    const q = row(rope.q, i, H * hd, head * hd, hd);
    for (let j = 0; j < T; j++) {
      const s = dot(q, row(rope.k, j, KV * hd, g * hd, hd));
      scores[i * T + j] = s;
      scaled[i * T + j] = s * scale;
      masked[i * T + j] = j <= i ? s * scale : -Infinity;
    }
    probs.set(softmax(masked.subarray(i * T, (i + 1) * T)), i * T);
  }
  const delta = engine ? maxAbsDiff(probs, engine.subarray(head * n, (head + 1) * n)) : null;
  return { scores, scaled, masked, probs, delta, dh: hd, kvHead: g };
}

/** The last position's attention row [T] of each query head in a group, from the engine's [H, T, T]. */
export function groupRows(engine, heads, T) {
  return heads.map((h) => engine.slice((h * T + T - 1) * T, (h * T + T) * T));
}

const silu = (x) => x / (1 + Math.exp(-x));

/**
 * SwiGLU for token t of a pass (mlp: forward's {gate, up, act} [T, I]): the k units with the largest
 * |silu(gate)·up|, each with gate, silu(gate), up and the product; how many gates silu nearly closes
 * (silu(gate) within ±0.05 of 0 … below zero it lets through at most −0.28); max |Δ| between
 * silu(gate)·up recomputed here and the engine's; and the product's norm.
 */
export function swigluView(mlp, t, I, k = 8) {
  const gate = mlp.gate.subarray(t * I, (t + 1) * I), up = mlp.up.subarray(t * I, (t + 1) * I), act = mlp.act.subarray(t * I, (t + 1) * I);
  const mine = Float32Array.from(gate, (g, i) => silu(g) * up[i]);
  const mag = Float32Array.from(act, Math.abs), units = topK(mag, k);
  let closed = 0, negative = 0;
  for (const g of gate) { if (Math.abs(silu(g)) < 0.05) closed++; if (g < 0) negative++; }
  return { units: units.map((i) => ({ i, gate: gate[i], silu: silu(gate[i]), up: up[i], act: act[i] })),
    closed, negative, I, delta: maxAbsDiff(mine, act), norm: Math.hypot(...act) };
}

/** RMSNorm of one row before its learned gain: rms = sqrt(mean(x²) + eps), x / rms (length √d). */
export function rmsView(x, eps) {
  let ss = 0;
  for (const v of x) ss += v * v;
  const rms = Math.sqrt(ss / x.length + eps), normed = Float32Array.from(x, (v) => v / rms);
  return { rms, inv: 1 / rms, normed, length: Math.hypot(...x), normedLength: Math.hypot(...normed) };
}

/** Weight bytes of a Llama config in bfloat16 (embeddings, head, every layer's matrices and norms). */
export function weightBytes(c, bytes = 2) {
  const d = c.hidden_size, hd = c.head_dim || d / c.num_attention_heads;
  const q = c.num_attention_heads * hd, kv = c.num_key_value_heads * hd;
  const layer = 2 * d + 2 * d * q + 2 * d * kv + 3 * d * c.intermediate_size;
  return bytes * ((c.tie_word_embeddings ? 1 : 2) * c.vocab_size * d + d + c.num_hidden_layers * layer);
}

/** The memory asked for beyond the weights (a rule of thumb, not a measurement): llama_live.MEMORY_MARGIN. */
export const MEMORY_MARGIN = 1.15;

/**
 * What to say about memory before a download of `need` bytes. deviceMemory: navigator.deviceMemory
 * (GB, rounded down and capped at 8 by the browser; undefined where not reported).
 * -> {ok: false, text} when the device says it has too little; {ok: true, text} otherwise.
 */
export function memoryAdvice(need, deviceMemory) {
  const gb = (n) => `${(n / 1e9).toFixed(1)} GB`;
  const total = `about ${gb(need * MEMORY_MARGIN)}: the ${gb(need)} of weights and ${Math.round(100 * (MEMORY_MARGIN - 1))}% more ` +
    "for the KV cache and the pass's working arrays";
  if (!deviceMemory) return { ok: true, text: `This browser does not say how much memory the device has; the model needs ${total}.` };
  if (deviceMemory * 1e9 < need * 1.5) {
    return { ok: false, text: `This device reports about ${deviceMemory} GB of memory; the weights alone take ${gb(need)}, and the ` +
      "browser, the page and the KV cache need more. It will probably not fit: the download may fail or the tab may close." };
  }
  return { ok: true, text: `This device reports at least ${deviceMemory} GB of memory; the model needs ${total}.` };
}
