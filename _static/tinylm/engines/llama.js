// Llama-family checkpoints in the page (CONTRACTS §8): TinyLlama-1.1B-Chat first.
//
// Two ways in. From the whole file's bytes (tests, small files):
//   import { parseSafetensors, createLlama } from "./llama.js";
//   const tensors = parseSafetensors(bytes, { bf16: "view" });   // bfloat16 stays bfloat16 (Uint16Array views)
//   const m = await createLlama(tensors, { backend: "cpu", config });   // config: the checkpoint's config.json, optional
// The CPU engine then copies the matrices once into its WebAssembly memory; the caller may drop
// `bytes` afterwards (until then both are held: 2 × 2.2 GB for TinyLlama).
//
// Streamed (the page; 2.2 GB never held twice): the file's bytes go straight into the engine's
// WebAssembly memory as they arrive.
//   const loader = await llamaLoader({ config });       // compiles the kernels; config optional
//   for await (const chunk of response.body) loader.push(chunk);   // the file from byte 0, in order, any chunk sizes
//   // once the header is in (its first chunks): loader.config, loader.total (file size), loader.received;
//   // a wrong file throws from push() (CheckpointError / SafetensorsError) before its body downloads
//   const m = await loader.finish({ backend: "cpu" });  // SafetensorsError if the file was cut short
//   // or loader.tensors(): the Map parseSafetensors(bytes, { bf16: "view" }) would give, as views of the
//   // loader's memory (no copy), for an engine that uploads the weights elsewhere (WebGPU)
//
// Either way:
//   m.backend ("cpu"); m.kernel ("wasm" | "js"); m.config; m.dtype ("BF16" | "F32"); m.weightBytes
//   const cache = m.newCache();
//   const out = await m.forward(ids, { cache });   // {logits [T × V], residual [L+1][T, d], ...}
//   m.lens(row)                                    // the logit lens: final norm + lm_head of any residual row -> [V]
//   await m.generate(ids, { maxNewTokens, stop, cache, onToken })   // greedy
// forward's options: logits "all" | "last", residual (default true), attention "none" (default) |
// "all" | [layers] ([H, T, past+T] each), rope: a layer (q, k before and after RoPE), mlp: a layer
// (gate, up, silu(gate)·up); see LlamaJS.forward in llama-js.js.
//
// The arithmetic of transformers' LlamaForCausalLM in float32: RMSNorm, RoPE (rotate-half),
// grouped-query attention, SwiGLU, an untied head. Weight matrices stay bfloat16 in memory
// (2.2 GB for TinyLlama, not 4.4 GB), widened to float32 inside the kernels; every sum in float32.
// The CPU engines: LlamaWasm (llama-wasm.js, simd-bf16.wat's kernels on WebAssembly SIMD) where
// it can run; else LlamaJS (llama-js.js: float32 or float16 matrices, no SIMD, kernel: "js"),
// m.kernelFallback saying why when WebAssembly was asked for. Names, shapes and config live in
// llama-config.js (the WebGPU engine imports them from there: llama.js imports the engines).
// Not handled: batches, training, RoPE scaling (Llama 3's "llama3", "linear", "dynamic" are
// refused by name), attention or MLP biases, sliding windows, positions past
// max_position_embeddings (the caller cuts). backend "webgpu" runs llama-webgpu.js's engine where
// it can (else the CPU engine, m.fallback saying why).

import { llamaWeights } from "./llama-config.js";
import { LlamaJS } from "./llama-js.js";
import { bf16Kernels, createLlamaWasm, LlamaLoader } from "./llama-wasm.js";
import { llamaGPUFromWeights } from "./llama-webgpu.js";

export { CheckpointError, LLAMA_DEFAULTS, llamaConfig, llamaLayout, llamaShapes, llamaWeights } from "./llama-config.js";
export { applyRope, attend, LlamaCache, LlamaJS, linear, rmsNorm, ropeFrequencies } from "./llama-js.js";
export { LlamaWasm } from "./llama-wasm.js";
export { parseSafetensors, SafetensorsError } from "./safetensors.js";

/**
 * A model on the asked-for backend from parseSafetensors' tensors. "webgpu": llama-webgpu.js's engine,
 * else (no WebGPU, no adapter, no room) the CPU engine with m.fallback saying why. kernel (the CPU
 * engine): "wasm" (default: WebAssembly where it can run) or "js" (plain JavaScript). gpu: a
 * navigator.gpu to use instead of the page's (tests).
 */
export async function createLlama(tensors, { backend = "cpu", config = null, kernel = "wasm", gpu } = {}) {
  const { config: c, w, tied } = llamaWeights(tensors, config || {});
  if (backend !== "webgpu" && backend !== "cpu") throw new Error(`backend must be "webgpu" or "cpu", not ${JSON.stringify(backend)}`);
  if (kernel !== "wasm" && kernel !== "js") throw new Error(`kernel must be "wasm" or "js", not ${JSON.stringify(kernel)}`);
  let fallback = null;
  if (backend === "webgpu") {
    try {
      return await llamaGPUFromWeights(c, w, tied, gpu === undefined ? {} : { gpu });
    } catch (err) {
      fallback = err.message;
    }
  }
  const m = await createCPU(c, w, tied, kernel);
  if (fallback) m.fallback = fallback;
  return m;
}

/** LlamaWasm where it can run, else LlamaJS (m.kernelFallback: why, when WebAssembly was asked for). */
async function createCPU(c, w, tied, kernel) {
  let why = null;
  if (kernel === "wasm") {
    try {
      const made = await createLlamaWasm(c, w, tied);
      if (made.model) return made.model;
      why = made.why;
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;   // the memory would not grow: the JavaScript engine reads the tensors where they are
      why = err.message;
    }
  }
  const m = new LlamaJS(c, w, tied);
  if (why) m.kernelFallback = why;
  return m;
}

/**
 * A streamed loader (LlamaLoader in llama-wasm.js): push() the file's bytes in order, then finish().
 * opts.config: the checkpoint's config.json, optional. Throws where WebAssembly SIMD is missing
 * (the page then reads the whole file and calls createLlama, which runs the JavaScript engine).
 */
export async function llamaLoader({ config = null } = {}) {
  const k = await bf16Kernels();
  if (!k) throw new Error("this browser has no WebAssembly SIMD, which the streamed Llama loader needs");
  return new LlamaLoader(k, config);
}
