// The widget's Generate panel: the prompt through the KV cache, token by token, with each
// head's attention row over the cache, the top candidates and per-head switches.
// Its methods join the widget (Object.assign onto Widget.prototype in ui.js), so they
// share its model, controls and tokenizer table. Not handled: batches of prompts.

import { encode } from "../tokenizers/bpe.js";
import { Decoder, nextTokenProbs, softmax } from "../engines/decode.js";
import { el, field, fmt, pretty, select } from "../common/dom.js";
import { mulberry32, sampleIndex } from "../engines/rng.js";

export const generatePanel = {
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
  },


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
  },

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
  },

  /** Feed the whole current sequence (after a head switch or a new prompt). */
  replay() {
    if (!this.seq || !this.seq.length) return;
    this.decoder = new Decoder(this.model.config, Float32Array.from(this.model.params));
    let out = null;
    for (const id of this.seq) out = this.decoder.step(id, this.off);
    this.last = out;
    this.baseline = this.off.size ? this.withAllHeads() : null;
    this.renderGeneration(out);
  },

  withAllHeads() {
    const d = new Decoder(this.model.config, Float32Array.from(this.model.params));
    let out = null;
    for (const id of this.seq) out = d.step(id);
    return softmax(out.logits);
  },

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
  },

  choiceProbs(logits) {
    const greedy = this.controls.mode.value === "greedy";
    return nextTokenProbs(logits, { temperature: greedy ? 0 : Number(this.controls.temperature.value), topK: Math.floor(Number(this.controls.topk.value)) || 0 });
  },

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
  },

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
  },

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
  },
};
