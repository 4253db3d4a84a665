// The widget's page: train the tiny transformer, watch it, generate with it.
//
// mountWidget(root, data) builds three panels inside root from window.LLMBOOK_TINYLM
// (the build's checkpoint, corpus slice and PyTorch parity logits):
//   Train     start/pause/reset, size preset, init, engine, learning rate, batch, steps;
//             loss curves (train, held-out), throughput, weight heatmaps
//   Generate  prompt, temperature, top-k, greedy/sampled, token-by-token with the KV
//             cache filling, per-head attention rows, top candidates, head ablation
//   Weights   download (contract JSON), upload (checked), restore after a NaN loss
// User text reaches the page through textContent only. Training runs on the main
// thread between animation frames (the CPU engine blocks for one step at a time).
// Not handled: more than one widget per page; resuming training after a reload.

import { encode, tokenText, vocabBytes } from "./bpe.js";
import { Decoder, nextTokenProbs, softmax } from "./decode.js";
import { activeKernel } from "./linalg.js";
import { createModel, randomWeights, TrainingDiverged, WeightsError } from "./model.js";
import { mulberry32, randomWindows, sampleIndex } from "./rng.js";

export const PRESETS = {
  book: { label: "Book size: d 64, 4 heads, 2 layers", config: { vocab_size: 768, context_len: 64, d_model: 64, n_heads: 4, n_layers: 2, d_ff: 256 } },
  large: { label: "Larger: d 128, 8 heads, 4 layers (for a real GPU)", config: { vocab_size: 768, context_len: 64, d_model: 128, n_heads: 8, n_layers: 4, d_ff: 512 } },
};
const SCALE = 0.5;                 // heatmap colours: −0.5 (blue) … 0 (white) … +0.5 (red), fixed
const EVAL_EVERY = 25, EVAL_BATCH = 8, PARITY_BOUND = 1e-4, MAX_UPLOAD = 200e6;

// --- small DOM helpers (text through textContent only) ------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children);
  return node;
}

let fields = 0;
function field(label, control, hint) {
  const id = control.id || `tlm-field-${++fields}`;
  control.id = id;
  return el("div", { class: "tlm-field" }, el("label", { for: id, text: label }), control, ...(hint ? [el("small", { text: hint })] : []));
}

function select(options, value) {
  const s = el("select");
  for (const [v, label] of options) s.append(el("option", { value: v, text: label }));
  s.value = value;
  return s;
}

export function fromBase64(b64, Type) {
  const bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Type(bytes.buffer);
}

/** The build's checkpoint object (base64 tensors) -> the contract object with Float32Array data. */
export function checkpointWeights(ck) {
  const tensors = {};
  for (const [name, t] of Object.entries(ck.tensors)) tensors[name] = { shape: t.shape, data: fromBase64(t.base64, Float32Array) };
  return { format: ck.format, config: ck.config, tensors, merges: ck.merges };
}

const fmt = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const pretty = (id, table) => tokenText(id, table).replace(/ /g, "\u2423").replace(/\n/g, "\u21b5");

// --- the widget ------------------------------------------------------------------------
export function mountWidget(root, data) {
  const w = new Widget(root, data);
  w.ready = w.start().catch((err) => w.say(`The widget could not start: ${err.message}`));
  return w;
}

class Widget {
  constructor(root, data) {
    this.root = root;
    this.data = data;
    this.merges = data.checkpoint.merges;
    this.ticket = 0;      // bumped by each load or upload; a stale one changes nothing when it finishes
    this.table = vocabBytes(this.merges);
    this.train = fromBase64(data.corpus.train, Uint16Array);
    this.val = fromBase64(data.corpus.val, Uint16Array);
    this.model = null;
    this.running = false;
    this.history = { steps: [], loss: [], evalSteps: [], evalLoss: [] };
    this.build();
  }

  // --- layout ---------------------------------------------------------------------------
  build() {
    const c = (this.controls = {});
    c.start = el("button", { type: "button", class: "tlm-primary", text: "Start training", onclick: () => this.toggle() });
    c.reset = el("button", { type: "button", text: "Reset weights", onclick: () => this.reset() });
    c.preset = select(Object.entries(PRESETS).map(([k, p]) => [k, p.label]), "book");
    c.init = select([["checkpoint", "the book's trained checkpoint"], ["random", "random weights (seed 0)"]], "checkpoint");
    c.engine = select([["webgpu", "WebGPU (your GPU)"], ["cpu", "CPU (JavaScript)"]], "webgpu");
    c.lr = el("input", { type: "number", min: "0.00001", max: "1000000", step: "any", value: "0.003" });
    c.batch = select([["4", "4"], ["8", "8"], ["16", "16"], ["32", "32"]], "8");
    c.steps = el("input", { type: "number", min: "1", max: "100000", step: "1", value: "200" });
    c.preset.addEventListener("change", () => { if (c.preset.value !== "book") c.init.value = "random"; this.reset(); });
    c.init.addEventListener("change", () => this.reset());
    c.engine.addEventListener("change", () => this.switchEngine());
    this.stats = el("dl", { class: "tlm-stats" });
    this.lossCanvas = el("canvas", { class: "tlm-loss", width: 640, height: 220, role: "img", "aria-label": "Loss curve: no training yet" });
    c.layer = select([["0", "layer 0"]], "0");
    c.layer.addEventListener("change", () => this.drawHeatmaps());
    this.heatmaps = el("div", { class: "tlm-heatmaps" });
    const train = el("fieldset", { class: "tlm-panel" }, el("legend", { text: "Train" }),
      el("div", { class: "tlm-row" }, c.start, c.reset),
      el("div", { class: "tlm-grid" }, field("Model size", c.preset), field("Start from", c.init), field("Engine", c.engine),
        field("Learning rate", c.lr), field("Batch (windows of 64 tokens)", c.batch), field("Steps to run", c.steps)),
      this.stats, this.lossCanvas,
      el("div", { class: "tlm-row" }, field("Weights of", c.layer), el("span", { class: "tlm-legend", "aria-hidden": "true" }),
        el("small", { text: `colour: −${SCALE} blue · 0 white · +${SCALE} red (fixed)` })),
      this.heatmaps);
    this.root.replaceChildren(this.buildStatus(), train, this.buildGenerate(), this.buildWeights());
  }

  buildStatus() {
    this.engineBadge = el("span", { class: "tlm-badge" });
    this.parityBadge = el("span", { class: "tlm-badge", text: "PyTorch parity: checking…" });
    this.sourceBadge = el("span", { class: "tlm-badge" });
    this.message = el("p", { class: "tlm-message", role: "alert" });
    return el("div", { class: "tlm-status" }, el("div", { class: "tlm-row" }, this.engineBadge, this.parityBadge, this.sourceBadge), this.message);
  }

  buildGenerate() {
    const c = this.controls;
    c.prompt = el("textarea", { rows: 2, maxlength: "20000", spellcheck: "false" });
    c.prompt.value = "ROMEO:\n";
    c.mode = select([["greedy", "greedy (most likely)"], ["sample", "sampled"]], "sample");
    c.temperature = el("input", { id: "tlm-temp", type: "range", min: "0.1", max: "2", step: "0.05", value: "0.8" });
    c.tempOut = el("output", { text: "0.80" });
    c.temperature.addEventListener("input", () => { c.tempOut.textContent = Number(c.temperature.value).toFixed(2); this.showCandidates(); });
    c.topk = el("input", { type: "number", min: "0", max: "768", step: "1", value: "40" });
    c.seed = el("input", { type: "number", min: "0", step: "1", value: "1" });
    c.next = el("button", { type: "button", class: "tlm-primary", text: "Next token", onclick: () => this.generate(1) });
    c.gen = el("button", { type: "button", text: "Generate 40 tokens", onclick: () => this.generate(40) });
    c.clear = el("button", { type: "button", text: "Restart from the prompt", onclick: () => this.prefill() });
    for (const k of ["prompt", "mode", "topk", "seed"]) c[k].addEventListener("change", () => this.prefill());
    this.tokens = el("div", { class: "tlm-tokens", "aria-live": "polite" });
    this.cacheMeter = el("div", { class: "tlm-cache" });
    this.attention = el("div", { class: "tlm-attention" });
    this.candidates = el("div", { class: "tlm-candidates" });
    this.ablation = el("div", { class: "tlm-ablation" });
    return el("fieldset", { class: "tlm-panel" }, el("legend", { text: "Generate" }),
      field("Prompt", c.prompt, "the book's BPE; at most the last 64 tokens are seen"),
      el("div", { class: "tlm-grid" }, field("Choice", c.mode), el("div", { class: "tlm-field" }, el("label", { for: "tlm-temp", text: "Temperature " }, c.tempOut), c.temperature),
        field("Top-k (0 = all)", c.topk), field("Sampling seed", c.seed)),
      el("div", { class: "tlm-row" }, c.next, c.gen, c.clear),
      this.tokens, this.cacheMeter,
      el("div", { class: "tlm-columns" },
        el("div", {}, el("h4", { text: "Next-token candidates" }), this.candidates),
        el("div", {}, el("h4", { text: "Attention of the newest token over the cache" }), this.attention)),
      el("h4", { text: "Switch heads off" }), this.ablation);
  }

  buildWeights() {
    const c = this.controls;
    c.download = el("button", { type: "button", text: "Download weights (.json)", onclick: () => this.download() });
    c.upload = el("input", { type: "file", accept: ".json,application/json" });
    c.upload.addEventListener("change", () => this.upload(c.upload.files[0]));
    c.restore = el("button", { type: "button", text: "Restore the last good weights", hidden: true, onclick: () => this.restore() });
    return el("fieldset", { class: "tlm-panel" }, el("legend", { text: "Weights" }),
      el("div", { class: "tlm-row" }, c.download, field("Load a weights file", c.upload, "format llmbook-tiny/1, as downloaded here or saved by llmbook.tiny"), c.restore));
  }

  // --- models -----------------------------------------------------------------------------
  async start() {
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden" && this.running) this.pause("Paused: the tab was hidden. Press Start to go on.");
    });
    await this.load(checkpointWeights(this.data.checkpoint), "the book's checkpoint (trained in PyTorch at build time)");
    await this.checkParity();
  }

  /** Replace the model; the old one stays when the new weights are refused (throws).
   *  Returns false, changing nothing, when a later load or upload started while this
   *  one was building its engine: the later one wins. An upload passes its own ticket. */
  async load(weights, source, ticket = ++this.ticket) {
    const wanted = this.controls.engine.value;
    const model = await createModel(weights, { backend: wanted });
    if (ticket !== this.ticket) { model.destroy(); return false; }
    if (this.model) this.model.destroy();
    this.model = model;
    this.source = source;
    this.history = { steps: [], loss: [], evalSteps: [], evalLoss: [] };
    this.rand = mulberry32(0);
    this.controls.restore.hidden = true;
    if (model.fallbackReason) this.say(`WebGPU is not available here (${model.fallbackReason}); the CPU engine runs instead.`);
    this.controls.engine.value = model.backend;
    this.controls.layer.replaceChildren(...Array.from({ length: model.config.n_layers }, (_, i) => el("option", { value: String(i), text: `layer ${i}` })));
    this.buildAblation();
    this.refresh();
    this.drawHeatmaps();
    this.prefill();
    return true;
  }

  async checkParity() {
    const p = this.data.parity, ref = fromBase64(p.logits, Float32Array);
    const model = await createModel(checkpointWeights(this.data.checkpoint), { backend: this.model.backend });
    const got = await model.forward(Int32Array.from(p.ids));
    model.destroy();
    let max = 0;
    for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(got[i] - ref[i]));
    this.parity = { max, ok: max <= PARITY_BOUND, backend: model.backend };
    this.parityBadge.textContent = `PyTorch parity (${model.backend}): max |Δ| ${max.toExponential(1)} over ${p.ids.length}×${this.model.config.vocab_size} logits ${this.parity.ok ? "✓" : "✗"}`;
    this.parityBadge.className = `tlm-badge ${this.parity.ok ? "tlm-ok" : "tlm-bad"}`;
    this.parityBadge.title = `The prompt ${JSON.stringify(p.prompt)} through the book's checkpoint, here and in PyTorch ${p.computed_by.torch} at build time (bound ${PARITY_BOUND}).`;
  }

  async reset() {
    this.pause();
    const preset = PRESETS[this.controls.preset.value];
    if (this.controls.preset.value === "book" && this.controls.init.value === "checkpoint") {
      await this.load(checkpointWeights(this.data.checkpoint), "the book's checkpoint (trained in PyTorch at build time)");
    } else {
      this.controls.init.value = "random";
      await this.load(randomWeights(preset.config, 0, this.merges), `random weights (seed 0), ${preset.label.split(":")[0].toLowerCase()}`);
    }
    this.say("");
  }

  async switchEngine() {
    this.pause();
    const snapshot = this.model.snapshot(), history = this.history, steps = this.model.steps;
    await this.load(snapshot, this.source);
    this.history = history;
    this.model.steps = steps;
    await this.checkParity();
    this.refresh();
  }

  // --- training -----------------------------------------------------------------------------
  toggle() { if (this.running) this.pause(); else this.run(); }

  pause(message) {
    this.running = false;
    this.controls.start.textContent = "Start training";
    if (message) this.say(message);
  }

  async run() {
    const lr = Number(this.controls.lr.value), B = Number(this.controls.batch.value), steps = Math.floor(Number(this.controls.steps.value));
    if (!(lr > 0 && lr <= 1e6)) return this.say("The learning rate must be a number above 0 and at most 1,000,000.");
    if (!(steps >= 1 && steps <= 100000)) return this.say("Steps must be a whole number from 1 to 100,000.");
    this.running = true;
    this.say("");
    this.controls.start.textContent = "Pause";
    const T = this.model.config.context_len, until = this.model.steps + steps;
    let drawn = 0, shown = 0;
    this.speed = [];
    while (this.running && this.model.steps < until) {
      const batch = randomWindows(this.train, B, T, this.rand), t0 = performance.now();
      try {
        const loss = await this.model.trainStep(batch.inputs, batch.targets, { lr });
        this.history.steps.push(this.model.steps);
        this.history.loss.push(loss);
        if (loss > 4 * Math.log(this.model.config.vocab_size)) {
          this.say(`The loss (${fmt(loss, 1)}) is far above a uniform guess (ln ${this.model.config.vocab_size} = ${fmt(Math.log(this.model.config.vocab_size), 2)}): the learning rate is probably too high.`);
        }
      } catch (err) {
        if (!(await this.trainingFailed(err))) return;
        continue;
      }
      this.speed.push([performance.now() - t0, B * T]);
      if (this.model.steps % EVAL_EVERY === 0) await this.evaluate();
      const now = performance.now();
      if (now - shown > 250) { this.refresh(); shown = now; }
      if (now - drawn > 1000) { this.drawHeatmaps(); drawn = now; }
      await new Promise((r) => setTimeout(r, 0));                 // let the page handle input
    }
    await this.evaluate();
    this.pause();
    this.refresh();
    this.drawHeatmaps();
    this.prefill();
  }

  /** Returns true to go on training (after a fallback), false to stop. */
  async trainingFailed(err) {
    if (err instanceof TrainingDiverged) {
      this.pause(`Stopped: ${err.message}. The weights are those of the last finite step's start; use “Restore the last good weights” or lower the learning rate.`);
      this.controls.restore.hidden = !this.model.lastGood;
      this.refresh();
      return false;
    }
    if (this.model.backend === "webgpu") {
      const step = this.model.steps;
      this.model.switchToCPU(`WebGPU failed during training: ${err.message}`);
      this.controls.engine.value = "cpu";
      this.say(`WebGPU failed during training (${err.message}). Training goes on with the CPU engine from the weights of step ${step}; the optimizer state restarts.`);
      return true;
    }
    this.pause(`Training stopped: ${err.message}`);
    return false;
  }

  async evaluate() {
    const T = this.model.config.context_len, rand = mulberry32(12345);      // the same held-out windows each time
    const b = randomWindows(this.val, EVAL_BATCH, T, rand);
    const loss = await this.model.loss(b.inputs, b.targets);
    if (this.history.evalSteps.at(-1) === this.model.steps) return;
    this.history.evalSteps.push(this.model.steps);
    this.history.evalLoss.push(loss);
  }

  async restore() {
    try {
      await this.model.restoreLastGood();
      this.say("Restored the weights of the last step with a finite loss; the optimizer state restarts. Lower the learning rate before training on.");
      this.controls.restore.hidden = true;
      this.drawHeatmaps();
      this.prefill();
    } catch (err) { this.say(err.message); }
  }

  // --- display ------------------------------------------------------------------------------
  /** Show a message; kind "prompt" marks one that a valid prompt clears. */
  say(text, kind = "") {
    this.message.textContent = text;
    this.messageKind = kind;
  }

  refresh() {
    const m = this.model, h = this.history, recent = (this.speed || []).slice(-20);
    const sec = recent.reduce((a, [t]) => a + t, 0) / 1000, tok = recent.reduce((a, [, n]) => a + n, 0);
    this.engineBadge.textContent = m.backend === "webgpu" ? `Engine: WebGPU (${m.engine.adapterName})`
      : `Engine: CPU, one thread (JavaScript${activeKernel() === "wasm" ? " + WebAssembly SIMD" : ""})`;
    this.sourceBadge.textContent = `Weights: ${this.source}${m.steps ? `, then ${m.steps} steps here` : ""} · ${m.parameterCount.toLocaleString("en")} parameters`;
    const rows = [["step", String(m.steps)], ["train loss", h.loss.length ? fmt(h.loss.at(-1)) : "–"],
      ["held-out loss", h.evalLoss.length ? fmt(h.evalLoss.at(-1)) : "–"],
      ["tokens/s", sec ? Math.round(tok / sec).toLocaleString("en") : "–"], ["steps/s", sec ? fmt(recent.length / sec, 2) : "–"]];
    this.stats.replaceChildren(...rows.map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", { text: v }))));
    drawLoss(this.lossCanvas, h, Math.log(m.config.vocab_size));
  }

  drawHeatmaps() {
    if (!this.model) return;
    const t = this.model.tensors(), i = Number(this.controls.layer.value), p = `layers.${i}.`, c = this.model.config;
    const maps = [["tok_emb", t.tok_emb, c.vocab_size, c.d_model, true], ["pos_emb", t.pos_emb, c.context_len, c.d_model, false],
      [p + "attn.w_qkv", t[p + "attn.w_qkv"], c.d_model, 3 * c.d_model, false], [p + "attn.w_out", t[p + "attn.w_out"], c.d_model, c.d_model, false],
      [p + "ffn.w1", t[p + "ffn.w1"], c.d_model, c.d_ff, false], [p + "ffn.w2", t[p + "ffn.w2"], c.d_ff, c.d_model, true]];
    if (!this.heatmaps.children.length || this.heatmaps.dataset.layout !== JSON.stringify(c) + i) {
      this.heatmaps.dataset.layout = JSON.stringify(c) + i;
      this.heatmaps.replaceChildren(...maps.map(([name, , R, C, tr]) => el("figure", {},
        el("canvas", { width: tr ? R : C, height: tr ? C : R, role: "img", "aria-label": `${name}, ${R}×${C}` }),
        el("figcaption", { text: `${name} [${R}×${C}]${tr ? " (transposed)" : ""}` }))));
    }
    maps.forEach(([, values, R, C, tr], k) => drawHeatmap(this.heatmaps.children[k].querySelector("canvas"), values, R, C, tr));
  }

  // --- generation -----------------------------------------------------------------------
  buildAblation() {
    const c = this.model.config;
    this.off = new Set();
    const boxes = [];
    for (let l = 0; l < c.n_layers; l++) {
      for (let h = 0; h < c.n_heads; h++) {
        const box = el("input", { type: "checkbox", checked: true });
        box.addEventListener("change", () => { if (box.checked) this.off.delete(`${l}.${h}`); else this.off.add(`${l}.${h}`); this.replay(); });
        boxes.push(el("label", { class: "tlm-head" }, box, ` L${l} H${h}`));
      }
    }
    this.ablation.replaceChildren(...boxes);
  }

  /** Encode the prompt and run it through a fresh KV cache. */
  prefill() {
    const text = this.controls.prompt.value;
    this.sampler = mulberry32(Math.floor(Number(this.controls.seed.value)) || 0);
    this.notes = [];
    if (!text) {
      this.seq = [];
      this.generated = 0;
      this.say("Type a prompt first: the model needs at least one token to continue.", "prompt");
      this.renderGeneration(null);
      return;
    }
    let ids = Array.from(encode(text, this.merges));
    const C = this.model.config.context_len;
    if (ids.length > C) {
      this.notes.push(`The prompt is ${ids.length.toLocaleString("en")} tokens; the model sees only its last ${C}.`);
      ids = ids.slice(-C);
    }
    this.seq = ids;
    this.generated = 0;
    this.replay();
  }

  /** Feed the whole current sequence (after a head switch or a new prompt). */
  replay() {
    if (!this.seq || !this.seq.length) return;
    this.decoder = new Decoder(this.model.config, Float32Array.from(this.model.params));
    let out = null;
    for (const id of this.seq) out = this.decoder.step(id, this.off);
    this.last = out;
    this.baseline = this.off.size ? this.withAllHeads() : null;
    this.renderGeneration(out);
  }

  withAllHeads() {
    const d = new Decoder(this.model.config, Float32Array.from(this.model.params));
    let out = null;
    for (const id of this.seq) out = d.step(id);
    return softmax(out.logits);
  }

  generate(n) {
    if (!this.seq || !this.seq.length) { this.prefill(); if (!this.seq.length) return; }
    const C = this.model.config.context_len;
    for (let k = 0; k < n; k++) {
      const probs = this.choiceProbs(this.last.logits), id = sampleIndex(probs, this.sampler);
      this.seq.push(id);
      this.generated++;
      if (this.decoder.length >= C) {                     // the cache is full: slide the window
        this.seq = this.seq.slice(-C);
        this.notes = [`The sequence passed ${C} tokens: the cache was refilled with the last ${C}.`];
        this.replay();
      } else {
        this.last = this.decoder.step(id, this.off);
        this.baseline = this.off.size ? this.withAllHeads() : null;
      }
    }
    this.renderGeneration(this.last);
  }

  choiceProbs(logits) {
    const greedy = this.controls.mode.value === "greedy";
    return nextTokenProbs(logits, { temperature: greedy ? 0 : Number(this.controls.temperature.value), topK: Math.floor(Number(this.controls.topk.value)) || 0 });
  }

  renderGeneration(out) {
    const chips = (this.seq || []).map((id, k) => el("span", {
      class: `tok tok-${k % 6}${k >= this.seq.length - this.generated ? " tlm-gen" : ""}`, title: `id ${id}`, text: pretty(id, this.table) }));
    this.tokens.replaceChildren(...chips);
    const C = this.model.config.context_len, used = this.decoder && out ? this.decoder.length : 0;
    const bar = el("span", { class: "tlm-cache-fill" });
    bar.style.width = `${(100 * used) / C}%`;
    this.cacheMeter.replaceChildren(el("span", { class: "tlm-cache-bar", role: "img", "aria-label": `KV cache ${used} of ${C} positions` }, bar),
      el("span", { text: ` KV cache: ${used} / ${C} positions, ${(this.decoder && out ? this.decoder.cacheBytes : 0).toLocaleString("en")} bytes` }),
      ...this.notes.map((t) => el("small", { class: "tlm-note", text: t })));
    if (out && this.messageKind === "prompt") this.say("");
    this.showCandidates();
    this.showAttention(out);
  }

  showCandidates() {
    if (!this.last || !this.seq || !this.seq.length) { this.candidates.replaceChildren(); return; }
    const probs = this.choiceProbs(this.last.logits), model = softmax(this.last.logits);
    const top = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || model[b] - model[a]).slice(0, 10);
    this.candidates.replaceChildren(...top.map((id) => {
      const bar = el("span", { class: "tlm-bar" });
      bar.style.width = `${(100 * probs[id]).toFixed(1)}%`;
      const rows = [el("span", { class: "tlm-cand-tok", text: pretty(id, this.table) }), el("span", { class: "tlm-bar-track" }, bar),
        el("span", { class: "tlm-pct", text: `${(100 * probs[id]).toFixed(1)}%` })];
      // like with like: the model's softmax with these heads off and with all heads (the bar is
      // the chance of being picked, which greedy decoding makes 100% or 0%)
      if (this.baseline) {
        rows.push(el("small", { class: "tlm-was", text: `model ${(100 * model[id]).toFixed(1)}%, all heads: ${(100 * this.baseline[id]).toFixed(1)}%` }));
      }
      return el("div", { class: "tlm-cand" }, ...rows);
    }));
  }

  showAttention(out) {
    if (!out) { this.attention.replaceChildren(); return; }
    const rows = [];
    out.attention.forEach((heads, l) => heads.forEach((row, h) => {
      const cells = Array.from(row, (a, j) => {
        const cell = el("span", { class: "tlm-att", title: `${pretty(this.seq[this.seq.length - row.length + j], this.table)}: ${(100 * a).toFixed(1)}%` });
        cell.style.setProperty("--a", a.toFixed(3));
        return cell;
      });
      let best = 0;
      row.forEach((a, j) => { if (a > row[best]) best = j; });
      const label = `L${l} H${h}${this.off.has(`${l}.${h}`) ? " (off)" : ""}`;
      rows.push(el("div", { class: "tlm-att-row", role: "img",
        "aria-label": `${label}: most attention (${(100 * row[best]).toFixed(0)}%) on ${pretty(this.seq[this.seq.length - row.length + best], this.table)}` },
      el("span", { class: "tlm-att-label", text: label }), ...cells));
    }));
    this.attention.replaceChildren(...rows);
  }

  // --- weights in and out -----------------------------------------------------------------
  download() {
    const blob = new Blob([JSON.stringify(this.model)], { type: "application/json" });
    const a = el("a", { href: URL.createObjectURL(blob), download: `tinylm-step${this.model.steps}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  /** Only the latest upload or load speaks: files read and checked out of order (a large
   *  one picked first, a small one second) never overwrite the newer file's message. */
  async upload(file) {
    if (!file) return;
    this.pause();
    const ticket = ++this.ticket, current = () => ticket === this.ticket;
    if (file.size > MAX_UPLOAD) return this.say(`${file.name} is ${(file.size / 1e6).toFixed(0)} MB; the limit is ${MAX_UPLOAD / 1e6} MB. The current weights are unchanged.`);
    try {
      const text = await file.text();
      if (!current()) return;
      const weights = JSON.parse(text);
      if (weights && weights.config && !weights.merges && weights.config.vocab_size !== 256 + this.merges.length) {
        throw new WeightsError(`vocab_size ${weights.config.vocab_size} does not match the book's BPE (${256 + this.merges.length} tokens) and the file has no merges`);
      }
      if (!(await this.load(weights, `uploaded file ${file.name}`, ticket))) return;
      if (this.model.merges) { this.merges = this.model.merges; this.table = vocabBytes(this.merges); }
      this.say(`Loaded ${file.name}: ${this.model.parameterCount.toLocaleString("en")} parameters.`);
    } catch (err) {
      if (!current()) return;
      const why = err instanceof SyntaxError ? `not JSON (${err.message})` : err.message;
      this.say(`Could not load ${file.name}: ${why}. The current weights are unchanged.`);
    } finally {
      this.controls.upload.value = "";
    }
  }
}

// --- canvases ------------------------------------------------------------------------------
function diverging(v) {
  const t = Math.max(-1, Math.min(1, v / SCALE));
  const [r, g, b] = t < 0 ? [33, 102, 172] : [178, 24, 43];
  const k = Math.abs(t);
  return [255 + (r - 255) * k, 255 + (g - 255) * k, 255 + (b - 255) * k];
}

function drawHeatmap(canvas, values, R, C, transposed) {
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(canvas.width, canvas.height);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      const [x, y] = transposed ? [r, c] : [c, r], o = (y * canvas.width + x) * 4, rgb = diverging(values[r * C + c]);
      img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2]; img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

function drawLoss(canvas, h, uniform) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 36;
  const color = getComputedStyle(canvas).color || "#333";
  ctx.clearRect(0, 0, W, H);
  const maxStep = Math.max(10, h.steps.at(-1) || 0, h.evalSteps.at(-1) || 0);
  const all = [...h.loss, ...h.evalLoss].filter(Number.isFinite);
  const lo = Math.min(0, ...all), hi = Math.max(uniform + 0.3, ...all.slice(-200));
  const x = (s) => pad + ((W - pad - 8) * s) / maxStep, y = (v) => H - pad + ((pad - H + 8) * (v - lo)) / (hi - lo);
  ctx.strokeStyle = color; ctx.fillStyle = color; ctx.font = "12px sans-serif"; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(pad, 8); ctx.lineTo(pad, H - pad); ctx.lineTo(W - 8, H - pad); ctx.stroke();
  for (const v of [lo, (lo + hi) / 2, hi]) ctx.fillText(v.toFixed(1), 2, y(v) + 4);
  ctx.fillText(`step ${maxStep}`, W - 70, H - pad + 16);
  ctx.setLineDash([4, 4]); ctx.beginPath(); ctx.moveTo(pad, y(uniform)); ctx.lineTo(W - 8, y(uniform)); ctx.stroke(); ctx.setLineDash([]);
  ctx.fillText("uniform guess ln V", pad + 4, y(uniform) - 4);
  line(ctx, h.steps, h.loss, x, y, "#1b9e77");
  line(ctx, h.evalSteps, h.evalLoss, x, y, "#d95f02", true);
  ctx.fillStyle = "#1b9e77"; ctx.fillText("— train (each step)", pad + 80, H - 6);
  ctx.fillStyle = "#d95f02"; ctx.fillText("● held-out (8 fixed windows)", pad + 230, H - 6);
  const last = h.evalLoss.length ? `, held-out ${fmt(h.evalLoss.at(-1))} at step ${h.evalSteps.at(-1)}` : "";
  canvas.setAttribute("aria-label", h.loss.length ? `Loss curve: train loss ${fmt(h.loss.at(-1))} at step ${h.steps.at(-1)}${last}` : "Loss curve: no training yet");
}

function line(ctx, xs, ys, x, y, colour, dots = false) {
  ctx.strokeStyle = colour; ctx.fillStyle = colour; ctx.lineWidth = 1.5;
  ctx.beginPath();
  xs.forEach((s, i) => { if (Number.isFinite(ys[i])) { if (i) ctx.lineTo(x(s), y(ys[i])); else ctx.moveTo(x(s), y(ys[i])); } });
  ctx.stroke();
  if (dots) xs.forEach((s, i) => { ctx.beginPath(); ctx.arc(x(s), y(ys[i]), 3, 0, 7); ctx.fill(); });
}

