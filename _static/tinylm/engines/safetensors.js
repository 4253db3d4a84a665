// The safetensors format, read in the page: no dependency, no code execution.
//
// A file is: a little-endian u64 n, n bytes of JSON {name: {dtype, shape, data_offsets:
// [begin, end]}, "__metadata__": {...}}, then the raw little-endian data, offsets
// counted from the end of the header. F32 tensors that sit on a 4-byte boundary are
// views into the buffer (no copy); F16 and BF16 are widened to float32, unless
// { bf16: "view" } asks to keep BF16 as it is stored: then its data is a Uint16Array of
// the raw bfloat16 bits (a view, no copy, when on a 2-byte boundary) for kernels that
// widen as they read (llama.js): half the memory of float32.
// Not handled: other dtypes (refused by name), big-endian machines.

export class SafetensorsError extends Error {}

const MAX_HEADER = 100 * 2 ** 20;
const BYTES = { F32: 4, F16: 2, BF16: 2 };

/**
 * ArrayBuffer -> Map name -> {dtype, shape, data: Float32Array}; throws SafetensorsError naming the problem.
 * opts.bf16: "widen" (default: float32 values) or "view" (BF16 data stays a Uint16Array of the stored bits).
 */
export function parseSafetensors(buffer, { bf16 = "widen" } = {}) {
  if (bf16 !== "widen" && bf16 !== "view") throw new SafetensorsError(`bf16 must be "widen" or "view", not ${JSON.stringify(bf16)}`);
  if (Object.prototype.toString.call(buffer) !== "[object ArrayBuffer]") throw new SafetensorsError("expected the file's bytes (an ArrayBuffer)");
  const header = readHeader(buffer), start = 8 + header.length, out = new Map();
  for (const [name, info] of Object.entries(header.entries)) {
    out.set(name, { dtype: info.dtype, shape: info.shape, data: readTensor(buffer, start, name, info, bf16 === "view") });
  }
  return out;
}

/**
 * {length, entries, metadata}: the JSON header, checked entry by entry. fileBytes: the whole file's
 * size when `buffer` holds only its start (Infinity: unknown yet, a stream; llama-wasm.js's loader).
 */
export function readHeader(buffer, { fileBytes = buffer.byteLength } = {}) {
  if (buffer.byteLength < 8) throw new SafetensorsError(`${buffer.byteLength} bytes: too short to be a safetensors file`);
  const n = Number(new DataView(buffer).getBigUint64(0, true));
  if (n > MAX_HEADER || 8 + n > buffer.byteLength) {
    throw new SafetensorsError(`the first 8 bytes give a header of ${n.toLocaleString("en")} bytes: not a safetensors file`);
  }
  let json;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(buffer, 8, n)));
  } catch (err) {
    throw new SafetensorsError(`the header is not JSON (${err.message}): not a safetensors file`);
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) throw new SafetensorsError("the header is not a JSON object");
  const { __metadata__: metadata = {}, ...entries } = json;
  const dataBytes = fileBytes - 8 - n;
  for (const [name, info] of Object.entries(entries)) checkEntry(name, info, dataBytes);
  return { length: n, entries, metadata };
}

function checkEntry(name, info, dataBytes) {
  if (!info || !Array.isArray(info.shape) || !Array.isArray(info.data_offsets)) {
    throw new SafetensorsError(`tensor ${name}: the header entry has no shape or data_offsets`);
  }
  if (!(info.dtype in BYTES)) throw new SafetensorsError(`tensor ${name} is ${info.dtype}; this page reads F32, F16 and BF16`);
  if (!info.shape.every((s) => Number.isInteger(s) && s >= 0)) throw new SafetensorsError(`tensor ${name}: bad shape ${JSON.stringify(info.shape)}`);
  const [begin, end] = info.data_offsets, count = info.shape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(begin) || !Number.isInteger(end) || end - begin !== count * BYTES[info.dtype] || begin < 0) {
    throw new SafetensorsError(`tensor ${name}: data_offsets ${JSON.stringify(info.data_offsets)} do not hold ${count} ${info.dtype} values`);
  }
  if (end > dataBytes) {
    throw new SafetensorsError(`tensor ${name} runs past the end of the file (${dataBytes.toLocaleString("en")} bytes of data): a download cut short?`);
  }
}

function readTensor(buffer, start, name, info, keepBF16 = false) {
  const [begin, end] = info.data_offsets, offset = start + begin, count = (end - begin) / BYTES[info.dtype];
  if (info.dtype === "F32") {
    return offset % 4 === 0 ? new Float32Array(buffer, offset, count) : new Float32Array(buffer.slice(offset, offset + 4 * count));
  }
  const half = new Uint16Array(offset % 2 === 0 ? buffer : buffer.slice(offset, offset + 2 * count), offset % 2 === 0 ? offset : 0, count);
  if (info.dtype === "BF16") return keepBF16 ? half : widenBF16(half);
  return widenF16(half);
}

function widenBF16(half) {
  const bits = new Uint32Array(half.length);
  for (let i = 0; i < half.length; i++) bits[i] = half[i] << 16;
  return new Float32Array(bits.buffer);
}

function widenF16(half) {
  const out = new Float32Array(half.length);
  for (let i = 0; i < half.length; i++) {
    const h = half[i], sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * 2 ** -14 * (frac / 1024);
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return out;
}
