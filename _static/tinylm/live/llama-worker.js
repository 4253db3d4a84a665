// The live TinyLlama page's engine host: TinyLlama (llama.js) runs here, in a Web Worker, so the
// page stays responsive while it computes; the page keeps none of the weights. The same host runs
// on the page itself where the browser starts no worker (llama-page.js says so).
//
//   serve(self)                            in the worker: answer {id, op, args} with {id, result} or
//                                          {id, error}; progress of a load as {id, progress}
//   const call = createHost()              anywhere: await call(op, args, onProgress) -> {result, transfer}
//
// Calls run one at a time, in order. Ops:
//   load {source: {url} | {file}, backend, config, cacheName}
//        -> {config, backend, kernel, fallback, kernelNote, saved, from, streamed, weightBytes, memoryBytes (WebAssembly), dtype,
//            binding: WebGPU's bytes per binding and splits [{name, parts}] (the tensors split over several)}
//   prompt {ids, settings, layer, head}    a new KV cache and the prompt's pass through it (kept here), with
//        the details of one layer (rope, mlp, attention) -> {T, ms, residual [L+1][T, d] (the last 12
//        rows of each, from row0), norm (final RMSNorm, last row), rope, mlp (the last row), attention
//        [H, T, T] when T ≤ 256, lens (top 3 at the last row after each block), logits (live-math.js
//        logitsSummary), choice (the pick), cache {length, bytes}}
//   engine {backend}                      the same weights (already in memory) on another engine -> as load, without
//        saved, from and streamed
//   detail {layer}                         the same layer details for another layer (the prompt again, no cache)
//   step {id}                              one more token through the cache -> {next, ms, cache}
//   logits {ids}                           the last row's logits (no cache) -> {logits}
// Not handled: cancelling a call already running (Stop acts between tokens, on the page's side), a
// worker the browser ends without an error event (out of memory: the page then waits on its call).

import { own, serveHost } from "./host.js";
import { mulberry32 } from "../engines/rng.js";
import { loadWeights } from "./llama-load.js";
import { logitsSummary, pick, top } from "./live-math.js";

const KEEP_ROWS = 12;                  // rows of each residual sent to the page (the last ones)
const MAX_ATTENTION = 256;             // longer prompts: no [H, T, T] maps

export function createHost() {
  const s = { model: null, rebuild: null, kernelNote: null, cache: null, ids: null, settings: null, rand: null };
  const model = () => {
    if (!s.model) throw new Error("load the weights first");
    return s.model;
  };

  const ops = {
    async load({ source, backend, config, cacheName }, onProgress) {
      drop();
      s.rebuild = null;                                          // the old weights go before the new come
      const got = await loadWeights(source, { backend, config, cacheName, onProgress });
      s.model = got.model;
      s.rebuild = got.rebuild;
      s.kernelNote = got.kernelNote;
      return { ...describe(s.model, got.kernelNote), saved: got.saved, from: got.from, streamed: got.streamed };
    },
    async engine({ backend }) {
      if (!s.rebuild) throw new Error("load the weights first");
      drop();
      s.model = await s.rebuild(backend);
      return describe(s.model, s.kernelNote);
    },
    async prompt({ ids, settings = { mode: "greedy" }, layer = 0 }) {
      const m = model(), t0 = performance.now();
      s.cache = m.newCache();
      s.ids = ids;
      const pass = await m.forward(Int32Array.from(ids), { cache: s.cache, logits: "last", ...details(ids.length, layer) });
      const ms = performance.now() - t0, d = m.config.hidden_size, T = ids.length;
      const lens = pass.residual.map((r) => top(m.lens(r.slice((T - 1) * d, T * d)), 3));
      s.settings = settings;
      s.rand = mulberry32(settings.seed || 0);
      return { T, ms, ...layerDetail(pass, m.config, T, layer), residual: lastRows(pass.residual, T, d),
        row0: Math.max(0, T - KEEP_ROWS), norm: pass.norm.slice((T - 1) * d, T * d), lens, logits: logitsSummary(pass.logits),
        choice: pick(pass.logits, settings, s.rand), cache: cacheOf(s.cache) };
    },
    async detail({ layer }) {
      const m = model();
      if (!s.ids) throw new Error("run a prompt first");
      const T = s.ids.length, pass = await m.forward(Int32Array.from(s.ids), { logits: "last", residual: false, ...details(T, layer) });
      return layerDetail(pass, m.config, T, layer);
    },
    async step({ id }) {
      const m = model();
      if (!s.cache) throw new Error("run a prompt first");
      const t0 = performance.now(), out = await m.forward(Int32Array.of(id), { cache: s.cache, logits: "last", residual: false });
      return { next: pick(out.logits, s.settings, s.rand), ms: performance.now() - t0, cache: cacheOf(s.cache) };
    },
    async logits({ ids }) {
      return { logits: (await model().forward(Int32Array.from(ids), { logits: "last", residual: false })).logits };
    },
  };

  function drop() {                                              // the engine goes; the weights in memory stay
    if (s.model && s.model.destroy) s.model.destroy();
    s.model = s.cache = s.ids = null;
  }

  return async function call(op, args = {}, onProgress = () => {}) {
    if (!Object.hasOwn(ops, op)) throw new Error(`the engine host has no call ${JSON.stringify(op)}`);
    return own(await ops[op](args, onProgress));
  };
}

/** What the page says of an engine: its config, backend and kernels, why it fell back, its bytes, WebGPU's bindings. */
function describe(m, kernelNote) {
  return { config: m.config, backend: m.backend, kernel: m.kernel || "js", fallback: m.fallback || null,
    kernelNote: m.kernelFallback || kernelNote || null, weightBytes: m.weightBytes || null, memoryBytes: m.memoryBytes || null,
    dtype: m.dtype || null, binding: m.backend === "webgpu" ? { limit: m.limit, splits: m.splits } : null };
}

/** In a worker: answer the page's calls in order; "ready" once listening (host.js). */
export function serve(scope) {
  serveHost(scope, createHost, { deviceMemory: (scope.navigator && scope.navigator.deviceMemory) || null });
}

/** forward's options for one layer's details: RoPE's q and k, SwiGLU's gate and up, its attention. */
function details(T, layer) {
  return { rope: layer, mlp: layer, attention: T <= MAX_ATTENTION ? [layer] : "none" };
}

/** One layer's details for the page: rope (all rows: the RoPE and attention panels need every key), the
 *  last row of mlp, the attention maps [H, T, T] (or null). */
function layerDetail(pass, c, T, layer) {
  const I = c.intermediate_size, mlp = pass.mlp, rope = pass.rope;
  return { layer, rope: { q: rope.q, k: rope.k, qRaw: rope.qRaw, kRaw: rope.kRaw, invFreq: rope.invFreq },
    mlp: { gate: mlp.gate.slice((T - 1) * I), up: mlp.up.slice((T - 1) * I), act: mlp.act.slice((T - 1) * I),
      down: mlp.down ? mlp.down.slice((T - 1) * c.hidden_size) : null },
    attention: pass.attention && pass.attention[layer] ? pass.attention[layer] : null };
}

function lastRows(residual, T, d) {
  const from = Math.max(0, T - KEEP_ROWS) * d;
  return residual.map((r) => r.slice(from, T * d));
}

const cacheOf = (c) => ({ length: c.length, bytes: c.bytes });
