// "Ask TinyLlama, live": TinyLlama-1.1B-Chat in the reader's browser, the chat first, then the nine steps.
//
//   mountLlama(root, data, tokenizer, pieces, { workerSource })   data: window.LLMBOOK_LLAMA (llmbook.sphinxext.llama_live)
//
// The model runs in a Web Worker (llama-worker.js) started from workerSource, the page's own bundled
// script as text (a blob: URL, so it works opened from disk too); where no worker starts, the same host
// runs on the page, said so. The worker fetches and reads the weights itself (llama-load.js) and
// reports progress; the page only draws. Nothing is fetched until the reader asks: the size is said
// first, and what the device says about its memory. The question is wrapped in the chat template in
// the page (shown as it is typed, special tokens named) and the answer streams token by token until
// </s> or the length the reader set; Stop ends it after the token being computed.
// Switching the engine after a load builds the other engine on the weights already in the worker's
// memory (no second read). Not handled: several turns of conversation (one question at a time), a
// system prompt.

import { el, field, fromBase64, select } from "../common/dom.js";
import { bytes, maxAbsDiff } from "./live-math.js";
import { renderSample, renderSoftmax } from "./live-steps.js";
import { chatIds, decodePieces, memoryAdvice } from "./llama-math.js";
import { connect, loadScript, nextFrame } from "./host.js";
import { createHost } from "./llama-worker.js";
import { renderAttentionHead, renderEmbed, renderFinal, renderGqa, renderHeadLogits, renderInput, renderLayers, renderLoop, renderRmsNorm,
  renderRope, renderSwiglu, renderTokens, templateNodes, visible } from "./llama-steps.js";

const CACHE = "llmbook-weights-v1";
const MAX_QUESTION_CHARS = 20_000;

export function mountLlama(root, data, tokenizer, pieces, { workerSource } = {}) {
  const params = new URLSearchParams(location.search), url = params.get("weights") || data.weights_url;
  const ui = buildControls(root, data, url);
  const state = { model: null, busy: false, stop: false, host: connect(workerSource, createHost), pass: null, ids: null };
  const special = data.special_tokens;
  const piece = (id) => special[id] ?? readable(tokenizer, id);
  const say = (text, kind = "note") => { ui.message.textContent = text; ui.message.dataset.kind = kind; };
  const templated = () => chatIds(data.template, (t) => tokenizer.encode(t), ui.question.value, data.message_marker);

  const showTemplate = () => {
    const { ids, segments } = templated();
    ui.templateView.replaceChildren(...templateNodes(segments));
    ui.templateIds.textContent = `${ids.length} ids: ${ids.join(" ")}`;
    root.dataset.ids = ids.join(",");
  };
  showTemplate();
  ui.question.addEventListener("input", showTemplate);
  const syncPick = () => {
    const greedy = ui.mode.value === "greedy";
    for (const input of [ui.temperature, ui.topk, ui.topp, ui.seed]) { input.disabled = greedy; input.style.opacity = greedy ? "0.45" : ""; }
    ui.pickNote.textContent = (greedy ? "Greedy takes the most probable token: temperature, top-k, top-p and seed are used only when Pick is " +
      "sample. " : "Sample: temperature divides the logits, then top-k and top-p cut the candidates, then the seed draws one. ") +
      "The probabilities steps 6 to 8 show are the model's own, at temperature 1, whatever is set here.";
  };
  syncPick();
  ui.mode.addEventListener("change", syncPick);

  state.host.then((host) => {
    root.dataset.host = host.where;
    if (host.where === "page") {
      ui.hostNote.hidden = false;
      ui.hostNote.textContent = `This browser would not start a background worker here (${host.reason}), so the model runs on the page itself: ` +
        "the page pauses while each token is computed, and Stop acts between tokens.";
    }
  });

  /** config: the checkpoint's config.json (a picked .json, or ?config=URL), else TinyLlama's own. */
  async function load(source, label, config = null) {
    const host = await state.host;
    state.model = null;
    ui.ask.disabled = ui.parity.disabled = true;
    ui.progress.hidden = false;
    ui.progress.value = 0;
    try {
      const given = config || (params.get("config") ? await fetchConfig(params.get("config")) : data.config);
      const info = await host.call("load", { source, backend: ui.engine.value, config: given, cacheName: source.url ? CACHE : null },
        [], (p) => progress(ui, p));
      loaded(info, info.from === "cache" ? "this browser's saved copy" : label);
      if (info.saved || info.from === "cache") ui.forget.disabled = false;
    } catch (err) {
      ui.status.textContent = "No weights loaded: the last ones could not be used.";
      ui.engineBadge.textContent = "engine: none yet";
      throw err;
    }
  }

  function loaded(info, source) {
    state.model = info;
    state.source = source;
    const c = info.config, engine = info.backend === "webgpu" ? "WebGPU" : info.kernel === "wasm" ? "CPU (WebAssembly)" : "CPU (JavaScript)";
    ui.status.textContent = `Loaded from ${source}: ${c.num_hidden_layers} layers, ${c.num_attention_heads} query heads sharing ` +
      `${c.num_key_value_heads} KV heads of ${c.head_dim}, d ${c.hidden_size.toLocaleString("en")}, SwiGLU ${c.intermediate_size.toLocaleString("en")}, ` +
      `vocabulary ${c.vocab_size.toLocaleString("en")}` + (info.weightBytes ? `; ${bytes(info.weightBytes)} of ${info.dtype === "BF16" ? "bfloat16" : "float32"} weights in memory.` : ".");
    ui.engineBadge.textContent = `engine: ${engine}`;
    const notes = [info.fallback && `WebGPU could not run this model (${info.fallback}): the CPU engine runs it instead.`,
      info.kernelNote && `The WebAssembly kernels could not run (${info.kernelNote}): plain JavaScript runs the model, more slowly.`,
      splitNote(info.binding)].filter(Boolean);
    if (notes.length) say(notes.join(" "));
    ui.ask.disabled = ui.parity.disabled = false;
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

  ui.download.addEventListener("click", () => guarded("The weights could not be loaded", () => load({ url }, new URL(url, location.href).host || "the given URL")));
  ui.file.addEventListener("change", () => guarded("That file could not be used", async () => {
    const files = [...ui.file.files], f = files.find((x) => !/\.json$/i.test(x.name)), json = files.find((x) => /\.json$/i.test(x.name));
    if (!f) { if (json) say("That is only a config.json: pick the model.safetensors with it.", "error"); return; }
    await load({ file: f }, `your file ${f.name} (${bytes(f.size)})`, json ? await readConfig(json) : null);
  }));
  ui.forget.addEventListener("click", () => guarded("The saved copy could not be removed", async () => {
    await globalThis.caches.delete(CACHE);
    ui.forget.disabled = true;
    ui.download.textContent = downloadLabel(data, url);
    say("The saved copy of the weights is gone; the next load downloads them again.");
  }));
  ui.engine.addEventListener("change", () => {
    if (!state.model) return;
    guarded("The engine could not be changed", async () => {             // the weights stay in the worker's memory
      const host = await state.host, from = state.source;
      state.model = null;
      ui.ask.disabled = ui.parity.disabled = true;
      try {
        loaded(await host.call("engine", { backend: ui.engine.value }), from);
      } catch (err) {
        ui.status.textContent = "No engine: load the weights again.";
        ui.engineBadge.textContent = "engine: none yet";
        throw err;
      }
    });
  });
  ui.ask.addEventListener("click", () => guarded("The answer stopped", () => ask(state, ui, templated(), piece, pieces, data, say)));
  ui.stop.addEventListener("click", () => { state.stop = true; ui.stop.disabled = true; });
  ui.parity.addEventListener("click", () => guarded("The check could not run", () => checkParity(state, ui, data, tokenizer)));
  const redraw = () => guarded("The layer could not be drawn", () => drawDetails(state, ui, piece));
  ui.layer.addEventListener("change", redraw);
  ui.head.addEventListener("change", redraw);
  if (globalThis.caches) {
    caches.open(CACHE).then((c) => c.match(url)).then((hit) => {
      if (hit) { ui.forget.disabled = false; ui.download.textContent = "Load TinyLlama (saved in this browser)"; }
    }, () => {});
  }
  return { state, ui };
}

/** What WebGPU did with tensors larger than one binding: null when none was split. */
function splitNote(binding) {
  if (!binding || !binding.splits.length) return null;
  const list = binding.splits.map((t) => `${t.name} in ${t.parts}`).join(", ");
  return `This GPU binds at most ${bytes(binding.limit)} per buffer, so ${binding.splits.length === 1 ? "one tensor is" : `${binding.splits.length} tensors are`} ` +
    `split by rows over several buffers, one dispatch each (${list}); the numbers are the same.`;
}

/** A picked config.json, parsed; a file that is not JSON is named. */
async function readConfig(file) {
  try {
    return JSON.parse(await file.text());
  } catch (err) {
    throw new Error(`${file.name} is not a config.json (${err.message})`);
  }
}

async function fetchConfig(url) {
  let res;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new Error(`could not reach the config ${url} (${err.message})`);
  }
  if (!res.ok) throw new Error(`the config ${url} answered HTTP ${res.status}`);
  return JSON.parse(await res.text());
}

const downloadLabel = (data, url) => `Download TinyLlama (${bytes(data.weights_bytes)} from ${new URL(url, location.href).host || "this site"})`;

function buildControls(root, data, url) {
  root.textContent = "";
  const c = data.config, memory = memoryAdvice(data.weights_bytes, globalThis.navigator && navigator.deviceMemory);
  const ui = {
    download: el("button", { class: "tlm-primary", type: "button", text: downloadLabel(data, url) }),
    file: el("input", { type: "file", accept: ".safetensors,.json", multiple: true }),
    forget: el("button", { type: "button", text: "Forget the saved copy", disabled: true }),
    engine: select([["webgpu", "WebGPU (falls back to the CPU)"], ["cpu", "CPU (WebAssembly)"]], "cpu"),
    progress: el("progress", { max: 1, value: 0, hidden: true }),
    progressText: el("span", { class: "llmbook-live-progress", "aria-live": "polite" }),
    memory: el("p", { class: memory.ok ? "llmbook-llama-memory" : "llmbook-llama-memory tlm-message", "data-kind": memory.ok ? "note" : "error", text: memory.text }),
    status: el("p", { class: "llmbook-live-status", text: "No weights loaded yet: nothing has been downloaded." }),
    hostNote: el("p", { class: "llmbook-live-host", role: "note", hidden: true }),
    engineBadge: el("span", { class: "tlm-badge", text: "engine: none yet" }),
    question: el("textarea", { rows: 3, maxlength: MAX_QUESTION_CHARS }),
    templateView: el("div", { class: "llmbook-llama-template", "aria-label": "Your question in the chat template", style: "line-height: 2;" }),
    templateIds: el("p", { class: "llmbook-llama-ids", style: "font-size: 0.85em; overflow-wrap: anywhere;" }),
    generate: el("input", { type: "number", min: 0, max: 512, value: 32 }),
    mode: select([["greedy", "greedy (most probable)"], ["sample", "sample"]], "greedy"),
    pickNote: el("p", { class: "llmbook-llama-pick-note", style: "font-size: 0.85em;" }),
    temperature: el("input", { type: "number", min: 0.05, max: 5, step: 0.05, value: 0.7 }),
    topk: el("input", { type: "number", min: 0, max: c.vocab_size, value: 50 }),
    topp: el("input", { type: "number", min: 0.05, max: 1, step: 0.05, value: 0.95 }),
    seed: el("input", { type: "number", min: 0, value: 0 }),
    ask: el("button", { class: "tlm-primary", type: "button", text: "Ask", disabled: true }),
    stop: el("button", { class: "llmbook-live-stop", type: "button", text: "Stop", disabled: true, title: "Stop answering: the token being computed is the last" }),
    parity: el("button", { type: "button", text: "Check against PyTorch", disabled: true }),
    parityBadge: el("span", { class: "tlm-badge", text: "parity: not checked" }),
    answer: el("div", { class: "llmbook-llama-answer", "aria-live": "polite", "data-empty": "true", text: "The answer appears here, token by token.",
      style: "border-left: 4px solid #55a868; padding: 0.5rem 0.75rem; margin-top: 0.75rem; white-space: pre-wrap; min-height: 2.5em;" }),
    layer: select(Array.from({ length: c.num_hidden_layers }, (_, i) => [String(i), `layer ${i}`]), "0"),
    head: select(Array.from({ length: c.num_attention_heads }, (_, i) => [String(i), `head ${i}`]), "0"),
    message: el("p", { class: "tlm-message", role: "status", "aria-live": "polite" }),
    steps: el("div", { class: "llmbook-live-steps" }),
  };
  ui.question.value = data.book_prompt;
  const weights = el("fieldset", { class: "tlm-panel" }, el("legend", { text: "The weights" }),
    el("p", { text: `TinyLlama-1.1B-Chat's model.safetensors: ${bytes(data.weights_bytes)} of bfloat16 weights, downloaded only when you press the ` +
      "button, then kept in your browser for the next visit. Nothing you type is sent anywhere." }),
    ui.memory,
    el("div", { class: "tlm-row" }, ui.download, field("…or pick a model.safetensors (and its config.json) from your disk", ui.file), ui.forget),
    el("p", { style: "font-size: 0.85em;", text: "config.json is optional: it gives the model's sizes (layers, heads, widths). Without it the page " +
      "uses TinyLlama's own, which is right for TinyLlama's file; pick it too for a smaller Llama-shaped file." }),
    el("div", { class: "tlm-row" }, ui.progress, ui.progressText), ui.status,
    el("div", { class: "tlm-row" }, field("Engine", ui.engine), ui.engineBadge),
    el("p", { style: "font-size: 0.85em;", text: "Both engines compute in float32 from the same bfloat16 weights: WebGPU on the graphics card where the " +
      "browser offers it (else the CPU), or the CPU through WebAssembly. Either must pass the check against PyTorch within 0.001; " +
      "switching engines keeps the weights already read." }), ui.hostNote);
  const chat = el("fieldset", { class: "tlm-panel" }, el("legend", { text: "Your question" }), field("Question", ui.question),
    el("p", { class: "llmbook-llama-caption", text: "What the model reads (the chat template applied):" }), ui.templateView, ui.templateIds,
    el("div", { class: "tlm-grid" }, field("Longest answer (tokens)", ui.generate), field("Pick", ui.mode), field("Temperature", ui.temperature),
      field("Top-k (0: off)", ui.topk), field("Top-p", ui.topp), field("Seed", ui.seed)), ui.pickNote,
    el("div", { class: "tlm-row" }, ui.ask, ui.stop, ui.parity, ui.parityBadge), ui.answer);
  root.append(weights, chat, ui.message, ui.steps);
  return ui;
}

function progress(ui, p) {
  ui.progress.max = p.total || 1;
  ui.progress.value = p.got;
  const verb = p.from === "network" ? "downloaded" : "read";
  ui.progressText.textContent = `${bytes(p.got)}${p.total ? ` of ${bytes(p.total)}` : ""} ${verb} · ${bytes(p.rate)}/s` +
    (p.left !== null && p.total ? ` · ${p.left.toFixed(0)} s left` : "");
}

/** A token as text; a byte piece that is a piece of a UTF-8 character, or a control character, as its byte ⟨e6⟩. */
function readable(tokenizer, id) {
  const text = tokenizer.piece(id), byte = /^<0x([0-9A-F]{2})>$/.exec(text);
  if (byte) return `⟨${byte[1].toLowerCase()}⟩`;
  return /^[\u0000-\u0008\u000b-\u001f\u007f]$/.test(text) ? `⟨${text.charCodeAt(0).toString(16).padStart(2, "0")}⟩` : text;
}

function settingsOf(ui, V) {
  const n = (input, lo, hi, fallback) => { const v = Number(input.value); return Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : fallback; };
  return { generate: Math.round(n(ui.generate, 0, 512, 32)), mode: ui.mode.value, temperature: n(ui.temperature, 0.05, 5, 1),
    topk: Math.round(n(ui.topk, 0, V, 0)), topp: n(ui.topp, 0.05, 1, 1), seed: Math.round(n(ui.seed, 0, 2 ** 31, 0)) };
}

async function ask(state, ui, { ids, segments }, piece, pieces, data, say) {
  const info = state.model, host = await state.host;
  if (!info) throw new Error("load the weights first");
  const question = ui.question.value, config = info.config, settings = settingsOf(ui, config.vocab_size);
  if (!question.trim()) { say("Type a question first: an empty question gives the model nothing to answer.", "error"); return; }
  const room = config.max_position_embeddings - settings.generate;
  if (ids.length > room) {
    say(`Your question is ${ids.length.toLocaleString("en")} tokens in the template; TinyLlama reads ${config.max_position_embeddings.toLocaleString("en")} ` +
      `positions and ${settings.generate} are kept for the answer. Shorten it by ${(ids.length - room).toLocaleString("en")} tokens.`, "error");
    return;
  }
  const T = ids.length, layer = Number(ui.layer.value), eos = data.eos_id;
  ui.steps.textContent = "";
  ui.answer.textContent = "";
  ui.answer.dataset.empty = "false";
  const pass = await host.call("prompt", { ids, settings, layer });
  state.pass = pass;
  state.ids = ids;
  ui.steps.append(renderInput(question, segments, null), renderTokens(segments, piece), renderEmbed(pass, ids, piece, config));
  await nextFrame();
  const layers = renderLayers(pass, piece, config);
  ui.details = el("div", { class: "llmbook-llama-details" });
  layers.append(renderRmsNorm(pass, config), el("h4", { text: "Inside one layer" }),
    el("div", { class: "tlm-row" }, field("Layer", ui.layer), field("Head", ui.head)), ui.details);
  ui.steps.append(layers);
  drawLayer(ui, pass, config, piece, ids);
  await nextFrame();
  ui.steps.append(renderHeadLogits(pass.logits, piece, config));
  await nextFrame();
  ui.steps.append(renderSoftmax(pass.logits, piece), renderSample(pass.choice, settings, piece));
  await nextFrame();
  const loop = renderLoop(config), out = [...ids], answer = [];
  ui.steps.append(loop.section);
  loop.add(["prompt", `${T} prompt tokens`, "–", pass.cache, pass.ms.toFixed(1)], "prompt");
  let next = pass.choice, genMs = 0, cache = pass.cache, stopped = false, ended = false;
  state.stop = false;
  ui.stop.disabled = !settings.generate;
  try {
    for (let g = 0; g < settings.generate && cache.length < config.max_position_embeddings; g++) {
      if (state.stop) { stopped = true; break; }
      out.push(next.id);
      loop.token(next.id === eos ? piece(next.id) : visible(piece(next.id)), T + g, next.id === eos);
      if (next.id === eos) { ended = true; loop.add(["–", piece(next.id), prob(next.prob), cache, "– (not fed in: the answer ends)"], "end"); break; }
      answer.push(next.id);
      ui.answer.textContent = decodePieces(answer, pieces, data.special_tokens);
      const step = await host.call("step", { id: next.id });
      genMs += step.ms;
      cache = step.cache;
      loop.add([g + 1, visible(piece(next.id)), prob(next.prob), cache, step.ms.toFixed(1)]);
      next = step.next;
    }
  } finally {
    ui.stop.disabled = true;
  }
  const n = answer.length, engine = info.backend === "webgpu" ? "WebGPU" : "the CPU";
  const why = ended ? "The model ended its answer with </s>." : stopped ? `Stopped after ${n} of ${settings.generate}.` : `It reached the length you set (${settings.generate}).`;
  ui.steps.append(renderFinal(out, T, piece, data.special_tokens, `The prompt pass took ${pass.ms.toFixed(1)} ms for ${T} tokens on ${engine}; ` +
    (n ? `the ${n} passes that fed the answer's tokens in took ${genMs.toFixed(1)} ms in all (step 8's rows after the prompt's; ` +
      `${(n / (genMs / 1000)).toFixed(1)} tokens/s), the cache ending at ${cache.length.toLocaleString("en")} tokens, ` +
      `${cache.bytes.toLocaleString("en")} bytes. ` : "no tokens were generated. ") + why));
  if (!n) ui.answer.textContent = ended ? "(The model answered </s> at once: an empty answer.)" : "(No tokens generated.)";
  say(`${stopped ? "Stopped" : "Done"}: ${T} prompt tokens, ${n} answer tokens. ${why}`);
}

/** The layer details (RoPE, GQA, attention, SwiGLU) for the chosen layer and head. */
function drawLayer(ui, detail, config, piece, ids) {
  const head = Number(ui.head.value);
  ui.details.replaceChildren(renderRope(detail, config, piece, ids, head), renderGqa(detail, config, piece, ids, head),
    renderAttentionHead(detail, config, piece, ids, head), renderSwiglu(detail, config));
}

async function drawDetails(state, ui, piece) {
  if (!state.pass || !ui.details) return;
  const layer = Number(ui.layer.value), host = await state.host;
  if (state.pass.layer !== layer) Object.assign(state.pass, await host.call("detail", { layer }));
  drawLayer(ui, state.pass, state.model.config, piece, state.ids);
}

/** The book's prompt through this model, against the logits PyTorch computed at build time. */
async function checkParity(state, ui, data, tokenizer) {
  if (!state.model) throw new Error("load the weights first");
  const host = await state.host, ref = await loadScript(data.parity_script, "LLMBOOK_LLAMA_PARITY");
  const { ids } = chatIds(data.template, (t) => tokenizer.encode(t), ref.prompt, data.message_marker);
  if (ids.join() !== ref.ids.join()) throw new Error(`the page's chat template gave ${ids.join(" ")}, PyTorch's ${ref.ids.join(" ")}`);
  const out = await host.call("logits", { ids });
  const refLogits = fromBase64(ref.logits_b64, Float32Array), delta = maxAbsDiff(out.logits, refLogits), ok = delta <= 1e-3;
  ui.parityBadge.className = `tlm-badge ${ok ? "tlm-ok" : "tlm-bad"}`;
  ui.parityBadge.textContent = `parity: max |Δ| ${delta.toExponential(1)} over ${refLogits.length.toLocaleString("en")} logits`;
  ui.parityBadge.title = `Reference: ${ref.label}`;
  ui.message.textContent = ok ? `The page's logits for "${ref.prompt}" equal PyTorch's (${ref.label}) within ${delta.toExponential(1)}.`
    : `The page's logits differ from PyTorch's by up to ${delta.toExponential(1)}: the reference was computed from ${ref.label}, which are not the weights loaded here.`;
}

const prob = (p) => (p >= 0.01 ? p.toFixed(2) : p.toExponential(1));
