// The live TinyLlama page's weights, from a URL (kept in Cache Storage) or a picked file, read
// once into the engine: the one place the page's bytes meet llama.js. It runs in the engine's
// worker (llama-worker.js), so the 2.2 GB never cross to the page.
//
//   const { model, saved, from, streamed } = await loadWeights({ url } | { file }, { backend, config, cacheName, onProgress })
//   await savedCopy(url, cacheName)          // is a copy kept in this browser? (no bytes read)
//
// Where WebAssembly SIMD runs, the file streams straight into the engine's memory as it arrives
// (llama.js llamaLoader: never two copies); elsewhere it is read into one buffer of the file's
// size and the JavaScript engine reads the tensors in place (createLlama, kernel "js"). A download
// is saved to Cache Storage as it streams (a tee to disk), and only when it completes. Every
// failure is an Error whose message names it: unreachable, HTTP status, cut short, not a Llama
// checkpoint (from llama.js, as soon as the header is in), too little memory.
// Not handled: resuming a cut download (it starts again), sharded checkpoints, a server that
// sends no Content-Length on the whole-file path (the chunks are joined: two copies for a moment).

import { createLlama, llamaLoader, parseSafetensors } from "../engines/llama.js";
import { collector, pump } from "./read-stream.js";

/**
 * The weights through the engine -> {model, saved (kept in Cache Storage), from: "cache" | "network" | "file", streamed,
 * rebuild(backend): the same weights, already in memory, on another engine (the old one's destroy() first)}.
 */
export async function loadWeights(source, { backend = "cpu", config = null, cacheName = null, onProgress = () => {} } = {}) {
  const input = await openInput(source, cacheName);
  try {
    const sink = await makeSink(config, input.total);
    await pump(input.stream, input.total, (chunk) => sink.push(chunk), (p) => onProgress({ ...p, from: input.from }));
    const model = await sink.finish(backend);
    const saved = input.saving ? await input.saving : false;
    return { model, saved, from: input.from, streamed: sink.streamed, kernelNote: sink.note, rebuild: (other) => sink.finish(other) };
  } catch (err) {
    input.abort();
    if (input.saving) await input.saving.then((ok) => ok && forget(source.url, cacheName));
    throw named(err);
  }
}

/** Whether this browser keeps a copy of url (a Cache Storage entry), without reading it. */
export async function savedCopy(url, cacheName) {
  try {
    return Boolean(globalThis.caches && (await (await caches.open(cacheName)).match(url)));
  } catch {
    return false;                                  // storage blocked (file://, private mode)
  }
}

async function forget(url, cacheName) {
  try { await (await caches.open(cacheName)).delete(url); } catch { /* nothing kept */ }
}

/** {stream, total, from, saving: Promise<bool> | null, abort()} for a file or a URL. */
async function openInput(source, cacheName) {
  if (source.file) return { stream: source.file.stream(), total: source.file.size, from: "file", saving: null, abort() {} };
  const { url } = source;
  let cached = null;
  try {
    cached = globalThis.caches && cacheName ? await (await caches.open(cacheName)).match(url) : null;
  } catch { /* storage blocked: download */ }
  if (cached) return { stream: cached.body, total: Number(cached.headers.get("Content-Length")) || 0, from: "cache", saving: null, abort() {} };
  const control = new AbortController();
  let res;
  try {
    res = await fetch(url, { signal: control.signal });
  } catch (err) {
    throw new Error(`could not reach ${url} (${err.message}). Offline? Pick a model.safetensors from your disk instead, or give ?weights=URL of a mirror.`);
  }
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status} ${res.statusText}.`);
  const total = Number(res.headers.get("Content-Length")) || 0;
  let stream = res.body, saving = null;
  if (cacheName && globalThis.caches) {
    const [mine, disk] = stream.tee();               // one branch to the engine, one to disk: no copy kept in memory
    stream = mine;
    const headers = { "Content-Type": "application/octet-stream", ...(total ? { "Content-Length": String(total) } : {}) };
    saving = caches.open(cacheName).then((c) => c.put(url, new Response(disk, { headers }))).then(() => true, () => false);
  }
  return { stream, total, from: "network", saving, abort: () => control.abort() };
}

/** Where the bytes go: the streamed loader, or one buffer of the file's size. {push, finish(backend) (again: another engine
 *  on the same bytes), streamed, note} */
async function makeSink(config, total) {
  let why;
  try {
    const loader = await llamaLoader({ config });
    return { streamed: true, note: null, push: (chunk) => loader.push(chunk), finish: (backend) => loader.finish({ backend }) };
  } catch (err) {
    why = err.message;
  }
  const file = collector(total);
  let tensors = null;
  return {
    streamed: false, note: why, push: file.push,
    async finish(backend) {                          // once read, the tensors are kept for another engine
      if (!tensors) tensors = parseSafetensors(file.result(), { bf16: "view" });
      return createLlama(tensors, { backend, config, kernel: "js" });
    },
  };
}

/** Memory failures said as such; every other error as it came. */
function named(err) {
  if (err instanceof RangeError || /Array buffer allocation failed|out of memory/i.test(err && err.message)) {
    return new Error(`this browser could not set aside the memory the weights need (${err.message}): ` +
      "the device or the browser has too little free memory for TinyLlama. Close other tabs, or use a device with more memory.");
  }
  return err;
}
