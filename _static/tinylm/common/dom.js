// Small DOM helpers for the in-page panels. Text reaches the page through textContent
// only (never innerHTML), so user text can never become markup.
// Not handled: SVG elements (createElement makes HTML ones).

import { tokenText } from "../tokenizers/bpe.js";

export function el(tag, attrs = {}, ...children) {
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
export function field(label, control, hint) {
  const id = control.id || `tlm-field-${++fields}`;
  control.id = id;
  return el("div", { class: "tlm-field" }, el("label", { for: id, text: label }), control, ...(hint ? [el("small", { text: hint })] : []));
}

export function select(options, value) {
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

export const fmt = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
export const pretty = (id, table) => tokenText(id, table).replace(/ /g, "\u2423").replace(/\n/g, "\u21b5");
