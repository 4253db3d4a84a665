// One GPT-2 parity case, the same under Node and in the browser: each prompt's ids run
// through a full forward and, token by token, through the KV cache. Returns what the
// Python side compares with llmbook.capture (tests/widget/test_gpt2.py).
import { createGPT2, parseSafetensors } from "../../_static/tinylm/engines/gpt2.js";

export async function runGPT2Case(bytes, c, backend, opts = {}) {    // opts: more of createGPT2's, e.g. {threads: 2}
  const m = await createGPT2(parseSafetensors(bytes), { backend, ...opts });
  const { n_embd: d, vocab_size: V } = m.config, prompts = [];
  for (const ids of c.prompts) {
    const T = ids.length, t0 = performance.now();
    const full = await m.forward(ids, { attention: c.attention_layers });
    const ms = performance.now() - t0;
    const cache = m.newCache();
    let stepped = null;
    for (let t = 0; t < T; t += c.chunk) stepped = await m.forward(ids.slice(t, t + c.chunk), { cache, logits: "last" });
    const lastRow = full.logits.subarray((T - 1) * V, T * V);
    const lens = full.residual.map((r) => top1(m.lens(r.subarray((T - 1) * d, T * d))));
    prompts.push({
      T, ms, logits_first: Array.from(full.logits.subarray(0, V)), logits_last: Array.from(lastRow),
      cached_last: Array.from(stepped.logits), cache_length: cache.length, cache_bytes: cache.bytes,
      residual_last: full.residual.map((r) => Array.from(r.subarray((T - 1) * d, T * d))),
      attention_last: full.attention.map((p) => (p ? lastQueryRows(p, m.config.n_head, T) : null)), lens_top: lens,
    });
  }
  if (m.destroy) m.destroy();
  return { backend: m.backend, fallback: m.fallback || null, threads: m.threads, threads_why: m.threadsWhy || null, config: m.config, prompts };
}

/** probs [H, T, T] -> the last query's row of every head, [H][T]. */
function lastQueryRows(p, H, T) {
  return Array.from({ length: H }, (_, h) => Array.from(p.subarray((h * T + T - 1) * T, (h * T + T) * T)));
}

function top1(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}
