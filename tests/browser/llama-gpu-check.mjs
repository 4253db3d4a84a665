// The Llama WebGPU engine's cases, run in Chromium by tests/browser/test_llama_engine.py:
// tests/widget/llama-check.mjs's parity case (llama_cases.max_deltas compares it with transformers)
// on createLlamaGPU's model; a greedy-generation timing; refusals by message.
import { createLlamaGPU } from "../../_static/tinylm/engines/llama-webgpu.js";
import { parseSafetensors } from "../../_static/tinylm/engines/safetensors.js";
import { runLlamaCaseOn } from "../widget/llama-check.mjs";

/**
 * tests/widget/llama-check.mjs's case (full pass with every intermediate, KV-cached chunks, the logit
 * lens) on createLlamaGPU's model, plus how its tensors were laid out on the device.
 */
export async function runLlamaGPUCase(bytes, c, opts = {}) {
  const m = await createLlamaGPU(parseSafetensors(bytes, { bf16: "view" }), { config: c.config, ...opts });
  const result = await runLlamaCaseOn(m, c), layer = m.w.layers[0], own = m.dtype === "BF16" ? "bf16" : "f32";
  const full = await m.forward(c.prompts[0], { logits: "last" }), T = c.prompts[0].length, d = m.config.hidden_size;
  const rows = full.residual.map((r) => r.slice((T - 1) * d, T * d)), onGPU = await m.lensRows(rows);
  result.lens_rows_gap = Math.max(...rows.map((r, l) => maxGap(m.lens(r), onGPU[l])));   // GPU lens vs the host's
  result.limit = m.limit;
  result.parts = { embed: m.w.embed.parts.length, head: m.w.head.parts.length, gate: layer.gate.parts.length };
  result.vec4 = { gate: layer.gate.vec4, down: layer.down.vec4 };
  result.wide = { gate: layer.gate.dtype !== own, down: layer.down.dtype !== own };
  m.destroy();
  return result;
}

/**
 * Greedy generation timed: the prompt through the cache, then n tokens one at a time.
 * -> {ids, prompt_ms, tok_s}; with c.cpu also the CPU engine of llama.js on the same file (the baseline).
 */
export async function timeGeneration(bytes, c, opts = {}) {
  const tensors = parseSafetensors(bytes, { bf16: "view" });
  const out = { gpu: await timeOne(await createLlamaGPU(tensors, { config: c.config, ...opts }), c) };
  if (c.cpu) {
    const { createLlama } = await import("../../_static/tinylm/engines/llama.js");
    out.cpu = await timeOne(await createLlama(tensors, { backend: "cpu", config: c.config }), c);
  }
  return out;
}

async function timeOne(m, c) {
  const cache = m.newCache(), t0 = performance.now();
  const first = await m.forward(c.prompt, { cache, logits: "last", residual: false });
  const t1 = performance.now(), ids = [argmax(first.logits)];
  for (let i = 1; i < c.new_tokens; i++) ids.push(argmax((await m.forward([ids[i - 1]], { cache, logits: "last", residual: false })).logits));
  const t2 = performance.now();
  const result = { backend: m.backend, kernel: m.kernel || null, ids, prompt_ms: t1 - t0, tok_s: (c.new_tokens - 1) / ((t2 - t1) / 1000) };
  if (m.destroy) m.destroy();
  return result;
}

/** The message createLlamaGPU (or a forward) throws, or null. */
export async function refusal(bytes, c, opts = {}) {
  try {
    const m = await createLlamaGPU(parseSafetensors(bytes, { bf16: "view" }), { config: c.config, ...opts });
    for (const ids of c.prompts) await m.forward(ids, { logits: "all" });
    m.destroy();
    return null;
  } catch (err) {
    return { name: err.constructor.name, message: err.message };
  }
}

function maxGap(a, b) {
  let m = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}
