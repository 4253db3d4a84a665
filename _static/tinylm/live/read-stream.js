// Reading weights as they arrive, for both live pages (live.js's download of distilgpt2 on the page,
// llama-load.js's reading of TinyLlama in its worker):
//
//   const reader = chunkReader(stream)                       // {read() -> {done, value: Uint8Array}}
//   const got = await pump(stream, total, push, onProgress)   // every byte through push(bytes), with progress
//   const file = collector(total); ... file.push ...; file.result()   // the bytes in one ArrayBuffer
//
// A byte stream (a file's Blob.stream(), a fetch body, a Cache Storage copy: all byte streams) is read
// into one 4 MiB buffer again and again (a BYOB reader), so reading 2.2 GB leaves no chunks behind for
// the garbage collector; each value is valid until the next read, so push copies what it keeps. Any
// other stream is read chunk by chunk as it comes.
// Not handled: resuming a cut stream (the caller starts again), a stream with no end.

import { bytes } from "./live-math.js";

const READ_BYTES = 4 * 2 ** 20;

/** {read() -> {done, value: Uint8Array}} over a stream: into one reused buffer where the stream allows it. */
export function chunkReader(stream) {
  let byob = null;
  try {
    byob = stream.getReader({ mode: "byob" });
  } catch {
    return stream.getReader();                       // not a byte stream
  }
  let buffer = new ArrayBuffer(READ_BYTES);
  return {
    async read() {
      const part = await byob.read(new Uint8Array(buffer));
      if (part.value) buffer = part.value.buffer;    // the same memory, handed back
      return part.done ? { done: true, value: undefined } : part;
    },
  };
}

/**
 * Every byte of stream through push(bytes) (valid until push returns), with onProgress({got, total,
 * rate (bytes/s), left (s, or null)}) at most every 100 ms and at the end -> bytes read. A stream
 * that fails, or ends short of total (when total is known), is an Error that says how far it got.
 */
export async function pump(stream, total, push, onProgress = () => {}) {
  const reader = chunkReader(stream), t0 = Date.now();
  let got = 0, shown = 0;
  const report = (force) => {
    const now = Date.now();
    if (!force && now - shown < 100) return;
    shown = now;
    const rate = got / Math.max((now - t0) / 1000, 1e-3);
    onProgress({ got, total, rate, left: total && rate ? Math.max(0, (total - got) / rate) : null });
  };
  for (;;) {
    let part;
    try {
      part = await reader.read();
    } catch (err) {
      throw new Error(`the download stopped after ${bytes(got)}${total ? ` of ${bytes(total)}` : ""} (${err.message}). Try again.`);
    }
    if (part.done) break;
    push(part.value);
    got += part.value.length;
    report(false);
  }
  report(true);
  if (total && got !== total) throw new Error(`the download stopped after ${bytes(got)} of ${bytes(total)}. Try again.`);
  return got;
}

/**
 * The pushed bytes in one ArrayBuffer: one of the announced size (total), filled as they come, or,
 * with no size announced, copies of the chunks joined at the end (two copies for a moment).
 * {push(bytes), result() -> ArrayBuffer}; push refuses more bytes than announced.
 */
export function collector(total) {
  const whole = total ? new Uint8Array(total) : null, chunks = [];
  let at = 0;
  return {
    push(part) {
      if (!whole) { chunks.push(part.slice()); at += part.length; return; }    // a copy: pump reuses its buffer
      if (at + part.length > total) throw new Error(`the file is longer than the ${bytes(total)} the server announced`);
      whole.set(part, at);
      at += part.length;
    },
    result() {
      if (whole) return at === total ? whole.buffer : whole.buffer.slice(0, at);
      const out = new Uint8Array(at);
      let o = 0;
      for (const c of chunks.splice(0)) { out.set(c, o); o += c.length; }
      return out.buffer;
    },
  };
}
