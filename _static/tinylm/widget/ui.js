// The widget's page: train the tiny transformer, watch it, generate with it.
//
// mountWidget(root, data) builds three panels inside root from window.LLMBOOK_TINYLM
// (the build's checkpoint, corpus slice and PyTorch parity logits):
//   Train     start/pause/reset, size preset, init, engine, learning rate, batch, steps;
//             loss curves (train, held-out), throughput, weight heatmaps
//   Generate  (ui-generate.js) prompt, temperature, top-k, greedy/sampled, token-by-token with the KV
//             cache filling, per-head attention rows, top candidates, head ablation
//   Weights   download (contract JSON), upload (checked), restore after a NaN loss
// User text reaches the page through textContent only. Training runs on the main
// thread between animation frames (the CPU engine blocks for one step at a time).
// Not handled: more than one widget per page; resuming training after a reload.


import { vocabBytes } from "../tokenizers/bpe.js";
import { drawHeatmap, drawLoss, SCALE } from "./canvas.js";
import { checkpointWeights, el, field, fmt, fromBase64, select } from "../common/dom.js";
import { activeKernel } from "../engines/linalg.js";
import { createModel, randomWeights, TrainingDiverged, WeightsError } from "../engines/model.js";
import { mulberry32, randomWindows } from "../engines/rng.js";
import { generatePanel } from "./ui-generate.js";

export { checkpointWeights, fromBase64 } from "../common/dom.js";

export const PRESETS = {
  book: { label: "Book size: d 64, 4 heads, 2 layers", config: { vocab_size: 768, context_len: 64, d_model: 64, n_heads: 4, n_layers: 2, d_ff: 256 } },
  large: { label: "Larger: d 128, 8 heads, 4 layers (for a real GPU)", config: { vocab_size: 768, context_len: 64, d_model: 128, n_heads: 8, n_layers: 4, d_ff: 512 } },
};
const EVAL_EVERY = 25, EVAL_BATCH = 8, PARITY_BOUND = 1e-4, MAX_UPLOAD = 200e6;

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

Object.assign(Widget.prototype, generatePanel);
