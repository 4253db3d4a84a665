// Dense float32 kernels for the CPU engine. Row-major Float32Arrays throughout.
//
// matmul, attention, the loss's softmax and GELU run on WebAssembly SIMD when the browser has it
// (simd.wat: 4×8 blocks of f32x4 sums for the product, a polynomial exp; operands are
// copied into its memory), and otherwise in JavaScript; matmul then works on
// 4×4 output blocks held in 16 local variables, which V8 keeps in registers
// (≈2.3–3.5 GFLOP/s on one core, against ≈0.8 for the textbook loop). The
// transposed variants copy one operand into a scratch array first: a transpose
// costs O(rows·cols), the product O(rows·cols·k). The GPT-2 engine does not copy:
// wasmArena() gives it an instance of its own whose memory holds its weights for
// good (gpt2.js); sharedArena() the same on a shared memory, for pool.js's threads. The
// functions here run on one thread.

import { SIMD_WASM, SIMD_WASM_SHARED } from "./simd.js";

let kernelChoice = "wasm";          // "wasm" (when available) or "js"
let wasm = null;                    // the instance's exports, false if it cannot be had

/** Which matrix kernel the CPU engine uses: "wasm" (default, if supported) or "js". Returns the one in effect. */
export function setKernel(choice) {
  if (choice !== "wasm" && choice !== "js") throw new Error(`kernel must be "wasm" or "js", not ${JSON.stringify(choice)}`);
  kernelChoice = choice;
  return activeKernel();
}

export function activeKernel() { return kernelChoice === "wasm" && simd() ? "wasm" : "js"; }

function simd() {
  if (wasm === null) {
    try {
      const bytes = Uint8Array.from(atob(SIMD_WASM), (ch) => ch.charCodeAt(0));
      wasm = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
    } catch {
      wasm = false;                 // no WebAssembly, or no SIMD: the JavaScript kernel runs
    }
  }
  return wasm;
}

/**
 * A WebAssembly memory of its own with simd.wat's kernels, for an engine that keeps its
 * operands there (gpt2.js: weights placed once at load, then a few calls per layer and no
 * copies). Compiled asynchronously (browsers refuse large synchronous compiles on the main
 * thread). alloc(n) hands out 16-byte-aligned float offsets and grows the memory; f is the
 * memory as floats, fetched again after every growth. Null if WebAssembly SIMD is missing.
 */
export async function wasmArena() {
  let exports;
  try {
    const bytes = Uint8Array.from(atob(SIMD_WASM), (ch) => ch.charCodeAt(0));
    exports = (await WebAssembly.instantiate(bytes)).instance.exports;
  } catch {
    return null;
  }
  return new WasmArena(exports);
}

/**
 * wasmArena on a shared WebAssembly memory (SharedArrayBuffer) that may grow to `maxFloats`,
 * for an engine that splits its products across threads (pool.js). arena.module and
 * arena.memory are what the threads instantiate. Null if shared memory or SIMD is missing;
 * a RangeError if the browser will not reserve that much.
 */
export async function sharedArena(initialFloats, maxFloats) {
  const page = 65536, pages = (n) => Math.max(1, Math.ceil((4 * n) / page));
  let module;
  try {
    module = await WebAssembly.compile(Uint8Array.from(atob(SIMD_WASM_SHARED), (ch) => ch.charCodeAt(0)));
  } catch {
    return null;
  }
  const memory = new WebAssembly.Memory({ initial: pages(initialFloats), maximum: pages(maxFloats), shared: true });
  const arena = new WasmArena((await WebAssembly.instantiate(module, { env: { memory } })).exports);
  arena.module = module;
  arena.memory = memory;
  return arena;
}

class WasmArena {
  constructor(exports) {
    this.k = exports;                 // the kernels: gemv, gemm_cols, attn_kv, gelu, …
    this.top = 4;                     // floats in use; offset 0 is left unused
  }

  /** n floats -> their offset (in floats; × 4 for the kernels' byte addresses). */
  alloc(n) {
    const at = this.top;
    this.top = at + Math.ceil(n / 4) * 4;
    this.reserve(this.top);
    return at;
  }

  /** Grow the memory to hold at least n floats. */
  reserve(n) {
    const mem = this.k.memory, need = n * 4 - mem.buffer.byteLength;
    if (need > 0) mem.grow(Math.ceil(need / 65536));
  }

  get f() {
    const buf = this.k.memory.buffer;
    if (!this.view || this.view.buffer !== buf) this.view = new Float32Array(buf);
    return this.view;
  }
}

/** C[M,N] = A[M,K] @ B[K,N]  (C += … when accumulate). */
export function matmul(C, A, B, M, K, N, accumulate = false) {
  if (kernelChoice === "wasm" && M >= 4 && N >= 8 && simd()) return matmulWasm(C, A, B, M, K, N, accumulate, false);
  if (!accumulate) C.fill(0, 0, M * N);
  const M4 = M - (M % 4), N4 = N - (N % 4);
  for (let i = 0; i < M4; i += 4) {
    const a0 = i * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
    for (let j = 0; j < N4; j += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let k = 0, bk = j; k < K; k++, bk += N) {
        const b0 = B[bk], b1 = B[bk + 1], b2 = B[bk + 2], b3 = B[bk + 3];
        let x = A[a0 + k]; c00 += x * b0; c01 += x * b1; c02 += x * b2; c03 += x * b3;
        x = A[a1 + k]; c10 += x * b0; c11 += x * b1; c12 += x * b2; c13 += x * b3;
        x = A[a2 + k]; c20 += x * b0; c21 += x * b1; c22 += x * b2; c23 += x * b3;
        x = A[a3 + k]; c30 += x * b0; c31 += x * b1; c32 += x * b2; c33 += x * b3;
      }
      let c = i * N + j;
      C[c] += c00; C[c + 1] += c01; C[c + 2] += c02; C[c + 3] += c03; c += N;
      C[c] += c10; C[c + 1] += c11; C[c + 2] += c12; C[c + 3] += c13; c += N;
      C[c] += c20; C[c + 1] += c21; C[c + 2] += c22; C[c + 3] += c23; c += N;
      C[c] += c30; C[c + 1] += c31; C[c + 2] += c32; C[c + 3] += c33;
    }
    for (let j = N4; j < N; j++) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0, bk = j; k < K; k++, bk += N) {
        const b = B[bk];
        s0 += A[a0 + k] * b; s1 += A[a1 + k] * b; s2 += A[a2 + k] * b; s3 += A[a3 + k] * b;
      }
      C[i * N + j] += s0; C[(i + 1) * N + j] += s1; C[(i + 2) * N + j] += s2; C[(i + 3) * N + j] += s3;
    }
  }
  for (let i = M4; i < M; i++) {                 // the last rows (a single row when decoding):
    const c0 = i * N;                              // row i of C += A[i, k] · row k of B, so B is read in order
    for (let k = 0; k < K; k++) {
      const a = A[i * K + k], bk = k * N;
      if (a !== 0) for (let j = 0; j < N; j++) C[c0 + j] += a * B[bk + j];
    }
  }
}

/** The WebAssembly memory as floats, grown to hold at least n. */
function wasmFloats(n) {
  const mem = wasm.memory;
  if (mem.buffer.byteLength < n * 4) mem.grow(Math.ceil((n * 4 - mem.buffer.byteLength) / 65536));
  return new Float32Array(mem.buffer);
}

const K_CHUNK = 64;

/** The WebAssembly product; transA: A is given as its transpose, [K, M]. */
function matmulWasm(C, A, B, M, K, N, accumulate, transA) {
  const bOff = M * K, cOff = bOff + K * N, f = wasmFloats(cOff + M * N);
  f.set(A.subarray(0, M * K));
  f.set(B.subarray(0, K * N), bOff);
  if (accumulate) f.set(C.subarray(0, M * N), cOff);
  else f.fill(0, cOff, cOff + M * N);
  if (transA) {
    // Aᵀ is read down columns 4·M bytes apart: over all of K that is a new page per
    // step of k. Chunks of K keep the pages in the TLB (weight gradients, K = B·T: about 1.5× faster).
    for (let k0 = 0; k0 < K; k0 += K_CHUNK) {
      wasm.gemm(k0 * M * 4, (bOff + k0 * N) * 4, cOff * 4, M, Math.min(K_CHUNK, K - k0), N, 4, 4 * M);
    }
  } else {
    wasm.gemm(0, bOff * 4, cOff * 4, M, K, N, 4 * K, 4);
  }
  C.set(f.subarray(cOff, cOff + M * N));
  const M4 = M - (M % 4), N8 = N - (N % 8);                 // the edges gemm leaves to us
  for (let i = 0; i < M; i++) {
    for (let j = i < M4 ? N8 : 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (transA ? A[k * M + i] : A[i * K + k]) * B[k * N + j];
      C[i * N + j] += s;
    }
  }
}

/** dst[C,R] = src[R,C]ᵀ */
export function transpose(dst, src, R, C) {
  for (let r = 0; r < R; r++) {
    const row = r * C;
    for (let c = 0; c < C; c++) dst[c * R + r] = src[row + c];
  }
  return dst;
}

/** A growable scratch array, so the hot loop allocates nothing. */
export class Scratch {
  constructor() { this.buf = new Float32Array(0); }
  get(n) {
    if (this.buf.length < n) this.buf = new Float32Array(n);
    return this.buf.subarray(0, n);
  }
}

/** C[M,N] (+)= A[M,K] @ B[N,K]ᵀ */
export function matmulBT(C, A, B, M, K, N, accumulate, scratch) {
  matmul(C, A, transpose(scratch.get(K * N), B, N, K), M, K, N, accumulate);
}

/** C[M,N] (+)= A[K,M]ᵀ @ B[K,N] (WebAssembly reads A transposed in place) */
export function matmulAT(C, A, B, M, K, N, accumulate, scratch) {
  if (kernelChoice === "wasm" && M >= 4 && N >= 8 && simd()) return matmulWasm(C, A, B, M, K, N, accumulate, true);
  matmul(C, transpose(scratch.get(M * K), A, K, M), B, M, K, N, accumulate);
}

/** Causal attention of B windows on WebAssembly, or null when it cannot run here (the "js"
 *  kernel, no SIMD, or head size or T not a multiple of 4): the caller then uses JavaScript.
 *  qkv [B·T, 3d] -> probs [B, H, T, T] and heads [B·T, d]. */
export function attentionWasm(qkv, B, T, d, H) {
  if (!attentionFits(T, d, H)) return null;
  const N = B * T, pOff = N * 3 * d, oOff = pOff + B * H * T * T, f = wasmFloats(oOff + N * d), scale = 1 / Math.sqrt(d / H);
  f.set(qkv.subarray(0, N * 3 * d));
  f.fill(0, oOff, oOff + N * d);
  for (let b = 0; b < B; b++) {
    wasm.attn_fwd(4 * b * T * 3 * d, 4 * (pOff + b * H * T * T), 4 * (oOff + b * T * d), T, d, H, scale);
  }
  return { probs: f.slice(pOff, oOff), out: f.slice(oOff, oOff + N * d) };
}

/** d(heads) [B·T, d] -> d(qkv) [B·T, 3d] on WebAssembly (see attentionWasm), or null. */
export function attentionBackwardWasm(dheads, qkv, probs, B, T, d, H) {
  if (!attentionFits(T, d, H)) return null;
  const N = B * T, pOff = N * 3 * d, dOff = pOff + B * H * T * T, gOff = dOff + N * d, tOff = gOff + N * 3 * d;
  const f = wasmFloats(tOff + T * T), scale = 1 / Math.sqrt(d / H);
  f.set(qkv.subarray(0, N * 3 * d));
  f.set(probs.subarray(0, B * H * T * T), pOff);
  f.set(dheads.subarray(0, N * d), dOff);
  f.fill(0, gOff, tOff);
  for (let b = 0; b < B; b++) {
    wasm.attn_bwd(4 * b * T * 3 * d, 4 * (pOff + b * H * T * T), 4 * (dOff + b * T * d), 4 * (gOff + b * T * 3 * d), 4 * tOff,
      T, d, H, scale);
  }
  return f.slice(gOff, tOff);
}

function attentionFits(T, d, H) {
  return kernelChoice === "wasm" && (d / H) % 4 === 0 && T % 4 === 0 && simd();
}

const GELU_K = Math.sqrt(2 / Math.PI);

/** gelu_tanh(x) and the tanh values (kept for the backward pass): {y, th}. */
export function gelu(x) {
  const n = x.length, y = new Float32Array(n), th = new Float32Array(n);
  if (kernelChoice === "wasm" && n % 4 === 0 && simd()) {
    const f = wasmFloats(3 * n);
    f.set(x);
    wasm.gelu(0, 4 * n, 8 * n, n);
    y.set(f.subarray(n, 2 * n));
    th.set(f.subarray(2 * n, 3 * n));
    return { y, th };
  }
  for (let i = 0; i < n; i++) {
    const v = x[i], t = 1 - 2 / (Math.exp(2 * GELU_K * (v + 0.044715 * v * v * v)) + 1);   // tanh, faster than Math.tanh in V8
    th[i] = t;
    y[i] = 0.5 * v * (1 + t);
  }
  return { y, th };
}

/** Mean cross-entropy of logits [N, V] against targets; overwrites logits with d(loss)/d(logits). */
export function crossEntropyBackward(logits, targets, N, V) {
  let total = 0;
  if (kernelChoice === "wasm" && V % 4 === 0 && simd()) {
    const f = wasmFloats(N * V);
    f.set(logits.subarray(0, N * V));
    for (let n = 0, p = 0; n < N; n++, p += 4 * V) {
      const max = wasm.rowmax(p, V), target = logits[n * V + targets[n]], sum = wasm.expsum(p, V, max);
      total += Math.log(sum) + max - target;
      wasm.scale(p, V, 1 / (sum * N));
    }
    logits.set(f.subarray(0, N * V));
  } else {
    for (let n = 0; n < N; n++) {
      const o = n * V, target = logits[o + targets[n]];
      let max = -Infinity, sum = 0;
      for (let v = 0; v < V; v++) if (logits[o + v] > max) max = logits[o + v];
      for (let v = 0; v < V; v++) { logits[o + v] = Math.exp(logits[o + v] - max); sum += logits[o + v]; }
      total += Math.log(sum) + max - target;
      const k = 1 / (sum * N);
      for (let v = 0; v < V; v++) logits[o + v] *= k;
    }
  }
  for (let n = 0; n < N; n++) logits[n * V + targets[n]] -= 1 / N;
  return total / N;
}
