// The live TinyLlama page's nine steps, drawn from one real pass (llama-worker.js prompt) with what
// is new in Llama: the chat template, no position embedding, RMSNorm, RoPE, grouped-query attention,
// SwiGLU, the untied head, the logit lens through every layer. The step names and colours are the
// distilgpt2 page's (live-steps.js, whose generic steps are reused). Every number is read from the
// pass or computed from it in llama-math.js; text reaches the page through textContent only.
// Not handled: high-DPI canvases, attention maps for prompts over 256 tokens (said so).

import { el } from "../common/dom.js";
import { bytes, rowNorm } from "./live-math.js";
import { bar, COLOURS, heatFigure, num, prob, renderLogits, scrollBox, stepSection, table } from "./live-steps.js";
import { gqaGroups, groupRows, headStages, kvBytes, ropeView, rmsView, swigluView } from "./llama-math.js";

export const visible = (s) => s.replace(/ /g, "\u2423").replace(/\n/g, "\u21b5");
const count = (n) => n.toLocaleString("en");

// Inline styles (the site's stylesheet knows only the distilgpt2 page): text colour inherited, so both themes read.
export const SPECIAL_STYLE = "border: 2px dashed #8172b2; background: transparent; color: inherit; font-weight: 600; padding: 0 0.25em; border-radius: 4px;";
export const TEXT_STYLE = "font-family: var(--pst-font-family-monospace, monospace); white-space: pre-wrap; overflow-wrap: anywhere;";
export const MESSAGE_STYLE = `${TEXT_STYLE} text-decoration: underline dotted #55a868; text-underline-offset: 3px;`;

function chip(text, title, { special = false, index = 0, cls = "" } = {}) {
  return el("span", { class: `tok${special ? " llmbook-llama-special" : ""}${cls ? " " + cls : ""}`, title,
    style: special ? SPECIAL_STYLE : `background: hsl(${(index * 47) % 360} 70% 85%); color: #222`, text });
}

/** The template as text: special tokens as outlined chips, the message underlined. */
export function templateNodes(segments) {
  return segments.map((seg) => (seg.kind === "special"
    ? el("span", { class: "tok llmbook-llama-special", style: SPECIAL_STYLE, title: `special token, id ${seg.ids[0]}`, text: seg.name })
    : el("span", { class: seg.message ? "llmbook-llama-text llmbook-llama-message" : "llmbook-llama-text",
      style: seg.message ? MESSAGE_STYLE : TEXT_STYLE, text: visible(seg.text) })));
}

/** Step 1: the question, and the text the chat template makes of it (special tokens named). */
export function renderInput(question, segments, cut) {
  const s = stepSection(0, `Your question: ${[...question].length} characters, ${new TextEncoder().encode(question).length} bytes of UTF-8. ` +
    "The chat template wraps it in the markers TinyLlama-Chat was tuned on; the two special tokens are not text.");
  s.append(el("pre", { class: "llmbook-live-prompt", text: question }));
  const shown = el("div", { class: "llmbook-llama-template", "aria-label": "The chat template applied" }, ...templateNodes(segments));
  s.append(shown, el("p", { text: "<s> (id 1) starts every sequence; </s> (id 2) ends the user's turn, and is the token that ends the " +
    "answer. <|user|> and <|assistant|> are ordinary text, split into ordinary tokens." }));
  if (cut) s.append(el("p", { class: "tlm-message", text: cut }));
  return s;
}

/** Step 2: the templated ids, segment by segment. */
export function renderTokens(segments, piece) {
  const n = segments.reduce((a, g) => a + g.ids.length, 0);
  const s = stepSection(1, `Llama's SentencePiece tokenizer, in the page, turns the template into ${count(n)} tokens (the ids ` +
    "sentencepiece gives; each text stretch between special tokens is encoded on its own, so each starts with ▁).");
  const row = el("div", { class: "tlm-tokens" });
  let t = 0;
  for (const seg of segments) {
    for (const id of seg.ids) {
      row.append(chip(`${seg.kind === "special" ? seg.name : visible(piece(id))} ${id}`, `position ${t}, id ${id}`,
        { special: seg.kind === "special", index: t }));
      t++;
    }
  }
  s.append(row);
  const lone = segments.flatMap((seg) => (seg.kind === "text" ? seg.ids : [])).find((id) => piece(id) === " ");
  s.append(el("p", { text: "␣ shows SentencePiece's space mark ▁. It puts one at the start of every text stretch it encodes, so a stretch " +
    "that starts with \"<\" gives ␣< and one that starts with a newline gives" + (lone === undefined ? " a ␣ token of its own." :
    ` the lone ␣ (id ${lone}), a token of its own.`) + " Colours follow the position; the dashed outline marks a special token." }));
  return s;
}

/** Step 3: rows of embed_tokens, and no position embedding. */
export function renderEmbed(pass, ids, piece, config) {
  const d = config.hidden_size, T = ids.length, x0 = pass.residual[0], r0 = pass.row0;
  const s = stepSection(2, `Each token's row of embed_tokens [${count(config.vocab_size)} × ${count(d)}] starts the residual stream. ` +
    "There is no position embedding: Llama adds nothing for the position here, and rotates queries and keys by it inside " +
    "every attention instead (RoPE, in step 4).");
  const rows = [];
  for (let t = r0; t < T; t++) {
    const i = t - r0;
    rows.push([t, visible(piece(ids[t])), ids[t], num(rowNorm(x0, i, d), 3), Array.from(x0.subarray(i * d, i * d + 4), (v) => num(v, 4)).join(", ") + ", …"]);
  }
  s.append(table(["pos", "token", "id", "‖row‖", "first values"], rows));
  if (r0) s.append(el("small", { text: `The last ${T - r0} of ${T} positions.` }));
  return s;
}

/** Step 4 (top): the residual stream's length and the logit lens after every block. */
export function renderLayers(pass, piece, config) {
  const d = config.hidden_size, L = config.num_hidden_layers, last = pass.T - 1 - pass.row0;
  const s = stepSection(3, `${L} blocks each add attention and SwiGLU output to the stream. The logit lens reads the last ` +
    "position after each block through the final RMSNorm and lm_head, as if the model stopped there.");
  const norms = pass.residual.map((r) => rowNorm(r, last, d)), maxNorm = Math.max(...norms);
  const rows = pass.residual.map((r, l) => [l === 0 ? "embeddings" : `after block ${l - 1}`, num(norms[l], 2),
    bar(norms[l], maxNorm, COLOURS.layers, `length ${num(norms[l], 2)}`),
    pass.lens[l].ids.map((id, k) => `${visible(piece(id))} ${prob(pass.lens[l].probs[k])}`).join(" · ")]);
  s.append(table(["stream", "‖x‖ (last position)", "‖x‖ as a bar", "logit lens: top 3 (probability)"], rows));
  s.append(el("p", { text: `The length grows from ${num(norms[0], 2)} to ${num(norms.at(-1), 2)}: every block adds its output to the residual ` +
    "stream and nothing takes it away. The RMSNorm in front of each attention, each SwiGLU and the head rescales what it reads, so the " +
    "growth does not blow up the next layer's input." }));
  return s;
}

/** RMSNorm of the last position entering block 0, and the final norm's output. */
export function renderRmsNorm(pass, config) {
  const d = config.hidden_size, last = pass.T - 1 - pass.row0, x = pass.residual.at(-1).slice(last * d, (last + 1) * d);
  const v = rmsView(x, config.rms_norm_eps), out = pass.norm;
  const box = el("div", { class: "llmbook-llama-detail", "data-detail": "rmsnorm" }, el("h4", { text: "RMSNorm" }));
  const gains = Array.from(out, (o, i) => o / v.normed[i]).filter(Number.isFinite);
  const lo = Math.min(...gains), hi = Math.max(...gains), ones = hi - lo < 5e-4 && Math.abs(hi - 1) < 5e-4;
  box.append(el("p", { text: `Before every attention, every SwiGLU and the head, the row is divided by its root-mean-square: ` +
    `no mean subtracted and no bias, unlike GPT-2's LayerNorm. The last position leaves the blocks with length ${num(v.length, 2)}; ` +
    `its RMS is √(mean(x²) + ε) = ${num(v.rms, 4)}, where ε = ${config.rms_norm_eps} only keeps an all-zero row from dividing by zero, ` +
    `so x / RMS has length √${count(d)} = ${num(v.normedLength, 2)}. ` +
    `The learned gain (${count(d)} numbers) then scales each coordinate: after it the length is ${num(Math.hypot(...out), 2)}. ` +
    (ones ? "The gains here are all 1.000 (stand-in weights set every gain to 1), so the last two rows are equal."
      : `The gains here run from ${num(lo, 3)} to ${num(hi, 3)}.`) }));
  box.append(table(["", ...[0, 1, 2, 3].map((i) => `x[${i}]`)], [
    ["x (leaving block " + (config.num_hidden_layers - 1) + ")", ...[0, 1, 2, 3].map((i) => num(x[i], 4))],
    ["x / RMS", ...[0, 1, 2, 3].map((i) => num(v.normed[i], 4))],
    ["· gain (the final norm's output)", ...[0, 1, 2, 3].map((i) => num(out[i], 4))]]));
  return box;
}

/** RoPE on one head of one layer: angles, the query–key dot products before and after, the shift check. */
export function renderRope(detail, config, piece, ids, head) {
  const T = ids.length, v = ropeView(detail.rope, config, head, 0, T), half = config.head_dim / 2;
  const box = el("div", { class: "llmbook-llama-detail", "data-detail": "rope" }, el("h4", { text: `RoPE: layer ${detail.layer}, query head ${head}` }));
  box.append(el("p", { text: `Each query and key is cut into ${half} pairs of numbers (dimension i with i + ${half}), and pair i is turned ` +
    `by the angle position × θᵢ, with θᵢ = ${config.rope_theta}^(−2i/${config.head_dim}): the first pairs spin fast, the last barely move. ` +
    `At the last position, ${v.t}:` }));
  const picks = [0, 1, 2, Math.floor(half / 4), Math.floor(half / 2), half - 1].filter((i, k, a) => a.indexOf(i) === k);
  box.append(table(["pair i", "θᵢ (radians per position)", `angle at position ${v.t}`, "turns"], picks.map((i) =>
    [i, detail.rope.invFreq[i].toExponential(3), num(v.angles[i], 3), num(v.angles[i] / (2 * Math.PI), 3)])));
  const lastRows = v.dots.slice(-Math.min(8, T)).reverse();
  box.append(el("p", { text: `Query head ${head} reads KV head ${v.kvHead}. Its query at position ${v.t} against the ${lastRows.length} nearest ` +
    "keys, its own first. RoPE turns q by t·θ and k by s·θ; turning both is the same as turning k alone by (t − s)·θ, and a rotation " +
    "keeps dot products, so only the distance t − s is left. With its own key (t − s = 0) the two turns cancel: before and after are " +
    "equal. Every other row changes." }));
  box.append(table(["key position s", "token", "t − s", "q·k before RoPE", "q·k after RoPE"], lastRows.map((r) =>
    [r.s, visible(piece(ids[r.s])), v.t - r.s, num(r.raw, 3), num(r.rotated, 3)])));
  const twin = repeated(lastRows.filter((r) => r.s !== v.t), ids);                 // two rows of the table, not the query's own
  if (twin) {
    const [a, b] = twin;
    box.append(el("p", { text: `The same token at two distances: ${visible(piece(ids[a.s]))} at ${a.s} and at ${b.s} gives q·k ` +
      `${num(a.raw, 3)} and ${num(b.raw, 3)} before RoPE (in layer 0 a key is made from its token alone), ` +
      `${num(a.rotated, 3)} and ${num(b.rotated, 3)} after: the only difference left is the distance.` }));
  }
  box.append(el("p", { text: `Rotations keep lengths (‖q‖ ${num(v.norms[0], 3)} before, ${num(v.norms[1], 3)} after) and only the distance matters: ` +
    `moving the query and every key ${v.shift.by} positions further changes these dot products by at most ${v.shift.delta.toExponential(1)} ` +
    `(relative; float32 rounding). This rotation, recomputed here, equals the engine's: max |Δ| ${v.check.toExponential(1)}.` }));
  return box;
}

/** Two of the rows (nearest first) holding the same token whose keys are equal before RoPE (layer 0), or null. */
function repeated(dots, ids) {
  for (let i = 0; i < dots.length; i++) {
    for (let j = i + 1; j < dots.length; j++) {
      const a = dots[i], b = dots[j];
      if (ids[a.s] === ids[b.s] && Math.abs(a.raw - b.raw) <= 1e-4 * Math.max(1, Math.abs(a.raw))) return [a, b];
    }
  }
  return null;
}

/** GQA: which query heads share each KV head, the bytes it saves, and one group's attention at the last position. */
export function renderGqa(detail, config, piece, ids, head) {
  const groups = gqaGroups(config), kv = kvBytes(config), T = ids.length;
  const H = config.num_attention_heads, KV = config.num_key_value_heads;
  const box = el("div", { class: "llmbook-llama-detail", "data-detail": "gqa" }, el("h4", { text: "Grouped-query attention" }));
  box.append(el("p", { text: `${H} query heads share ${KV} key/value heads: query head h reads KV head ⌊h / ${H / KV}⌋. A key/value head is the keys and values one head compares with; ` +
    `k_proj and v_proj, the matrices that make them, ` +
    `make ${KV} × ${config.head_dim} = ${KV * config.head_dim} numbers per token each, not ${H * config.head_dim}.` }));
  box.append(table(["KV head", "query heads reading it"], groups.map((g, i) => [i, `${g[0]}–${g.at(-1)}`])));
  box.append(el("p", { text: `The KV cache keeps, per token, 2 (K and V) × ${config.num_hidden_layers} layers × ${KV} KV heads × ${config.head_dim} ` +
    `× 4 bytes (float32) = ${count(kv.perToken)} bytes. With a KV head for each query head it would be ${count(kv.withoutGqa)}: ` +
    `GQA saves ${count(kv.saved)} bytes per token, ${num(kv.ratio, 0)}× less.` }));
  if (detail.attention) {
    const g = Math.floor(head / (H / KV)), rows = groupRows(detail.attention, groups[g], T);
    box.append(el("p", { text: `Same keys, different queries: the ${groups[g].length} heads of KV head ${g} in layer ${detail.layer}, at the last position, ` +
      "each put their weight on different tokens." }));
    const top3 = (r) => Array.from(r.keys()).sort((a, b) => r[b] - r[a]).slice(0, 3);
    const said = (r, j) => `${visible(piece(ids[j]))} @${j} (${prob(r[j])})`, j0 = top3(rows[0])[0];
    box.append(table(["query head", "its 3 most attended tokens: token @position (weight)"], groups[g].map((h, k) =>
      [h, el("div", {}, ...top3(rows[k]).map((j) => el("div", { text: said(rows[k], j) })))]),
    `Each row: one query head's attention weights at the last position; "${said(rows[0], j0)}" means the token ` +
      `${visible(piece(ids[j0]))} at position ${j0} got weight ${prob(rows[0][j0])}.`));
  }
  return box;
}

/** One head's attention, stage by stage, from the rotated q and k; checked against the engine's. */
export function renderAttentionHead(detail, config, piece, ids, head) {
  const T = ids.length, box = el("div", { class: "llmbook-live-attention", "data-detail": "attention" });
  box.append(el("h4", { text: `Attention: layer ${detail.layer}, head ${head}` }));
  if (!detail.attention) { box.append(el("p", { text: `The maps are drawn for prompts up to 256 tokens; this one has ${T}.` })); return box; }
  const st = headStages(detail.rope, config, head, T, detail.attention), w0 = Math.max(0, T - 48), n = T - w0;
  const crop = (a) => { const out = new Float32Array(n * n); for (let i = 0; i < n; i++) out.set(a.subarray((w0 + i) * T + w0, (w0 + i) * T + T), i * n); return out; };
  const figs = el("div", { class: "tlm-heatmaps" });
  for (const [name, values, kind] of [["Q·Kᵀ (after RoPE)", st.scores, "div"], [`÷ √${st.dh} = ${Math.sqrt(st.dh)}`, st.scaled, "div"],
    ["causal mask", st.masked, "div"], ["softmax", st.probs, "seq"]]) figs.append(heatFigure(name, crop(values), n, kind));
  box.append(figs);
  box.append(el("p", { text: `Each map: one row per query position (top: position ${w0}), one column per key position (left: ${w0}). ` +
    "Red is positive, blue negative, white zero, each map scaled to its own largest |value| (under it); grey is masked. " +
    `Dividing by √${st.dh} keeps the scores' spread near 1 whatever the head size, so softmax does not put all the weight on one key. ` +
    "The causal mask sets every key after the query (above the diagonal) to −∞, drawn grey, and leaves them out of the range, " +
    "which is why the range can shrink. softmax then turns each row into weights from 0 (white) to 1 (red) that add up to 1." }));
  if (w0) box.append(el("small", { text: `Positions ${w0}–${T - 1} of ${T}: the last ${n}.` }));
  box.append(el("p", { text: `These stages, recomputed here from layer ${detail.layer}'s rotated Q and K (KV head ${st.kvHead}), equal the engine's own ` +
    `attention for head ${head}: max |Δ| ${st.delta.toExponential(1)}.` }));
  return box;
}

/** SwiGLU for the last token of one layer. */
export function renderSwiglu(detail, config) {
  const I = config.intermediate_size, v = swigluView(detail.mlp, 0, I), d = config.hidden_size;
  const box = el("div", { class: "llmbook-llama-detail", "data-detail": "swiglu" }, el("h4", { text: `SwiGLU: layer ${detail.layer}, last token` }));
  box.append(el("p", { text: `The feed-forward block is down(silu(gate(x)) · up(x)): gate and up each make ${count(I)} numbers from the ` +
    `${count(d)}-wide row the block's second RMSNorm made; silu(g) = g / (1 + e^(−g)) passes large positive gates almost unchanged and ` +
    `shrinks negative ones (silu(−1) = ${num(-1 / (1 + Math.E), 3)}; never below −0.279), and the product ` +
    `is taken unit by unit; down maps the ${count(I)} back to ${count(d)}. Here ${count(v.negative)} of ${count(I)} gates ` +
    `(${num(100 * v.negative / I, 0)}%) are negative and ${count(v.closed)} (${num(100 * v.closed / I, 0)}%) are nearly shut (|silu| < 0.05). ` +
    "The units with the largest product:" }));
  box.append(table(["unit", "gate", "silu(gate)", "up", "silu · up"], v.units.map((u) =>
    [u.i, num(u.gate, 3), num(u.silu, 3), num(u.up, 3), num(u.act, 3)])));
  const down = detail.mlp.down;
  box.append(el("p", { text: `The product has length ${num(v.norm, 3)}` + (down ? `; down turns it into the ${count(d)} numbers added to the residual stream ` +
    `(length ${num(Math.hypot(...down), 3)}; the first three: ${Array.from(down.subarray(0, 3), (x) => num(x, 4)).join(", ")}).` : `; down_proj [${count(d)} × ${count(I)}] turns it into the ${count(d)} numbers added to the residual stream.`) +
    ` silu(gate) · up recomputed here equals the engine's within ${v.delta.toExponential(1)}.` }));
  return box;
}

/** Step 5: the logits, through the untied head. */
export function renderHeadLogits(sum, piece, config) {
  const s = renderLogits(sum, piece);
  s.querySelector("p").textContent = `All ${count(sum.V)} logits of the last position: the final RMSNorm's output times lm_headᵀ. ` +
    `The head is untied: lm_head.weight [${count(config.vocab_size)} × ${count(config.hidden_size)}] is a matrix of its own, not embed_tokens ` +
    `(${bytes(2 * config.vocab_size * config.hidden_size)} more weights in bfloat16, free to learn output directions the inputs do not need).`;
  return s;
}

/** A token chip coloured by its position, as in step 2; outlined orange when the model wrote it (tlm-gen), dashed when special. */
function positionChip(text, position, { special = false, written = false } = {}) {
  return chip(text, `position ${position}${written ? ", written by the model" : ""}`, { special, index: position, cls: written ? "tlm-gen" : "" });
}

const LEGEND = "Colours follow the position, as in step 2; an orange outline marks a token the model wrote; a dashed outline, a special token.";

/**
 * Step 8: the loop, one row per pass: the prompt's, then one per answer token fed back through the GQA cache.
 * -> {section, token(text, position, special), add(cells)}; the rows' ms add up to what step 9 says.
 */
export function renderLoop(config) {
  const per = kvBytes(config).perToken;
  const s = stepSection(7, `Each new token runs one position through the ${config.num_hidden_layers} blocks; its keys and values join the KV ` +
    `cache: 2 × ${config.num_hidden_layers} layers × ${config.num_key_value_heads} KV heads × ${config.head_dim} × 4 bytes = ${count(per)} bytes per token. ` +
    "One row per pass: the prompt pass picks answer token 1; pass g feeds answer token g in and picks the next. The ms is that pass's time.");
  const body = el("tbody");
  const t = el("table", { class: "table llmbook-live-table" },
    el("thead", {}, el("tr", {}, ...["pass", "token fed in", "probability when picked", "cache after (tokens)", "cache after (bytes)", "added (bytes)", "ms"]
      .map((h) => el("th", { scope: "col", text: h })))), body);
  const stream = el("div", { class: "tlm-tokens", "aria-live": "off" });
  s.append(stream, el("small", { text: LEGEND }), scrollBox(t));
  let before = null;
  return { section: s,
    token(text, position, special = false) { stream.append(positionChip(text, position, { special, written: true })); },
    /** cells: [pass, token, probability, cache {length, bytes}, ms or "–"] */
    add([pass, token, p, cache, ms], kind = "step") {
      const tr = el("tr", { class: `llmbook-llama-${kind}` });
      [pass, token, p, count(cache.length), count(cache.bytes), before === null ? "–" : count(cache.bytes - before), ms]
        .forEach((c) => tr.append(el("td", { text: String(c) })));
      before = cache.bytes;
      body.append(tr);
    } };
}

/** Step 9: the whole sequence, prompt and answer, in step 2's colours, ␣ and ↵ shown. */
export function renderFinal(ids, promptLength, piece, special, stats) {
  const s = stepSection(8, stats), row = el("div", { class: "tlm-tokens" });
  ids.forEach((id, t) => row.append(positionChip(special[id] ?? visible(piece(id)), t, { special: special[id] !== undefined, written: t >= promptLength })));
  s.append(row, el("small", { text: LEGEND }));
  return s;
}
