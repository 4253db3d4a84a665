// The live page's engine host: distilgpt2 (gpt2.js) runs here, in a Web Worker, so the
// page stays responsive while it computes. live.js talks to it with one message per call
// and keeps none of the weights; the same host also runs on the page itself when this
// browser will not start a worker (connect() in host.js says so on the page).
//
//   serve(self)                   in the worker: answer {id, op, args} with {id, result} or {id, error}
//   const call = createHost()     anywhere: await call(op, args) -> {result, transfer}
//
// Calls run one at a time, in the order they came. Ops:
//   load {source: ArrayBuffer | Blob | [Uint8Array chunks], backend, saveAs?: {cache, url}}
//                                 -> {config, backend, fallback, threads (the CPU engine's, pool.js), threadsWhy
//                                     (why one), saved (in Cache Storage as saveAs.url)}
//   engine {backend}              the same weights on another backend -> as load
//   prompt {ids, attention, settings}
//                                 a new KV cache and the prompt's pass through it (kept here) -> {T, past,
//                                 embeddings, residual, ms, cache, logits: the last row's live-math.js
//                                 logitsSummary, lens: the logit lens's top 3 {ids, probs} at the last
//                                 row after each block, choice: the pick (live-math.js pick; settings
//                                 {mode, temperature, topk, topp, seed}, the seeded draws go on in step)}
//   step {id}                     one more token through the cache -> {next: the pick, ms, cache {length, bytes}}
//   view {layer, head}            the attention panel for the last prompt (live-math.js attentionView; a
//                                 layer the pass did not keep is computed again)
//   logits {ids}                  the last row's logits (no cache) -> {logits}
// Not handled: two pages sharing one worker, cancelling a call already running (Stop acts
// between tokens, on the page's side), a worker the browser ends without an error event (out
// of memory: the page then waits on its call).

import { own, serveHost } from "./host.js";
import { createGPT2, parseSafetensors } from "../engines/gpt2.js";
import { attentionView, logitsSummary, pick, top } from "./live-math.js";
import { mulberry32 } from "../engines/rng.js";

export function createHost() {
  const s = { tensors: null, model: null, cache: null, last: null, settings: null, rand: null };

  async function makeModel(backend) {
    if (s.model && s.model.destroy) s.model.destroy();
    s.model = s.cache = s.last = null;
    const m = await createGPT2(s.tensors, { backend });
    s.model = m;
    return { config: m.config, backend: m.backend, fallback: m.fallback || null, threads: m.threads || 1, threadsWhy: m.threadsWhy || null };
  }

  const model = () => {
    if (!s.model) throw new Error("load the weights first");
    return s.model;
  };

  const ops = {
    async load({ source, backend, saveAs }) {
      const buffer = Array.isArray(source) ? join(source) : typeof source.arrayBuffer === "function" ? await source.arrayBuffer() : source;
      if (s.model && s.model.destroy) s.model.destroy();
      s.model = s.cache = s.last = s.tensors = null;
      s.tensors = parseSafetensors(buffer);
      const info = await makeModel(backend);
      info.saved = saveAs ? await save(saveAs, buffer) : false;
      return info;
    },
    engine: ({ backend }) => {
      if (!s.tensors) throw new Error("load the weights first");
      return makeModel(backend);
    },
    async prompt({ ids, attention, settings = { mode: "greedy" } }) {
      const m = model(), d = m.config.n_embd, t0 = performance.now();
      s.cache = m.newCache();
      s.last = null;
      const pass = await m.forward(ids, { cache: s.cache, logits: "last", attention });
      const ms = performance.now() - t0, T = pass.T;
      s.last = { ids, pass };
      const lens = pass.residual.map((r) => top(m.lens(r.subarray((T - 1) * d, T * d)), 3));
      s.settings = settings;
      s.rand = mulberry32(settings.seed || 0);
      const choice = pick(pass.logits, settings, s.rand);
      return { ...fields(pass, ["T", "past", "embeddings", "residual"]), logits: logitsSummary(pass.logits), lens, choice, ms, cache: cacheOf(s.cache) };
    },
    async step({ id }) {
      const m = model();
      if (!s.cache) throw new Error("run a prompt first");
      const t0 = performance.now(), out = await m.forward([id], { cache: s.cache, logits: "last", attention: "none" });
      const ms = performance.now() - t0;
      return { next: pick(out.logits, s.settings, s.rand), ms, cache: cacheOf(s.cache) };
    },
    async view({ layer, head }) {
      const m = model();
      if (!s.last) throw new Error("run a prompt first");
      let { pass } = s.last;
      if (!pass.attention[layer]) pass = await m.forward(s.last.ids, { logits: "last", attention: [layer] });
      return attentionView(pass, m.config, layer, head);
    },
    async logits({ ids }) {
      return { logits: (await model().forward(ids, { logits: "last", attention: "none" })).logits };
    },
  };

  return async function call(op, args = {}) {
    if (!Object.hasOwn(ops, op)) throw new Error(`the engine host has no call ${JSON.stringify(op)}`);
    return own(await ops[op](args));
  };
}

/** In a worker: answer the page's calls in order; "ready" once listening (host.js). */
export function serve(scope) {
  serveHost(scope, createHost);
}

function join(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out.buffer;
}

const fields = (o, keys) => Object.fromEntries(keys.map((k) => [k, o[k]]));
const cacheOf = (c) => ({ length: c.length, bytes: c.bytes });

async function save({ cache, url }, buffer) {
  if (!globalThis.caches) return false;
  try {
    await (await caches.open(cache)).put(url, new Response(buffer, { headers: { "Content-Type": "application/octet-stream" } }));
    return true;
  } catch {
    return false;                                 // quota or storage blocked: the page works without it
  }
}
