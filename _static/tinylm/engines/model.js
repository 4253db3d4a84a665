// The book's tiny transformer in the browser (CONTRACTS §4): one API, two engines.
//
//   import { createModel } from "./model.js";
//   const m = await createModel(weightsJson, { backend: "webgpu" });   // or "cpu"
//   m.backend                      // the engine actually in use ("cpu" if WebGPU is missing)
//   await m.forward(ids)           // Float32Array logits [T × V]
//   await m.trainStep(inputs, targets, { lr })   // loss before the AdamW update
//   m.toJSON()                     // the contract's weights object
//
// Weights are checked before anything runs: format, config, every tensor's name,
// shape, length and finiteness, each problem named in the error. A NaN or infinite
// loss raises TrainingDiverged without applying the update; restoreLastGood() goes
// back to the weights of the last finite step. Not handled: learning-rate schedules,
// gradient clipping, dropout.

import { CPUEngine } from "./cpu.js";
import { Decoder } from "./decode.js";
import { FORMAT, layout, normalizeConfig, views } from "./layout.js";
import { mulberry32, normal } from "./rng.js";
import { createGPUEngine } from "./webgpu.js";

export { FORMAT, layout, normalizeConfig, tensorShapes } from "./layout.js";

export class WeightsError extends Error {}
export class TrainingDiverged extends Error {}

export const ADAMW_DEFAULTS = { weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** Parse and check a weights object (or JSON text): {config, params (flat), merges}. */
export function parseWeights(source) {
  let obj = source;
  if (typeof source === "string") {
    try { obj = JSON.parse(source); } catch (err) { throw new WeightsError(`not JSON: ${err.message}`); }
  }
  if (!obj || typeof obj !== "object" || obj.format !== FORMAT) {
    throw new WeightsError(`not an ${FORMAT} weights file (format: ${JSON.stringify(obj && obj.format)})`);
  }
  let config;
  try { config = normalizeConfig(obj.config); } catch (err) { throw new WeightsError(err.message); }
  const tensors = obj.tensors;
  if (!tensors || typeof tensors !== "object") throw new WeightsError("weights file has no 'tensors' object");
  const lay = layout(config), names = lay.entries.map((e) => e.name);
  const missing = names.filter((n) => !(n in tensors)), extra = Object.keys(tensors).filter((n) => !(n in lay.byName));
  if (missing.length || extra.length) {
    throw new WeightsError(`tensors do not match the config: missing ${JSON.stringify(missing.slice(0, 5))}, unexpected ${JSON.stringify(extra.slice(0, 5))}`);
  }
  const params = new Float32Array(lay.total);
  for (const e of lay.entries) params.set(checkTensor(e, tensors[e.name]), e.offset);
  let merges = null;
  if (obj.merges !== undefined && obj.merges !== null) merges = checkMerges(obj.merges, config);
  return { config, params, merges };
}

function checkTensor(e, t) {
  const shape = t && t.shape;
  if (!Array.isArray(shape) || shape.length !== e.shape.length || shape.some((s, i) => s !== e.shape[i])) {
    throw new WeightsError(`tensor ${e.name}: shape ${JSON.stringify(shape)} does not match the config's ${JSON.stringify(e.shape)}`);
  }
  const data = t.data;
  if (!(Array.isArray(data) || data instanceof Float32Array) || data.length !== e.size) {
    throw new WeightsError(`tensor ${e.name}: expected ${e.size} numbers, got ${data && data.length !== undefined ? data.length : typeof data}`);
  }
  const out = Float32Array.from(data);
  for (let i = 0; i < out.length; i++) {
    if (typeof data[i] !== "number") throw new WeightsError(`tensor ${e.name}: value ${i} is not a number`);
    if (!Number.isFinite(out[i])) throw new WeightsError(`tensor ${e.name}: value ${i} is ${data[i]} (NaN or infinite)`);
  }
  return out;
}

function checkMerges(merges, config) {
  if (!Array.isArray(merges)) throw new WeightsError("merges must be a list of [left, right] pairs");
  if (256 + merges.length !== config.vocab_size) {
    throw new WeightsError(`${merges.length} merges make ${256 + merges.length} tokens, but vocab_size is ${config.vocab_size}`);
  }
  merges.forEach((m, step) => {
    if (!Array.isArray(m) || m.length !== 2 || !m.every((x) => Number.isInteger(x) && x >= 0 && x < 256 + step)) {
      throw new WeightsError(`merge ${step} is ${JSON.stringify(m)}: ids must be below ${256 + step}`);
    }
  });
  return merges.map((m) => [m[0], m[1]]);
}

/** Seeded fresh weights as a contract object (Float32Array data): N(0, 0.02), output maps /√(2·layers). */
export function randomWeights(rawConfig, seed = 0, merges = null) {
  const config = normalizeConfig(rawConfig), rand = mulberry32(seed);
  const outStd = 0.02 / Math.sqrt(2 * config.n_layers), tensors = {};
  for (const e of layout(config).entries) {
    const data = new Float32Array(e.size);
    if (e.shape.length === 1) data.fill(e.name.endsWith("weight") ? 1 : 0);
    else {
      const std = /(w_out|w2)$/.test(e.name) ? outStd : 0.02;
      for (let i = 0; i < e.size; i++) data[i] = std * normal(rand);
    }
    tensors[e.name] = { shape: e.shape, data };
  }
  return { format: FORMAT, config, tensors, ...(merges ? { merges } : {}) };
}

/** Flat params -> the contract object; values rounded to 9 significant digits (exact for float32). */
export function weightsObject(config, params, merges) {
  const tensors = {};
  for (const e of layout(config).entries) {
    const data = new Array(e.size);
    for (let i = 0; i < e.size; i++) data[i] = Number(params[e.offset + i].toPrecision(9));
    tensors[e.name] = { shape: e.shape, data };
  }
  return { format: FORMAT, config, tensors, ...(merges ? { merges } : {}) };
}

/** Turn inputs (flat Int32Array/array, or a list of rows) into {ids, B, T}. */
export function batchShape(inputs, config, seqLen) {
  let ids, B, T;
  if (Array.isArray(inputs) && inputs.length && typeof inputs[0] !== "number") {
    B = inputs.length; T = inputs[0].length;
    if (inputs.some((r) => r.length !== T)) throw new Error("every row of a batch must have the same length");
    ids = new Int32Array(B * T);
    inputs.forEach((r, b) => ids.set(r, b * T));
  } else {
    ids = Int32Array.from(inputs);
    T = seqLen || Math.min(ids.length, config.context_len);
    B = T ? ids.length / T : 0;
  }
  if (!ids.length) throw new Error("no tokens: the model needs at least one");
  if (!Number.isInteger(B)) throw new Error(`${ids.length} ids do not split into rows of ${T}`);
  if (T > config.context_len) throw new Error(`${T} tokens exceed the context of ${config.context_len}`);
  for (const id of ids) if (!(id >= 0 && id < config.vocab_size)) throw new Error(`token id ${id} is outside [0, ${config.vocab_size})`);
  return { ids, B, T };
}

class TinyModel {
  constructor(config, engine, merges) {
    this.config = config;
    this.merges = merges;
    this.engine = engine;
    this.fallbackReason = null;        // why the WebGPU request ended on the CPU, if it did
    this.lastGood = null;              // weights the last finite loss was computed with
    this.steps = 0;
    this.parameterCount = layout(config).count;
  }

  get backend() { return this.engine.kind; }

  /** The current weights, flat (a live array on the CPU, the last read-back copy on WebGPU). */
  get params() { return this.engine.hostParams; }

  async forward(ids) {
    const b = batchShape(ids, this.config, ids.length);
    if (b.B !== 1) throw new Error(`forward() takes one sequence of at most ${this.config.context_len} ids`);
    return this.engine.forward(b.ids, 1, b.T);
  }

  /** Mean cross-entropy of a batch, forward only (held-out loss). */
  async loss(inputs, targets, { seqLen = 0 } = {}) {
    const x = batchShape(inputs, this.config, seqLen), y = batchShape(targets, this.config, x.T);
    const logits = await this.engine.forward(x.ids, x.B, x.T), V = this.config.vocab_size;
    let total = 0;
    for (let n = 0; n < x.ids.length; n++) {
      let max = -Infinity, sum = 0;
      for (let v = 0; v < V; v++) max = Math.max(max, logits[n * V + v]);
      for (let v = 0; v < V; v++) sum += Math.exp(logits[n * V + v] - max);
      total += Math.log(sum) + max - logits[n * V + y.ids[n]];
    }
    return total / x.ids.length;
  }

  /** The current weights as a contract object with Float32Array data (cheap; JSON.stringify the model instead for a file). */
  snapshot() {
    const tensors = {};
    for (const [name, data] of Object.entries(this.tensors())) tensors[name] = { shape: layout(this.config).byName[name].shape, data };
    return { format: FORMAT, config: this.config, tensors, ...(this.merges ? { merges: this.merges } : {}) };
  }

  /** Loss and every tensor's gradient, without updating: {loss, grads: {name: Float32Array}}. */
  async gradients(inputs, targets, { seqLen = 0 } = {}) {
    const x = batchShape(inputs, this.config, seqLen), y = batchShape(targets, this.config, x.T);
    const { loss, grads } = await this.engine.lossAndGrads(x.ids, y.ids, x.B, x.T);
    return { loss, grads: copyViews(this.config, grads) };
  }

  async trainStep(inputs, targets, opts = {}) {
    const x = batchShape(inputs, this.config, opts.seqLen || 0), y = batchShape(targets, this.config, x.T);
    if (x.ids.length !== y.ids.length) throw new Error("inputs and targets differ in length");
    if (!(opts.lr > 0)) throw new Error(`learning rate must be a positive number, not ${opts.lr}`);
    const r = await this.engine.trainStep(x.ids, y.ids, x.B, x.T, { ...ADAMW_DEFAULTS, ...opts });
    if (!Number.isFinite(r.loss)) {
      throw new TrainingDiverged(`the loss became ${r.loss} at step ${this.steps + 1} (learning rate ${opts.lr} too high?)`);
    }
    this.lastGood = r.before;
    this.steps++;
    return r.loss;
  }

  /** Back to the weights of the last finite step; the optimizer starts afresh. */
  async restoreLastGood() {
    if (!this.lastGood) throw new Error("no finite training step yet: nothing to restore");
    await this.engine.setParams(this.lastGood);
  }

  /** Leave WebGPU (device lost, or asked to) keeping the current weights; the optimizer starts afresh. */
  switchToCPU(reason) {
    const params = Float32Array.from(this.engine.hostParams);
    if (this.engine.destroy) this.engine.destroy();
    this.engine = new CPUEngine(this.config, params);
    this.fallbackReason = reason;
  }

  decoder() { return new Decoder(this.config, Float32Array.from(this.engine.hostParams)); }

  /** Current weights by name (copies). */
  tensors() { return copyViews(this.config, this.engine.hostParams); }

  toJSON() { return weightsObject(this.config, this.engine.hostParams, this.merges); }

  destroy() { if (this.engine.destroy) this.engine.destroy(); }
}

function copyViews(config, flat) {
  const out = {};
  for (const [name, view] of Object.entries(views(config, flat))) out[name] = Float32Array.from(view);
  return out;
}

/** Checked weights -> a model on the requested backend ("webgpu" falls back to "cpu" with fallbackReason). */
export async function createModel(weightsJson, { backend = "webgpu", gpu = globalThis.navigator && globalThis.navigator.gpu } = {}) {
  const { config, params, merges } = parseWeights(weightsJson);
  if (backend !== "webgpu" && backend !== "cpu") throw new Error(`backend must be "webgpu" or "cpu", not ${JSON.stringify(backend)}`);
  let engine = null, reason = null;
  if (backend === "webgpu") {
    try {
      engine = await createGPUEngine(config, params, gpu);
    } catch (err) {
      reason = err.message;
    }
  }
  const model = new TinyModel(config, engine || new CPUEngine(config, params), merges);
  model.fallbackReason = reason;
  return model;
}
