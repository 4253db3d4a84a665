// "Your prompt, live": distilgpt2's published weights run in the reader's browser.
//
//   mountLive(root, data, tokenizer, { workerSource })   data: window.LLMBOOK_LIVE (llmbook.sphinxext.live)
//
// The model runs in a Web Worker (live-worker.js) started from workerSource, the page's own
// bundled script as text (a blob: URL, so it works opened from disk too): the page only
// draws, and stays responsive while tokens are computed; Stop ends generation after the
// token being computed. Where no worker starts, the same host runs on the page, said so.
//
// Nothing is fetched until the reader asks. The weights come from data.weights_url
// (?weights=URL overrides it: mirrors, self-hosting) with a progress line, or from a
// model.safetensors picked from disk; downloaded bytes are kept in Cache Storage (where
// the page is served over http(s)) so the next visit starts at once. Every fault is a
// message naming it, and the page keeps working. Not handled: resuming a cut download
// (it starts again), several models at once.

import { el, field, fromBase64, select } from "../common/dom.js";
import { connect, loadScript, nextFrame } from "./host.js";
import { createHost } from "./live-worker.js";
import { bytes, maxAbsDiff } from "./live-math.js";
import { collector, pump } from "./read-stream.js";
import { prob, renderAttention, renderDone, renderEmbed, renderInput, renderLayers, renderLogits, renderLoop, renderSample,
  renderSoftmax, renderTokens } from "./live-steps.js";

const CACHE = "llmbook-weights-v1";
const MAX_PROMPT_CHARS = 100_000;

export function mountLive(root, data, tokenizer, { workerSource } = {}) {
  const url = new URLSearchParams(location.search).get("weights") || data.weights_url;
  const ui = buildControls(root, data, url);
  ui.special = data.special_tokens || {};
  const state = { model: null, source: null, busy: false, stop: false, host: connect(workerSource, createHost) };
  const say = (text, kind = "note") => { ui.message.textContent = text; ui.message.dataset.kind = kind; };
  state.host.then((host) => {
    root.dataset.host = host.where;
    if (host.where === "page") {
      ui.hostNote.hidden = false;
      ui.hostNote.textContent = `This browser would not start a background worker here (${host.reason}), so the model runs on the page itself: ` +
        "the page pauses while each token is computed, and Stop acts between tokens.";
    }
  });

  /** source: the file's bytes (an ArrayBuffer, or the download's chunks: handed over to the engine) or a File;
   *  saveAs: keep them in Cache Storage. */
  async function use(source, label, saveAs) {
    ui.progress.hidden = true;
    const host = await state.host;
    state.model = null;
    ui.run.disabled = ui.parity.disabled = true;
    const handed = source instanceof ArrayBuffer ? [source] : Array.isArray(source) ? [...new Set(source.map((c) => c.buffer))] : [];
    const info = await unloadedOnError(host.call("load", { source, backend: ui.engine.value, saveAs }, handed));
    loaded(info, label);
    return info;
  }

  async function makeModel(source) {
    const host = await state.host;
    state.model = null;
    ui.run.disabled = ui.parity.disabled = true;
    loaded(await unloadedOnError(host.call("engine", { backend: ui.engine.value })), source);
  }

  /** The engine lets the old model go before it reads new weights: a failed load leaves none. */
  async function unloadedOnError(call) {
    try {
      return await call;
    } catch (err) {
      state.source = null;
      ui.status.textContent = "No weights loaded: the last ones could not be used.";
      ui.engineBadge.textContent = "engine: none yet";
      throw err;
    }
  }

  function loaded(info, source) {
    state.model = info;
    state.source = source;
    const c = info.config, engine = info.backend === "webgpu" ? "WebGPU" : `CPU (WebAssembly), ${threadsLabel(info)}`;
    ui.status.textContent = `Loaded from ${source}: ${c.n_layer} layers × ${c.n_head} heads, d ${c.n_embd}, vocabulary ${c.vocab_size.toLocaleString("en")}, context ${c.n_positions.toLocaleString("en")}.`;
    ui.engineBadge.textContent = `engine: ${engine}`;
    if (info.fallback) say(`WebGPU could not run this model (${info.fallback}), so the CPU engine runs it.`);
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
    const got = await download(url, ui);
    const info = await use(got, new URL(url, location.href).host || "the given URL", { cache: CACHE, url });
    if (info.saved) ui.forget.disabled = false;
  }));
  ui.file.addEventListener("change", () => guarded("That file could not be used", async () => {
    const f = ui.file.files[0];
    if (f) await use(f, `your file ${f.name} (${bytes(f.size)})`);
  }));
  ui.forget.addEventListener("click", () => guarded("The saved copy could not be removed", async () => {
    await globalThis.caches.delete(CACHE);
    ui.forget.disabled = true;
    say("The saved copy of the weights is gone; the next load downloads them again.");
  }));
  ui.engine.addEventListener("change", () => { if (state.source) guarded("The engine could not be changed", () => makeModel(state.source)); });
  ui.run.addEventListener("click", () => guarded("The pass stopped", () => runPrompt(state, ui, tokenizer, say)));
  ui.stop.addEventListener("click", () => { state.stop = true; ui.stop.disabled = true; });
  ui.parity.addEventListener("click", () => guarded("The check could not run", () => checkParity(state, ui, data, tokenizer)));
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
    hostNote: el("p", { class: "llmbook-live-host", role: "note", hidden: true }),
    engineBadge: el("span", { class: "tlm-badge", text: "engine: none yet" }),
    prompt: el("textarea", { rows: 3, maxlength: MAX_PROMPT_CHARS }),
    generate: el("input", { type: "number", min: 0, max: 200, value: 8 }),
    mode: select([["greedy", "greedy (most probable)"], ["sample", "sample"]], "greedy"),
    temperature: el("input", { type: "number", min: 0.05, max: 5, step: 0.05, value: 0.8 }),
    topk: el("input", { type: "number", min: 0, max: 50257, value: 40 }),
    topp: el("input", { type: "number", min: 0.05, max: 1, step: 0.05, value: 0.95 }),
    seed: el("input", { type: "number", min: 0, value: 0 }),
    run: el("button", { class: "tlm-primary", type: "button", text: "Run my prompt", disabled: true }),
    stop: el("button", { class: "llmbook-live-stop", type: "button", text: "Stop", disabled: true,
      title: "Stop generating: the token being computed is the last" }),
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
    el("div", { class: "tlm-row" }, field("Engine", ui.engine), ui.engineBadge), ui.hostNote);
  const prompt = el("fieldset", { class: "tlm-panel" }, el("legend", { text: "Your prompt" }), field("Prompt", ui.prompt),
    el("div", { class: "tlm-grid" }, field("Tokens to generate", ui.generate), field("Pick", ui.mode), field("Temperature", ui.temperature),
      field("Top-k (0: off)", ui.topk), field("Top-p", ui.topp), field("Seed", ui.seed)),
    el("div", { class: "tlm-row" }, ui.run, ui.stop, ui.parity, ui.parityBadge));
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

/** The file's bytes in one ArrayBuffer (read-stream.js collector), with bytes / rate / time left; refuses an
 *  HTTP error and a cut download. */
async function download(url, ui) {
  let res;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new Error(`could not reach ${url} (${err.message}). Offline? Pick a model.safetensors from your disk instead, or give ?weights=URL of a mirror.`);
  }
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status} ${res.statusText}.`);
  const total = Number(res.headers.get("Content-Length")) || 0, file = collector(total);
  ui.progress.hidden = false;
  ui.progress.max = total || 1;
  await pump(res.body, total, file.push, ({ got, rate, left }) => {
    ui.progress.value = got;
    ui.progressText.textContent = `${bytes(got)}${total ? ` of ${bytes(total)}` : ""} · ${bytes(rate)}/s` + (left === null ? "" : ` · ${left.toFixed(0)} s left`);
  });
  return file.result();
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

async function runPrompt(state, ui, tokenizer, say) {
  const info = state.model, host = await state.host;
  if (!info) throw new Error("load the weights first");
  const text = ui.prompt.value, settings = settingsOf(ui), config = info.config, ctx = config.n_positions;
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
  const pass = await host.call("prompt", { ids, attention: T <= 256 ? "all" : [Number(ui.layer.value)], settings });
  const passMs = pass.ms, d = config.n_embd;
  ui.steps.append(renderInput(text, cut), renderTokens(ids, piece), renderEmbed(pass, ids, piece, d));
  await nextFrame();                                  // each step drawn in a frame of its own: the page never stalls
  const layers = renderLayers(pass, pass.lens, piece, config), attention = el("div");
  layers.append(el("h4", { text: "One head, step by step" }), el("div", { class: "tlm-row" }, field("Layer", ui.layer), field("Head", ui.head)), attention);
  ui.redrawAttention = async () => {
    const layer = Number(ui.layer.value), head = Number(ui.head.value), view = await host.call("view", { layer, head });
    attention.replaceChildren(renderAttention(view, piece, ids, layer, head));
  };
  await ui.redrawAttention();
  ui.steps.append(layers);
  await nextFrame();
  ui.steps.append(renderLogits(pass.logits, piece));
  await nextFrame();
  const choice = pass.choice;                                  // the pick, made where the logits are (live-worker.js)
  ui.steps.append(renderSoftmax(pass.logits, piece), renderSample(choice, settings, piece));
  await nextFrame();
  const loop = renderLoop(config), out = [...ids];
  ui.steps.append(loop.section);
  let next = choice, genMs = 0, cache = pass.cache, stopped = false;
  state.stop = false;
  ui.stop.disabled = !settings.generate;
  try {
    for (let g = 0; g < settings.generate && cache.length < ctx; g++) {
      if (state.stop) { stopped = true; break; }
      out.push(next.id);
      loop.token(piece(next.id));
      const step = await host.call("step", { id: next.id });
      genMs += step.ms;
      cache = step.cache;
      loop.add([g + 1, piece(next.id).replace(/\n/g, "\u21b5"), prob(next.prob), cache.length, bytes(cache.bytes), step.ms.toFixed(0)]);
      next = step.next;
    }
  } finally {
    ui.stop.disabled = true;
  }
  const n = out.length - T, engine = info.backend === "webgpu" ? "WebGPU" : "the CPU";
  ui.steps.append(renderDone(out, T, piece, `The prompt pass took ${passMs.toFixed(0)} ms for ${T} tokens on ${engine}; ` +
    (n ? `${n} new tokens took ${genMs.toFixed(0)} ms (${(n / (genMs / 1000)).toFixed(1)} tokens/s), the cache ending at ${bytes(cache.bytes)}.` : "no tokens were generated.") +
    (stopped ? ` Stopped after ${n} of ${settings.generate}.` : "")));
  say(stopped ? `Stopped: ${T} prompt tokens, ${n} of ${settings.generate} generated.` : `Done: ${T} prompt tokens, ${n} generated.`);
}

/** The book's prompt through this model, against the logits PyTorch computed at build time. */
async function checkParity(state, ui, data, tokenizer) {
  if (!state.model) throw new Error("load the weights first");
  const host = await state.host;
  const ref = await loadScript(data.parity_script, "LLMBOOK_LIVE_PARITY");
  const ids = tokenizer.encode(ref.prompt);
  if (ids.join() !== ref.ids.join()) throw new Error(`the page's tokenizer gave ${ids.join(" ")}, PyTorch's ${ref.ids.join(" ")}`);
  const out = await host.call("logits", { ids });
  const refLogits = fromBase64(ref.logits_b64, Float32Array), delta = maxAbsDiff(out.logits, refLogits);
  const ok = delta <= 1e-4;
  ui.parityBadge.className = `tlm-badge ${ok ? "tlm-ok" : "tlm-bad"}`;
  ui.parityBadge.textContent = `parity: max |Δ| ${delta.toExponential(1)} over ${refLogits.length.toLocaleString("en")} logits`;
  ui.parityBadge.title = `Reference: ${ref.label}`;
  ui.message.textContent = ok ? `The page's logits for "${ref.prompt}" equal PyTorch's (${ref.label}) within ${delta.toExponential(1)}.`
    : `The page's logits differ from PyTorch's by up to ${delta.toExponential(1)}: the reference was computed from ${ref.label}, which are not the weights loaded here.`;
}

/** A new task after the next frame is drawn (or 50 ms, where frames are paused: a hidden tab). */
/** The CPU engine's threads for the engine line: "2 threads", or "1 thread (why)". */
export function threadsLabel({ threads = 1, threadsWhy = null }) {
  return threads > 1 ? `${threads} threads` : `1 thread${threadsWhy ? ` (${threadsWhy})` : ""}`;
}
