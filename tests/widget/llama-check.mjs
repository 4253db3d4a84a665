// One Llama parity case, the same under Node and (later) in the browser: each prompt's ids run
// through a full forward (every intermediate kept) and, chunk by chunk, through the KV cache.
// Float32Arrays go back as base64 of their bytes. Compared in tests/widget/test_llama.py.
import { createLlama, llamaLoader, parseSafetensors } from "../../_static/tinylm/engines/llama.js";

/** The case on the file's bytes (an ArrayBuffer): parseSafetensors, then createLlama. */
export async function runLlamaCase(bytes, c, backend = "cpu", kernel = "wasm") {
  return runLlamaCaseOn(await createLlama(parseSafetensors(bytes, { bf16: "view" }), { backend, config: c.config, kernel }), c);
}

/**
 * Node: a file pushed through the streamed loader in pieces of `chunk` bytes (the first ones cut
 * inside the header, as a network would), so the weights are never held twice. -> the model.
 */
export async function loadStreamed(path, config = null, chunk = 2 ** 24) {
  const fs = await import("node:fs");
  const loader = await llamaLoader({ config }), fd = fs.openSync(path, "r"), buf = Buffer.alloc(chunk);
  try {
    for (const n of [3, 5, 1000]) loader.push(Uint8Array.from(buf.subarray(0, fs.readSync(fd, buf, 0, n, loader.received))));
    for (let n; (n = fs.readSync(fd, buf, 0, chunk, loader.received)) > 0; ) loader.push(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return loader.finish();
}

export async function runLlamaCaseOn(m, c) {
  const V = m.config.vocab_size, prompts = [];
  for (const ids of c.prompts) {
    const T = ids.length, t0 = performance.now();
    const full = await m.forward(ids, { attention: "all", rope: c.rope_layer, mlp: c.rope_layer });
    const ms = performance.now() - t0, cached = {};
    for (const chunk of c.chunks) {
      const cache = m.newCache(), rows = new Float32Array(T * V);
      let last = null;
      for (let t = 0; t < T; t += chunk) {
        const part = ids.slice(t, t + chunk);
        rows.set((await m.forward(part, { cache, residual: false })).logits, t * V);
      }
      const again = m.newCache();
      for (let t = 0; t < T; t += chunk) last = await m.forward(ids.slice(t, t + chunk), { cache: again, logits: "last", residual: false });
      cached[chunk] = { logits: b64(rows), last: b64(last.logits), cache_length: cache.length, cache_bytes: cache.bytes };
    }
    const lensRow = full.residual[1].subarray(0, m.config.hidden_size), lens = m.lens(lensRow);
    prompts.push({
      T, ms, logits: b64(full.logits), residual: b64(concat(full.residual)), norm: b64(full.norm),
      attention: b64(concat(full.attention)), q: b64(full.rope.q), k: b64(full.rope.k), cached, lens: b64(lens), down: b64(full.mlp.down),
      mlp_ok: full.mlp.act.every((a, i) => Math.abs(a - full.mlp.gate[i] / (1 + Math.exp(-full.mlp.gate[i])) * full.mlp.up[i]) < 1e-5),
    });
  }
  return { backend: m.backend, kernel: m.kernel, simd: m.simd || null, kernel_fallback: m.kernelFallback || null, fallback: m.fallback || null,
    config: m.config, dtype: m.dtype, weight_bytes: m.weightBytes, prompts };
}

function concat(arrays) {
  const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of arrays) { out.set(a, o); o += a.length; }
  return out;
}

function b64(f32) {
  const bytes = new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
