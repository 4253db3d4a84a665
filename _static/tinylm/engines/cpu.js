// The plain-JS engine: forward, backward and AdamW of the tiny transformer on one
// CPU thread. Runs in any browser and under Node ≥ 18. Same math as llmbook.tiny:
//
//   x = tok_emb[ids] + pos_emb[:T];  per layer: x += attn(LN1 x) @ w_out;
//   x += gelu_tanh(LN2 x @ w1) @ w2;  logits = LN_f(x) @ tok_embᵀ
//
// Shapes in comments use N = B·T rows (a batch of B windows of T tokens).
// Not handled: dropout, sequences longer than context_len (the caller truncates).

import { layout, views } from "./layout.js";
import { attentionBackwardWasm, attentionWasm, crossEntropyBackward, gelu, matmul, matmulAT, matmulBT, Scratch } from "./linalg.js";

const EPS = 1e-5;
const GELU_K = Math.sqrt(2 / Math.PI);

export class CPUEngine {
  /** params: flat Float32Array in layout(config) order (kept, not copied). */
  constructor(config, params) {
    this.config = config;
    this.layout = layout(config);
    this.params = params;
    this.p = views(config, params);
    this.scratch = new Scratch();
    this.adam = null;   // {m, v, step}, created on the first update
  }

  get kind() { return "cpu"; }
  get hostParams() { return this.params; }

  /** One AdamW step; the update is skipped when the loss is not finite. */
  trainStep(inputs, targets, B, T, opts) {
    const { loss, grads } = this.lossAndGrads(inputs, targets, B, T);
    if (!Number.isFinite(loss)) return { loss };
    const before = Float32Array.from(this.params);
    this.adamw(grads, opts);
    return { loss, before };
  }

  setParams(flat) {
    this.params.set(flat);
    this.adam = null;
  }

  // --- forward -------------------------------------------------------------------
  /** ids Int32Array [B·T] -> activations for backward; logits [N, V] in acts.logits. */
  run(ids, B, T) {
    const { d_model: d, d_ff: F, n_layers: L, vocab_size: V } = this.config, N = B * T, p = this.p;
    const acts = { B, T, ids, layers: [] };
    let x = new Float32Array(N * d);                                   // [N, d]
    for (let n = 0; n < N; n++) {
      const e = ids[n] * d, q = (n % T) * d;
      for (let c = 0; c < d; c++) x[n * d + c] = p.tok_emb[e + c] + p.pos_emb[q + c];
    }
    for (let i = 0; i < L; i++) {
      const w = (s) => p[`layers.${i}.${s}`];
      const a = { x };
      a.ln1 = layerNorm(x, w("ln1.weight"), w("ln1.bias"), N, d);
      a.qkv = new Float32Array(N * 3 * d);                             // [N, 3d]: Q | K | V
      matmul(a.qkv, a.ln1.y, w("attn.w_qkv"), N, d, 3 * d);
      const att = attention(a.qkv, B, T, this.config, this.scratch);
      a.probs = att.probs;                                             // [B, H, T, T]
      a.heads = att.out;                                               // [N, d] heads concatenated
      const mid = Float32Array.from(x);
      matmul(mid, a.heads, w("attn.w_out"), N, d, d, true);
      a.mid = mid;
      a.ln2 = layerNorm(mid, w("ln2.weight"), w("ln2.bias"), N, d);
      a.pre = new Float32Array(N * F);                                 // [N, d_ff]
      matmul(a.pre, a.ln2.y, w("ffn.w1"), N, d, F);
      ({ y: a.act, th: a.tanh } = gelu(a.pre));
      x = Float32Array.from(mid);
      matmul(x, a.act, w("ffn.w2"), N, F, d, true);
      acts.layers.push(a);
    }
    acts.x = x;
    acts.lnf = layerNorm(x, p["ln_f.weight"], p["ln_f.bias"], N, d);
    acts.logits = new Float32Array(N * V);                             // [N, V]
    matmulBT(acts.logits, acts.lnf.y, p.tok_emb, N, d, V, false, this.scratch);
    return acts;
  }

  forward(ids, B, T) {
    return this.run(ids, B, T).logits;
  }

  // --- backward ------------------------------------------------------------------
  /** Mean cross-entropy and the gradient of every parameter (flat, layout order). */
  lossAndGrads(inputs, targets, B, T) {
    const { d_model: d, d_ff: F, n_layers: L, vocab_size: V } = this.config, N = B * T, p = this.p;
    const acts = this.run(inputs, B, T);
    const loss = crossEntropyBackward(acts.logits, targets, N, V);     // logits become dlogits
    const grads = new Float32Array(this.layout.total), g = views(this.config, grads);
    const s = this.scratch;
    matmulAT(g.tok_emb, acts.logits, acts.lnf.y, V, N, d, false, s);   // head: dE = dlogitsᵀ @ h
    const dh = new Float32Array(N * d);
    matmul(dh, acts.logits, p.tok_emb, N, V, d);
    let dx = new Float32Array(N * d);
    layerNormBackward(dx, dh, acts.x, acts.lnf, p["ln_f.weight"], g["ln_f.weight"], g["ln_f.bias"], N, d);
    for (let i = L - 1; i >= 0; i--) {
      const a = acts.layers[i], w = (k) => p[`layers.${i}.${k}`], gw = (k) => g[`layers.${i}.${k}`];
      // x_out = mid + gelu(LN2(mid) @ w1) @ w2
      matmulAT(gw("ffn.w2"), a.act, dx, F, N, d, false, s);
      const dact = new Float32Array(N * F);
      matmulBT(dact, dx, w("ffn.w2"), N, d, F, false, s);
      geluBackward(dact, a.pre, a.tanh);                                       // now d(pre)
      matmulAT(gw("ffn.w1"), a.ln2.y, dact, d, N, F, false, s);
      const dln2 = new Float32Array(N * d);
      matmulBT(dln2, dact, w("ffn.w1"), N, F, d, false, s);
      const dmid = dx;                                                 // residual path
      layerNormBackward(dmid, dln2, a.mid, a.ln2, w("ln2.weight"), gw("ln2.weight"), gw("ln2.bias"), N, d);
      // mid = x + heads @ w_out
      matmulAT(gw("attn.w_out"), a.heads, dmid, d, N, d, false, s);
      const dheads = new Float32Array(N * d);
      matmulBT(dheads, dmid, w("attn.w_out"), N, d, d, false, s);
      const dqkv = attentionBackward(dheads, a.qkv, a.probs, B, T, this.config, s);
      matmulAT(gw("attn.w_qkv"), a.ln1.y, dqkv, d, N, 3 * d, false, s);
      const dln1 = new Float32Array(N * d);
      matmulBT(dln1, dqkv, w("attn.w_qkv"), N, 3 * d, d, false, s);
      layerNormBackward(dmid, dln1, a.x, a.ln1, w("ln1.weight"), gw("ln1.weight"), gw("ln1.bias"), N, d);
      dx = dmid;
    }
    for (let n = 0; n < N; n++) {                                      // embedding lookups
      const e = inputs[n] * d, q = (n % T) * d;
      for (let c = 0; c < d; c++) {
        g.tok_emb[e + c] += dx[n * d + c];
        g.pos_emb[q + c] += dx[n * d + c];
      }
    }
    return { loss, grads };
  }

  // --- AdamW ---------------------------------------------------------------------
  /** torch.optim.AdamW's update, in its order of operations (weight decay on every tensor). */
  adamw(grads, { lr, weightDecay = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 }) {
    if (!this.adam) this.adam = { m: new Float32Array(this.params.length), v: new Float32Array(this.params.length), step: 0 };
    const { m, v } = this.adam, P = this.params;
    const t = ++this.adam.step;
    const bc1 = 1 - beta1 ** t, bc2sqrt = Math.sqrt(1 - beta2 ** t), stepSize = lr / bc1, decay = 1 - lr * weightDecay;
    for (let i = 0; i < P.length; i++) {
      const gi = grads[i];
      P[i] *= decay;
      m[i] += (gi - m[i]) * (1 - beta1);
      v[i] = v[i] * beta2 + (1 - beta2) * gi * gi;
      P[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2sqrt + eps);
    }
  }
}

// --- building blocks ---------------------------------------------------------------
/** LayerNorm over rows of x [N, d]: {y, mean, rstd}. */
export function layerNorm(x, w, b, N, d) {
  const y = new Float32Array(N * d), mean = new Float32Array(N), rstd = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    const o = n * d;
    let mu = 0;
    for (let c = 0; c < d; c++) mu += x[o + c];
    mu /= d;
    let v = 0;
    for (let c = 0; c < d; c++) v += (x[o + c] - mu) ** 2;
    const r = 1 / Math.sqrt(v / d + EPS);
    mean[n] = mu; rstd[n] = r;
    for (let c = 0; c < d; c++) y[o + c] = (x[o + c] - mu) * r * w[c] + b[c];
  }
  return { y, mean, rstd };
}

/** dx += LN'ᵀ dy; dw, db += their gradients. */
function layerNormBackward(dx, dy, x, ln, w, dw, db, N, d) {
  for (let n = 0; n < N; n++) {
    const o = n * d, mu = ln.mean[n], r = ln.rstd[n];
    let sum = 0, sumX = 0;
    for (let c = 0; c < d; c++) {
      const xhat = (x[o + c] - mu) * r, g = dy[o + c] * w[c];
      dw[c] += dy[o + c] * xhat; db[c] += dy[o + c];
      sum += g; sumX += g * xhat;
    }
    sum /= d; sumX /= d;
    for (let c = 0; c < d; c++) {
      const xhat = (x[o + c] - mu) * r;
      dx[o + c] += r * (dy[o + c] * w[c] - sum - xhat * sumX);
    }
  }
}

/** Rows t of one head's Q, K or V (part 0, 1, 2) out of qkv [N, 3d], into dst [T, dh]. */
function gather(dst, qkv, b, h, part, T, d, dh) {
  for (let t = 0; t < T; t++) {
    const o = (b * T + t) * 3 * d + part * d + h * dh;
    for (let c = 0; c < dh; c++) dst[t * dh + c] = qkv[o + c];
  }
  return dst;
}

/** dst[(b·T + t)·width + offset + c] = src[t, c] for src [T, dh]. */
function scatter(dst, src, b, T, width, offset, dh) {
  for (let t = 0; t < T; t++) {
    const o = (b * T + t) * width + offset;
    for (let c = 0; c < dh; c++) dst[o + c] = src[t * dh + c];
  }
}

/** Causal multi-head attention from qkv [N, 3d]: probs [B, H, T, T] and heads [N, d].
 * On WebAssembly when it can (linalg.attentionWasm); else, per (batch, head), two matrix
 * products around a masked softmax: S = Q Kᵀ/√dh, O = P V. */
export function attention(qkv, B, T, config, scratch = new Scratch()) {
  const { d_model: d, n_heads: H } = config, dh = d / H, scale = 1 / Math.sqrt(dh);
  const fast = attentionWasm(qkv, B, T, d, H);
  if (fast) return fast;
  const probs = new Float32Array(B * H * T * T), out = new Float32Array(B * T * d);
  const q = new Float32Array(T * dh), k = new Float32Array(T * dh), v = new Float32Array(T * dh), o = new Float32Array(T * dh);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const P = probs.subarray((b * H + h) * T * T, (b * H + h + 1) * T * T);      // [T, T]
      matmulBT(P, gather(q, qkv, b, h, 0, T, d, dh), gather(k, qkv, b, h, 1, T, d, dh), T, dh, T, false, scratch);
      for (let i = 0; i < T; i++) {
        const row = i * T;
        let max = -Infinity, sum = 0;
        for (let j = 0; j <= i; j++) { P[row + j] *= scale; if (P[row + j] > max) max = P[row + j]; }
        for (let j = 0; j <= i; j++) { P[row + j] = Math.exp(P[row + j] - max); sum += P[row + j]; }
        for (let j = 0; j <= i; j++) P[row + j] /= sum;
        P.fill(0, row + i + 1, row + T);                                           // causal mask
      }
      matmul(o, P, gather(v, qkv, b, h, 2, T, d, dh), T, T, dh);
      scatter(out, o, b, T, d, h * dh, dh);
    }
  }
  return { probs, out };
}

/** d(heads) [N, d] -> d(qkv) [N, 3d] through softmax(QKᵀ/√dh)V, per (batch, head):
 * dP = dO Vᵀ, dV = Pᵀ dO, dS = P ∘ (dP − rowsum(P ∘ dP))/√dh, dQ = dS K, dK = dSᵀ Q. */
function attentionBackward(dheads, qkv, probs, B, T, config, scratch) {
  const { d_model: d, n_heads: H } = config, dh = d / H, scale = 1 / Math.sqrt(dh);
  const fast = attentionBackwardWasm(dheads, qkv, probs, B, T, d, H);
  if (fast) return fast;
  const dqkv = new Float32Array(B * T * 3 * d), dS = new Float32Array(T * T);
  const [q, k, v, dO, dq, dk, dv] = Array.from({ length: 7 }, () => new Float32Array(T * dh));
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const P = probs.subarray((b * H + h) * T * T, (b * H + h + 1) * T * T);
      for (let t = 0; t < T; t++) for (let c = 0; c < dh; c++) dO[t * dh + c] = dheads[(b * T + t) * d + h * dh + c];
      gather(q, qkv, b, h, 0, T, d, dh); gather(k, qkv, b, h, 1, T, d, dh); gather(v, qkv, b, h, 2, T, d, dh);
      matmulBT(dS, dO, v, T, dh, T, false, scratch);                               // dP
      matmulAT(dv, P, dO, T, T, dh, false, scratch);
      for (let i = 0; i < T; i++) {
        const row = i * T;
        let dot = 0;
        for (let j = 0; j <= i; j++) dot += P[row + j] * dS[row + j];
        for (let j = 0; j < T; j++) dS[row + j] = P[row + j] * (dS[row + j] - dot) * scale;
      }
      matmul(dq, dS, k, T, T, dh);
      matmulAT(dk, dS, q, T, T, dh, false, scratch);
      scatter(dqkv, dq, b, T, 3 * d, h * dh, dh);
      scatter(dqkv, dk, b, T, 3 * d, d + h * dh, dh);
      scatter(dqkv, dv, b, T, 3 * d, 2 * d + h * dh, dh);
    }
  }
  return dqkv;
}

/** dy *= gelu'(x), in place, from the forward pass's tanh values. */
function geluBackward(dy, x, th) {
  for (let i = 0; i < x.length; i++) {
    const v = x[i], t = th[i];
    dy[i] *= 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_K * (1 + 3 * 0.044715 * v * v);
  }
}
