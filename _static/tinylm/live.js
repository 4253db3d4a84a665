// "Your prompt, live": distilgpt2's published weights run in the reader's browser.
//
//   mountLive(root, data, tokenizer)   data: window.LLMBOOK_LIVE (llmbook.sphinxext.live)
//
// Nothing is fetched until the reader asks. The weights come from data.weights_url
// (?weights=URL overrides it: mirrors, self-hosting) with a progress line, or from a
// model.safetensors picked from disk; downloaded bytes are kept in Cache Storage (where
// the page is served over http(s)) so the next visit starts at once. Every fault is a
// message naming it, and the page keeps working. Not handled: resuming a cut download
// (it starts again), several models at once.

import { el, field, fromBase64, select } from "./dom.js";
import { createGPT2, parseSafetensors } from "./gpt2.js";
import { mulberry32 } from "./rng.js";
import { bytes, maxAbsDiff, pick } from "./live-math.js";
import { prob, renderAttention, renderDone, renderEmbed, renderInput, renderLayers, renderLogits, renderLoop, renderSample,
  renderSoftmax, renderTokens } from "./live-steps.js";

const CACHE = "llmbook-weights-v1";
const MAX_PROMPT_CHARS = 100_000;

export function mountLive(root, data, tokenizer) {
  const url = new URLSearchParams(location.search).get("weights") || data.weights_url;
  const ui = buildControls(root, data, url);
  ui.special = data.special_tokens || {};
  const state = { tensors: null, model: null, source: null, busy: false };
  const say = (text, kind = "note") => { ui.message.textContent = text; ui.message.dataset.kind = kind; };

  async function use(buffer, source) {
    ui.progress.hidden = true;
    state.tensors = parseSafetensors(buffer);
    await makeModel(source);
    return true;
  }

  async function makeModel(source) {
    if (state.model && state.model.destroy) state.model.destroy();
    state.model = null;
    const m = await createGPT2(state.tensors, { backend: ui.engine.value });
    state.model = m;
    state.source = source;
    const c = m.config, engine = m.backend === "webgpu" ? "WebGPU" : "CPU (WebAssembly)";
    ui.status.textContent = `Loaded from ${source}: ${c.n_layer} layers × ${c.n_head} heads, d ${c.n_embd}, vocabulary ${c.vocab_size.toLocaleString("en")}, context ${c.n_positions.toLocaleString("en")}.`;
    ui.engineBadge.textContent = `engine: ${engine}`;
    if (m.fallback) say(`WebGPU could not run this model (${m.fallback}), so the CPU engine runs it.`);
    ui.run.disabled = ui.parity.disabled = false;
  }

  async function guarded(label, fn) {
    if (state.busy) return;
    state.busy = true;
    root.setAttribute("aria-busy", "true");
    say("");
    try {
      await fn();
    } catch (err) {
      say(`${label}: ${err && err.message ? err.message : err}`, "error");
      console.warn(err);
    } finally {
      state.busy = false;
      root.removeAttribute("aria-busy");
      ui.progress.hidden = true;
    }
  }

  ui.download.addEventListener("click", () => guarded("The weights could not be loaded", async () => {
    const cached = await cachedBytes(url);
    if (cached) { await use(cached, "this browser's saved copy"); ui.forget.disabled = false; return; }
    const buffer = await download(url, ui);
    await use(buffer, new URL(url, location.href).host || "the given URL");
    if (await saveBytes(url, buffer)) ui.forget.disabled = false;
  }));
  ui.file.addEventListener("change", () => guarded("That file could not be used", async () => {
    const f = ui.file.files[0];
    if (f) await use(await f.arrayBuffer(), `your file ${f.name} (${bytes(f.size)})`);
  }));
  ui.forget.addEventListener("click", () => guarded("The saved copy could not be removed", async () => {
    await globalThis.caches.delete(CACHE);
    ui.forget.disabled = true;
    say("The saved copy of the weights is gone; the next load downloads them again.");
  }));
  ui.engine.addEventListener("change", () => { if (state.tensors) guarded("The engine could not be changed", () => makeModel(state.source)); });
  ui.run.addEventListener("click", () => guarded("The pass stopped", () => runPrompt(state.model, ui, tokenizer, say)));
  ui.parity.addEventListener("click", () => guarded("The check could not run", () => checkParity(state.model, ui, data, tokenizer)));
  ui.layer.addEventListener("change", () => ui.redrawAttention && ui.redrawAttention());
  ui.head.addEventListener("change", () => ui.redrawAttention && ui.redrawAttention());
  cachedBytes(url, true).then((hit) => { if (hit) { ui.forget.disabled = false; ui.download.textContent = "Load distilgpt2 (saved in this browser)"; } });
  return { state, ui };
}

function buildControls(root, data, url) {
  root.textContent = "";
  const host = new URL(url, location.href).host || "this site";
  const ui = {
    download: el("button", { class: "tlm-primary", type: "button", text: `Download distilgpt2 (about ${data.weights_mb} MB from ${host})` }),
    file: el("input", { type: "file", accept: ".safetensors" }),
    forget: el("button", { type: "button", text: "Forget the saved copy", disabled: true }),
    engine: select([["webgpu", "WebGPU (falls back to the CPU)"], ["cpu", "CPU (WebAssembly)"]], "webgpu"),
    progress: el("progress", { max: 1, value: 0, hidden: true }),
    progressText: el("span", { class: "llmbook-live-progress", "aria-live": "polite" }),
    status: el("p", { class: "llmbook-live-status", text: "No weights loaded yet: nothing has been downloaded." }),
    engineBadge: el("span", { class: "tlm-badge", text: "engine: none yet" }),
    prompt: el("textarea", { rows: 3, maxlength: MAX_PROMPT_CHARS }),
    generate: el("input", { type: "number", min: 0, max: 200, value: 8 }),
    mode: select([["greedy", "greedy (most probable)"], ["sample", "sample"]], "greedy"),
    temperature: el("input", { type: "number", min: 0.05, max: 5, step: 0.05, value: 0.8 }),
    topk: el("input", { type: "number", min: 0, max: 50257, value: 40 }),
    topp: el("input", { type: "number", min: 0.05, max: 1, step: 0.05, value: 0.95 }),
    seed: el("input", { type: "number", min: 0, value: 0 }),
    run: el("button", { class: "tlm-primary", type: "button", text: "Run my prompt", disabled: true }),
    parity: el("button", { type: "button", text: "Check against PyTorch", disabled: true }),
    parityBadge: el("span", { class: "tlm-badge", text: "parity: not checked" }),
    layer: select(Array.from({ length: 6 }, (_, i) => [String(i), `layer ${i}`]), "0"),
    head: select(Array.from({ length: 12 }, (_, i) => [String(i), `head ${i}`]), "0"),
    message: el("p", { class: "tlm-message", role: "status", "aria-live": "polite" }),
    steps: el("div", { class: "llmbook-live-steps" }),
  };
  ui.prompt.value = data.book_prompt;
  const weights = el("fieldset", { class: "tlm-panel" }, el("legend", { text: "The weights" }),
    el("p", { text: `distilgpt2's published model.safetensors (about ${data.weights_mb} MB, float32). It stays in your browser; nothing is sent anywhere.` }),
    el("div", { class: "tlm-row" }, ui.download, field("…or pick a model.safetensors from your disk", ui.file), ui.forget),
    el("div", { class: "tlm-row" }, ui.progress, ui.progressText), ui.status,
    el("div", { class: "tlm-row" }, field("Engine", ui.engine), ui.engineBadge));
  const prompt = el("fieldset", { class: "tlm-panel" }, el("legend", { text: "Your prompt" }), field("Prompt", ui.prompt),
    el("div", { class: "tlm-grid" }, field("Tokens to generate", ui.generate), field("Pick", ui.mode), field("Temperature", ui.temperature),
      field("Top-k (0: off)", ui.topk), field("Top-p", ui.topp), field("Seed", ui.seed)),
    el("div", { class: "tlm-row" }, ui.run, ui.parity, ui.parityBadge));
  root.append(weights, prompt, ui.message, ui.steps);
  return ui;
}

async function cachedBytes(url, peek = false) {
  if (!globalThis.caches) return null;
  try {
    const hit = await (await caches.open(CACHE)).match(url);
    return hit ? (peek ? true : await hit.arrayBuffer()) : null;
  } catch {
    return null;                                  // storage blocked (private mode, file://): download instead
  }
}

async function saveBytes(url, buffer) {
  if (!globalThis.caches) return false;
  try {
    await (await caches.open(CACHE)).put(url, new Response(buffer, { headers: { "Content-Type": "application/octet-stream" } }));
    return true;
  } catch {
    return false;                                 // quota or storage blocked: the page works without it
  }
}

/** The file's bytes, with bytes / rate / time left; refuses an HTTP error and a cut download. */
async function download(url, ui) {
  let res;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new Error(`could not reach ${url} (${err.message}). Offline? Pick a model.safetensors from your disk instead, or give ?weights=URL of a mirror.`);
  }
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status} ${res.statusText}.`);
  const total = Number(res.headers.get("Content-Length")) || 0, reader = res.body.getReader(), chunks = [];
  const t0 = performance.now();
  let got = 0;
  ui.progress.hidden = false;
  ui.progress.max = total || 1;
  for (;;) {
    let part;
    try {
      part = await reader.read();
    } catch (err) {
      throw new Error(`the download stopped after ${bytes(got)}${total ? ` of ${bytes(total)}` : ""} (${err.message}). Try again.`);
    }
    if (part.done) break;
    chunks.push(part.value);
    got += part.value.length;
    const s = (performance.now() - t0) / 1000, rate = got / Math.max(s, 1e-3);
    ui.progress.value = got;
    ui.progressText.textContent = `${bytes(got)}${total ? ` of ${bytes(total)}` : ""} · ${bytes(rate)}/s` +
      (total ? ` · ${Math.max(0, (total - got) / rate).toFixed(0)} s left` : "");
  }
  if (total && got !== total) throw new Error(`the download stopped after ${bytes(got)} of ${bytes(total)}. Try again.`);
  const out = new Uint8Array(got);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out.buffer;
}

/** A token as text; a piece of a UTF-8 character (an emoji or CJK split across tokens) as its bytes, ⟨e6 9d⟩. */
function readable(tokenizer, id) {
  const text = tokenizer.piece(id), raw = tokenizer.bytes && tokenizer.bytes(id);
  if (!text.includes("\uFFFD") || !raw) return text;
  return `⟨${raw.map((b) => b.toString(16).padStart(2, "0")).join("\u2009")}⟩`;
}

function settingsOf(ui) {
  const n = (input, lo, hi, fallback) => { const v = Number(input.value); return Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : fallback; };
  return { generate: Math.round(n(ui.generate, 0, 200, 8)), mode: ui.mode.value, temperature: n(ui.temperature, 0.05, 5, 1),
    topk: Math.round(n(ui.topk, 0, 50257, 0)), topp: n(ui.topp, 0.05, 1, 1), seed: Math.round(n(ui.seed, 0, 2 ** 31, 0)) };
}

async function runPrompt(m, ui, tokenizer, say) {
  if (!m) throw new Error("load the weights first");
  const text = ui.prompt.value, settings = settingsOf(ui), ctx = m.config.n_positions;
  let ids = text.trim() ? tokenizer.encode(text) : [];
  if (!ids.length) { say("Type a prompt first: an empty prompt has no tokens to run.", "error"); return; }
  let cut = null;
  const room = ctx - settings.generate;
  if (ids.length > room) {
    cut = `Your prompt is ${ids.length.toLocaleString("en")} tokens; distilgpt2 sees ${ctx.toLocaleString("en")} positions and ${settings.generate} are kept for generation, so its first ${(ids.length - room).toLocaleString("en")} tokens were cut.`;
    ids = ids.slice(ids.length - room);
  }
  const piece = (id) => ui.special[id] ?? readable(tokenizer, id), T = ids.length;
  ui.steps.textContent = "";
  const cache = m.newCache(), t0 = performance.now();
  const pass = await m.forward(ids, { cache, logits: "last", attention: T <= 256 ? "all" : [Number(ui.layer.value)] });
  const passMs = performance.now() - t0, d = m.config.n_embd, last = pass.logits;
  const lens = pass.residual.map((r) => m.lens(r.subarray((T - 1) * d, T * d)));
  ui.steps.append(renderInput(text, cut), renderTokens(ids, piece), renderEmbed(pass, ids, piece, d));
  const layers = renderLayers(pass, lens, piece, m.config), attention = el("div");
  layers.append(el("h4", { text: "One head, step by step" }), el("div", { class: "tlm-row" }, field("Layer", ui.layer), field("Head", ui.head)), attention);
  ui.redrawAttention = async () => {
    let p = pass;
    if (!p.attention[Number(ui.layer.value)]) p = await m.forward(ids, { logits: "last", attention: [Number(ui.layer.value)] });
    attention.replaceChildren(renderAttention(p, m.config, piece, ids, Number(ui.layer.value), Number(ui.head.value)));
  };
  await ui.redrawAttention();
  const rand = mulberry32(settings.seed), choice = pick(last, settings, rand);
  ui.steps.append(layers, renderLogits(last, piece), renderSoftmax(last, piece), renderSample(choice, settings, piece));
  const loop = renderLoop(m.config), out = [...ids];
  ui.steps.append(loop.section);
  let next = choice, genMs = 0;
  for (let g = 0; g < settings.generate && cache.length < ctx; g++) {
    out.push(next.id);
    const t = performance.now(), step = await m.forward([next.id], { cache, logits: "last", attention: "none" }), ms = performance.now() - t;
    genMs += ms;
    loop.add([g + 1, piece(next.id).replace(/\n/g, "\u21b5"), prob(next.prob), cache.length, bytes(cache.bytes), ms.toFixed(0)]);
    next = pick(step.logits, settings, rand);
  }
  const n = out.length - T;
  ui.steps.append(renderDone(out, T, piece, `The prompt pass took ${passMs.toFixed(0)} ms for ${T} tokens on ${m.backend === "webgpu" ? "WebGPU" : "the CPU"}; ` +
    (n ? `${n} new tokens took ${genMs.toFixed(0)} ms (${(n / (genMs / 1000)).toFixed(1)} tokens/s), the cache ending at ${bytes(cache.bytes)}.` : "no tokens were generated.")));
  say(`Done: ${T} prompt tokens, ${n} generated.`);
}

/** The book's prompt through this model, against the logits PyTorch computed at build time. */
async function checkParity(m, ui, data, tokenizer) {
  if (!m) throw new Error("load the weights first");
  const ref = await loadScript(data.parity_script, "LLMBOOK_LIVE_PARITY");
  const ids = tokenizer.encode(ref.prompt);
  if (ids.join() !== ref.ids.join()) throw new Error(`the page's tokenizer gave ${ids.join(" ")}, PyTorch's ${ref.ids.join(" ")}`);
  const out = await m.forward(ids, { logits: "last", attention: "none" });
  const refLogits = fromBase64(ref.logits_b64, Float32Array), delta = maxAbsDiff(out.logits, refLogits);
  const ok = delta <= 1e-4;
  ui.parityBadge.className = `tlm-badge ${ok ? "tlm-ok" : "tlm-bad"}`;
  ui.parityBadge.textContent = `parity: max |Δ| ${delta.toExponential(1)} over ${refLogits.length.toLocaleString("en")} logits`;
  ui.parityBadge.title = `Reference: ${ref.label}`;
  ui.message.textContent = ok ? `The page's logits for "${ref.prompt}" equal PyTorch's (${ref.label}) within ${delta.toExponential(1)}.`
    : `The page's logits differ from PyTorch's by up to ${delta.toExponential(1)}: the reference was computed from ${ref.label}, which are not the weights loaded here.`;
}

function loadScript(src, global) {
  if (window[global]) return Promise.resolve(window[global]);
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = () => (window[global] ? resolve(window[global]) : reject(new Error(`${src} did not define ${global}`)));
    s.onerror = () => reject(new Error(`${src} could not be loaded`));
    document.head.append(s);
  });
}
