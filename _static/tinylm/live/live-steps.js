// The live page's nine steps, drawn from one real pass (gpt2.js forward output).
// Same step names and colours as Part I's walk-through (llmbook.part1.walkthrough).
// Every number shown is read from the pass or computed from it here; user text reaches
// the page through textContent only. Not handled: high-DPI canvases.

import { el } from "../common/dom.js";
import { rowNorm, topK } from "./live-math.js";

export const STEPS = ["Input", "Tokenize", "Embed", "Layers", "Logits", "Softmax", "Sample", "Loop", "Done"];
export const COLOURS = { layers: "#4c72b0", logits: "#8c8c8c", softmax: "#55a868", pick: "#d95f02", candidate: "#9ecae1",
  cache: "#8172b2", attention: "#c44e52" };

/** A probability as the book prints it: 0.31, or 3.1e-4 when small (never "0.00"). */
export function prob(p) {
  if (!Number.isFinite(p)) return String(p);
  return p >= 0.01 ? p.toFixed(2) : p.toExponential(1);
}

export const num = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const visible = (s) => s.replace(/ /g, "\u2423").replace(/\n/g, "\u21b5");

export function stepSection(i, summary) {
  const s = el("section", { class: "tlm-panel llmbook-live-step", "data-step": STEPS[i], "aria-label": `Step ${i + 1}: ${STEPS[i]}` });
  s.append(el("h3", { text: `${i + 1} · ${STEPS[i]}` }), el("p", { text: summary }));
  return s;
}

export function bar(value, max, colour, label) {
  const track = el("span", { class: "tlm-bar-track", role: "img", "aria-label": label });
  track.append(el("span", { class: "tlm-bar", style: `width: ${Math.max(0, Math.min(100, (100 * value) / max))}%; background: ${colour}` }));
  return track;
}

/** A table of head and rows (a row's cells: text, or a Node), in a box that scrolls sideways and says so
 *  when it is wider than the screen. */
export function table(head, rows, caption) {
  const t = el("table", { class: "table llmbook-live-table" }), tr = el("tr");
  if (caption) t.append(el("caption", { text: caption }));
  head.forEach((h) => tr.append(el("th", { scope: "col", text: h })));
  t.append(el("thead", {}, tr));
  const body = el("tbody");
  for (const r of rows) {
    const row = el("tr");
    r.forEach((c) => row.append(c instanceof Node ? el("td", {}, c) : el("td", { text: String(c) })));
    body.append(row);
  }
  t.append(body);
  return scrollBox(t);
}

/** t in a box that scrolls sideways, with a hint shown only while it is wider than the screen. */
export function scrollBox(t) {
  const hint = el("small", { class: "llmbook-live-scroll-hint", hidden: true, text: "Wider than the screen: scroll the table sideways →" });
  const box = el("div", { class: "llmbook-live-scroll" }, t), wrap = el("div", {}, hint, box);
  if (typeof ResizeObserver === "function") new ResizeObserver(() => { hint.hidden = box.scrollWidth <= box.clientWidth + 1; }).observe(box);
  return wrap;
}

export function renderInput(text, cut) {
  const s = stepSection(0, `${[...text].length} characters, ${new TextEncoder().encode(text).length} bytes of UTF-8.`);
  s.append(el("pre", { class: "llmbook-live-prompt", text }));
  if (cut) s.append(el("p", { class: "tlm-message", text: cut }));
  return s;
}

export function renderTokens(ids, piece) {
  const s = stepSection(1, `GPT-2's byte-level BPE turns the text into ${ids.length} token${ids.length === 1 ? "" : "s"} (the same ids as llmbook's tokenizer).`);
  const row = el("div", { class: "tlm-tokens" });
  ids.forEach((id, t) => row.append(el("span", { class: "tok", style: `background: hsl(${(t * 47) % 360} 70% 85%)`, title: `position ${t}, id ${id}`, text: `${visible(piece(id))} ${id}` })));
  s.append(row);
  return s;
}

export function renderEmbed(pass, ids, piece, d) {
  const { token, position } = pass.embeddings, T = ids.length, x0 = pass.residual[0];
  const s = stepSection(2, `Each token's row of wte [50,257 × ${d}] plus its position's row of wpe [1,024 × ${d}] is the residual stream's start.`);
  const rows = [];
  for (let t = Math.max(0, T - 12); t < T; t++) {
    rows.push([t, visible(piece(ids[t])), num(rowNorm(token, t, d), 2), num(rowNorm(position, t, d), 2), num(rowNorm(x0, t, d), 2),
      Array.from(x0.subarray(t * d, t * d + 4), (v) => num(v, 3)).join(", ") + ", …"]);
  }
  s.append(table(["pos", "token", "‖token‖", "‖position‖", "‖sum‖", "first values of the sum"], rows));
  if (T > 12) s.append(el("small", { text: `The last 12 of ${T} positions.` }));
  return s;
}

/** lens [L+1]: the logit lens's top tokens at the last position, {ids, probs} (live-worker.js). */
export function renderLayers(pass, lens, piece, config) {
  const { n_embd: d, n_layer: L } = config, T = pass.T;
  const s = stepSection(3, `${L} blocks each add attention and feed-forward output to the stream. The logit lens reads the last position after each block through ln_f and the head.`);
  const norms = pass.residual.map((r) => rowNorm(r, T - 1, d)), maxNorm = Math.max(...norms);
  const rows = pass.residual.map((r, l) => [l === 0 ? "embeddings" : `after block ${l - 1}`, num(norms[l], 1),
    bar(norms[l], maxNorm, COLOURS.layers, `norm ${num(norms[l], 1)}`),
    lens[l].ids.map((id, k) => `${visible(piece(id))} ${prob(lens[l].probs[k])}`).join(" · ")]);
  s.append(table(["stream", "‖x‖ (last position)", "", "logit lens: top 3 (probability)"], rows));
  return s;
}

/** The attention panel: one head of one layer, Q·Kᵀ → scale → mask → softmax → ·V (view: live-math.js attentionView). */
export function renderAttention(view, piece, ids, layer, head) {
  const { T, w0, n } = view, box = el("div", { class: "llmbook-live-attention" });
  const figs = el("div", { class: "tlm-heatmaps" });
  for (const [name, values, kind] of [["Q·Kᵀ", view.scores, "div"], [`÷ √${view.dh} = ${num(Math.sqrt(view.dh), 0)}`, view.scaled, "div"],
    ["causal mask", view.masked, "div"], ["softmax", view.probs, "seq"]]) {
    figs.append(heatFigure(name, values, n, kind));
  }
  box.append(figs);
  if (w0) box.append(el("small", { text: `Positions ${w0}–${T - 1} of ${T}: the last ${n}.` }));
  if (view.delta !== null) {
    box.append(el("p", { text: `These stages, recomputed here from layer ${layer}'s Q and K, equal the engine's own attention for head ${head}: max |Δ| ${view.delta.toExponential(1)}.` }));
  }
  const last = view.last, top = topK(last, Math.min(5, T));
  box.append(el("p", { text: `The last token (${visible(piece(ids[T - 1]))}) attends most to: ` +
    top.map((j) => `${visible(piece(ids[j]))} @${j} (${prob(last[j])})`).join(", ") +
    `. Its output ·V is ${view.dh} numbers: ${Array.from(view.out.subarray(0, 4), (v) => num(v, 3)).join(", ")}, …` }));
  return box;
}

/** values [n × n] as a canvas: kind "seq" 0…1 white to red, else diverging around 0 (−∞ grey). */
export function heatFigure(caption, values, n, kind) {
  const canvas = el("canvas", { width: n, height: n, role: "img", "aria-label": `${caption}: ${n} × ${n} heatmap` });
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(n, n);
  let scale = 0;
  for (const v of values) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < n * n; i++) {
    const v = values[i], o = 4 * i;
    let rgb;
    if (!Number.isFinite(v)) rgb = [120, 120, 120];                          // masked: −∞
    else if (kind === "seq") { const k = v; rgb = [255 - 59 * k, 255 - 177 * k, 255 - 188 * k]; }   // white -> #c44e52
    else { const t = v / (scale || 1), k = Math.abs(t); rgb = t < 0 ? [255 - 222 * k, 255 - 153 * k, 255 - 83 * k] : [255 - 77 * k, 255 - 231 * k, 255 - 212 * k]; }
    img.data.set([rgb[0], rgb[1], rgb[2], 255], o);
  }
  ctx.putImageData(img, 0, 0);
  const range = kind === "seq" ? "0 … 1" : `±${num(scale, 2)}`;
  return el("figure", {}, canvas, el("figcaption", { text: `${caption} (${range})` }));
}

/** sum: live-math.js logitsSummary of the last position's logits. */
export function renderLogits(sum, piece) {
  const V = sum.V, h = sum.hist;
  const s = stepSection(4, `All ${V.toLocaleString("en")} logits of the last position: ln_f output times wteᵀ (the head is the embedding, tied).`);
  const canvas = el("canvas", { width: 480, height: 140, class: "llmbook-live-hist", role: "img",
    "aria-label": `Histogram of ${V} logits from ${num(h.min, 2)} to ${num(h.max, 2)}` });
  const ctx = canvas.getContext("2d"), peak = Math.max(...h.counts), bw = canvas.width / h.counts.length;
  ctx.fillStyle = COLOURS.logits;
  h.counts.forEach((c, i) => { const y = (canvas.height - 16) * Math.sqrt(c / peak); ctx.fillRect(i * bw, canvas.height - 16 - y, bw - 1, y); });
  ctx.fillStyle = getComputedStyle(document.documentElement).getPropertyValue("--pst-color-text-base") || "#333";
  ctx.font = "11px sans-serif";
  ctx.fillText(num(h.min, 1), 0, canvas.height - 3);
  ctx.fillText(num(h.max, 1), canvas.width - 30, canvas.height - 3);
  s.append(el("figure", {}, canvas, el("figcaption", { text: `Counts per bin (square-root scale), logits ${num(h.min, 2)} … ${num(h.max, 2)}.` })));
  s.append(table(["rank", "token", "id", "logit"], sum.ids.map((id, r) => [r + 1, visible(piece(id)), id, num(sum.logits[r], 3)])));
  return s;
}

export function renderSoftmax(sum, piece) {
  const { ids, probs, rest } = sum;
  const s = stepSection(5, `softmax turns logits into probabilities: the top ${ids.length} hold ${prob(1 - rest)}, the other ${(sum.V - ids.length).toLocaleString("en")} tokens share ${prob(rest)}.`);
  const list = el("div", { class: "llmbook-live-bars" });
  for (const [k, id] of ids.entries()) {
    list.append(el("div", { class: "tlm-cand" }, el("span", { class: "tlm-cand-tok", text: visible(piece(id)) }),
      bar(probs[k], probs[0], COLOURS.softmax, `probability ${prob(probs[k])}`), el("span", { class: "tlm-pct", text: prob(probs[k]) })));
  }
  s.append(list);
  return s;
}

export function renderSample(choice, settings, piece) {
  const how = settings.mode === "greedy" ? "greedy: the most probable token" : `sampled with seed ${settings.seed}`;
  const s = stepSection(6, `The pick, ${how}: ${visible(piece(choice.id))} (id ${choice.id}), which the model gave probability ${prob(choice.prob)}.`);
  s.append(table(["filter", "candidates left"], choice.stages.map((st) => [st.name, st.kept.toLocaleString("en")])));
  return s;
}

export function renderLoop(config) {
  const per = 2 * config.n_layer * config.n_embd * 4;
  const s = stepSection(7, `Each new token runs one position through the blocks; its key and value join the KV cache: 2 × ${config.n_layer} layers × ${config.n_embd} × 4 bytes = ${per.toLocaleString("en")} bytes per token.`);
  const body = el("tbody");
  const t = el("table", { class: "table llmbook-live-table" },
    el("thead", {}, el("tr", {}, ...["step", "token", "probability", "cache tokens", "cache size", "ms"].map((h) => el("th", { scope: "col", text: h })))), body);
  const stream = el("div", { class: "tlm-tokens", "aria-live": "off" });
  s.append(stream, el("div", { class: "llmbook-live-scroll" }, t));
  return { section: s,
    token(text) { stream.append(el("span", { class: "tok tlm-gen", style: `background: hsl(${(stream.childElementCount * 47) % 360} 70% 85%)`, text })); },
    add(row) { const tr = el("tr"); row.forEach((c) => tr.append(el("td", { text: String(c) }))); body.append(tr); } };
}

export function renderDone(ids, promptLength, piece, stats) {
  const s = stepSection(8, stats);
  const row = el("div", { class: "tlm-tokens" });
  ids.forEach((id, t) => row.append(el("span", { class: t >= promptLength ? "tok tlm-gen" : "tok", style: `background: hsl(${(t * 47) % 360} 70% 85%)`, text: piece(id) })));
  s.append(row);
  return s;
}
