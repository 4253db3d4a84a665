// The numbers the live page shows that are not the engine's own output, each computed
// from the live pass: the pick's filters, one head's attention stages, histograms.
// Not handled: sampling streams equal to PyTorch's (a seeded pick repeats itself here only).

import { nextTokenProbs, softmax } from "../engines/decode.js";

/** Indices of the k largest values, largest first. */
export function topK(values, k) {
  const idx = [];
  for (let i = 0; i < values.length; i++) {
    if (idx.length < k || values[i] > values[idx[idx.length - 1]]) {
      let j = Math.min(idx.length, k - 1);
      idx[j] = i;
      while (j > 0 && values[idx[j]] > values[idx[j - 1]]) { [idx[j], idx[j - 1]] = [idx[j - 1], idx[j]]; j--; }
    }
  }
  return idx.slice(0, k);
}

/**
 * The pick, in PyTorch's order (llmbook.Sampling): temperature and top-k (decode.js's
 * nextTokenProbs, as the widget samples), then top-p, then a draw from `rand` (a seeded
 * mulberry32: no unseeded randomness); greedy when mode is "greedy".
 * -> {id, prob (the model's own), kept (candidates left), stages: [{name, kept}]}.
 */
export function pick(logits, { mode = "greedy", temperature = 1, topk = 0, topp = 1 } = {}, rand) {
  const own = softmax(logits), V = logits.length;
  if (mode === "greedy") {
    const id = topK(logits, 1)[0];
    return { id, prob: own[id], kept: 1, stages: [{ name: "argmax", kept: 1 }] };
  }
  let p = nextTokenProbs(logits, { temperature, topK: topk });
  const stages = [{ name: `temperature ${temperature}`, kept: V }];
  if (topk > 0 && topk < V) stages.push({ name: `top-k ${topk}`, kept: p.filter((x) => x > 0).length });
  if (topp < 1) {
    const order = topK(p, Math.min(V, 2000));
    let total = 0, n = 0;
    for (const i of order) { total += p[i]; n++; if (total >= topp) break; }
    const keep = new Set(order.slice(0, n));
    p = p.map((x, i) => (keep.has(i) ? x / total : 0));
    stages.push({ name: `top-p ${topp}`, kept: n });
  }
  let u = rand(), id = 0;
  for (; id < V - 1; id++) { u -= p[id]; if (u < 0) break; }
  while (p[id] === 0 && id > 0) id--;                 // rounding left u over: the last candidate
  return { id, prob: own[id], kept: stages.at(-1).kept, stages };
}

/**
 * One head of one layer, stage by stage, from the pass's qkv [T, 3d]:
 * scores = Q Kᵀ, scaled = scores/√dh, masked (−∞ above the diagonal), probs = softmax rows,
 * out = probs V ([T, dh]). Each [T, T] as a Float32Array.
 */
export function headStages(qkv, T, d, H, h) {
  const dh = d / H, scale = 1 / Math.sqrt(dh);
  const scores = new Float32Array(T * T), scaled = new Float32Array(T * T), masked = new Float32Array(T * T);
  const probs = new Float32Array(T * T), out = new Float32Array(T * dh);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) {
      let s = 0;
      for (let c = 0; c < dh; c++) s += qkv[i * 3 * d + h * dh + c] * qkv[j * 3 * d + d + h * dh + c];
      scores[i * T + j] = s;
      scaled[i * T + j] = s * scale;
      masked[i * T + j] = j <= i ? s * scale : -Infinity;
    }
    const row = softmax(masked.subarray(i * T, (i + 1) * T));
    probs.set(row, i * T);
    for (let j = 0; j <= i; j++) for (let c = 0; c < dh; c++) out[i * dh + c] += row[j] * qkv[j * 3 * d + 2 * d + h * dh + c];
  }
  return { scores, scaled, masked, probs, out, dh };
}

/**
 * What the attention panel draws for one head of one layer of a pass: the four stages cropped
 * to the last `window` positions ([n, n] each, from position w0), the last row of probabilities
 * [T], the last position's output ·V [dh], and max |Δ| between the recomputed probabilities
 * and the engine's own (pass.attention[layer] [H, T, past+T], when the pass kept it; else null).
 */
export function attentionView(pass, config, layer, head, window = 48) {
  const { n_embd: d, n_head: H } = config, T = pass.T, st = headStages(pass.qkv[layer], T, d, H, head);
  const w0 = Math.max(0, T - window), n = T - w0;
  const crop = (a) => { const out = new Float32Array(n * n); for (let i = 0; i < n; i++) out.set(a.subarray((w0 + i) * T + w0, (w0 + i) * T + T), i * n); return out; };
  let delta = null;
  const engine = pass.attention[layer];
  if (engine) {
    const own = new Float32Array(T * T), Tk = pass.past + T;                  // engine: [H, T, Tk]
    for (let i = 0; i < T; i++) own.set(engine.subarray((head * T + i) * Tk, (head * T + i) * Tk + T), i * T);
    delta = maxAbsDiff(own, st.probs);
  }
  return { T, w0, n, dh: st.dh, scores: crop(st.scores), scaled: crop(st.scaled), masked: crop(st.masked), probs: crop(st.probs),
    last: st.probs.slice((T - 1) * T, T * T), out: st.out.slice((T - 1) * st.dh, T * st.dh), delta };
}

/**
 * What the Logits and Softmax steps draw from the last position's logits [V]: their histogram,
 * the k largest {ids, logits, probs} (softmax keeps the order), and the probability left to the rest.
 */
export function logitsSummary(logits, k = 10) {
  const p = softmax(logits), ids = topK(logits, k), probs = ids.map((i) => p[i]);
  return { V: logits.length, hist: histogram(logits), ids, logits: ids.map((i) => logits[i]), probs,
    rest: Math.max(0, 1 - probs.reduce((a, b) => a + b, 0)) };
}

/** Counts of values in `bins` equal bins over [min, max]: {edges, counts, min, max}. */
export function histogram(values, bins = 60) {
  let min = Infinity, max = -Infinity;
  for (const v of values) { if (v < min) min = v; if (v > max) max = v; }
  const counts = new Uint32Array(bins), w = (max - min) / bins || 1;
  for (const v of values) counts[Math.min(bins - 1, Math.floor((v - min) / w))]++;
  return { counts, min, max, width: w };
}

/** Euclidean norm of row t of a [T, d] array. */
export function rowNorm(a, t, d) {
  let s = 0;
  for (let c = 0; c < d; c++) s += a[t * d + c] ** 2;
  return Math.sqrt(s);
}

/** Max |a − b| over two equal-length arrays. */
export function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Human bytes: 1.2 MB, 36.0 kB. */
export function bytes(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** The k largest logits' ids and their softmax probabilities. */
export function top(logits, k) {
  let max = -Infinity, sum = 0;
  for (const v of logits) if (v > max) max = v;
  for (const v of logits) sum += Math.exp(v - max);
  const ids = topK(logits, k);
  return { ids, probs: ids.map((i) => Math.exp(logits[i] - max) / sum) };
}
