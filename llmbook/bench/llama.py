"""``llmbook bench --only llama``: the live TinyLlama page's CPU engine against PyTorch on one thread.

The stand-in at TinyLlama's full size (22 layers, 32/4 heads, bfloat16, 2.2 GB), written as the
hub serves it (:func:`llmbook.testing.hub.write_checkpoint`). A 16-token prompt and 16 generated
tokens (KV cache, greedy). PyTorch runs ``LlamaForCausalLM`` in float32 from the same file with
``torch.set_num_threads(1)``, in its own process; the page's CPU engine (``engines/llama.js``,
WebAssembly with bfloat16 weights) runs under Node, the file pushed through ``llamaLoader`` in
16 MB pieces as the page streams it. Each side: medians of 3 timed runs after 1 warm-up. The
two alternate ``ROUNDS`` times, so each ratio compares runs minutes apart on the same machine.

Like with like: both prompt passes compute the head for the last row only (what the page shows).
Node runs with ``--experimental-wasm-relaxed-simd``: the page's Chromium has relaxed SIMD on by
default (since 114), so the engine runs its fused multiply-add build of the kernels there, and
Node 20 needs the flag to run the same build (the row says which build ran; PyTorch uses FMA too).
Effective GB/s: the bytes of weights a generated token reads (bfloat16 for the engine, float32 for
PyTorch: every parameter once) times tokens/s; the KV cache's few MB are left out. Memory: Node's
peak resident set (``VmHWM``: this process's own, not inherited across ``exec`` as ``ru_maxrss``
is) against the file's size. The WebGPU engine (``engines/llama-webgpu.js``) runs once, in Chromium
(SwiftShader where there is no GPU: WebGPU on the CPU, a proxy for the code path, not a GPU's speed),
the file streamed into ``llamaLoader`` as the page reads it and uploaded: the same 16-token prompt,
then ``NEW_GPU`` tokens; its ratios are against the mean of PyTorch's rounds. Not measured: a
browser's own overhead for the CPU engine (the page runs it in a Web Worker as Node runs it here).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .widget import TINYLM

PROMPT = 16
NEW = 16
NEW_GPU = 4            # SwiftShader: seconds a token at full size
ROUNDS = 2

_PYTORCH = """
import json, statistics, time, torch
from transformers import DynamicCache, LlamaForCausalLM
torch.set_num_threads(1)
model = LlamaForCausalLM.from_pretrained(%(folder)r, dtype=torch.float32).eval()
ids = torch.arange(1000, 1000 + %(T)d)[None]
def prompt():
    with torch.no_grad():
        t = time.perf_counter(); h = model.model(ids).last_hidden_state; model.lm_head(h[:, -1])
        return time.perf_counter() - t
def generate():
    with torch.no_grad():
        past = DynamicCache(config=model.config)
        out = model(ids, past_key_values=past, use_cache=True); nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        t = time.perf_counter()
        for _ in range(%(N)d):
            out = model(nxt, past_key_values=past, use_cache=True)
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        return time.perf_counter() - t
prompt(); generate()
print(json.dumps({"prompt_s": statistics.median(prompt() for _ in range(3)),
                  "generate_s": statistics.median(generate() for _ in range(3)),
                  "weight_bytes": 4 * sum(p.numel() for p in model.parameters())}))
"""

_NODE = """
const { loadStreamed } = await import(%(check)s);
const fs = await import("node:fs");
const t0 = performance.now();
const m = await loadStreamed(%(weights)s);
const load_s = (performance.now() - t0) / 1000;
const ids = Array.from({ length: %(T)d }, (_, i) => 1000 + i), med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
const argmax = (r) => { let b = 0; for (let i = 1; i < r.length; i++) if (r[i] > r[b]) b = i; return b; };
const opts = { logits: "last", residual: false };
async function prompt() { const t = performance.now(); await m.forward(ids, opts); return (performance.now() - t) / 1000; }
async function generate() {
  const cache = m.newCache();
  let next = argmax((await m.forward(ids, { cache, ...opts })).logits);
  const t = performance.now();
  for (let i = 0; i < %(N)d; i++) next = argmax((await m.forward([next], { cache, ...opts })).logits);
  return (performance.now() - t) / 1000;
}
await prompt(); await generate();
const p = [], g = [];
for (let i = 0; i < 3; i++) { p.push(await prompt()); g.push(await generate()); }
const hwm = /VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
process.stdout.write(JSON.stringify({ kernel: m.kernel, simd: m.simd || null, fallback: m.kernelFallback || null, load_s, prompt_s: med(p), generate_s: med(g),
  weight_bytes: m.weightBytes, memory_bytes: m.memoryBytes, peak_rss_bytes: hwm ? 1024 * Number(hwm[1]) : null }));
"""


def pytorch_one_thread(folder: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _PYTORCH % {"folder": str(folder), "T": PROMPT, "N": NEW}],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def node_cpu(weights: Path) -> dict:
    check = Path(__file__).resolve().parents[2] / "tests" / "widget" / "llama-check.mjs"
    script = _NODE % {"check": json.dumps(check.as_uri()), "weights": json.dumps(str(weights)), "T": PROMPT, "N": NEW}
    out = subprocess.run(["node", "--experimental-wasm-relaxed-simd", "--input-type=module", "-e", script],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


_WEBGPU = """<!doctype html><meta charset="utf-8"><script type="module">
import { llamaLoader } from "./tinylm/engines/llama.js";
const argmax = (r) => { let b = 0; for (let i = 1; i < r.length; i++) if (r[i] > r[b]) b = i; return b; };
window.result = (async () => {
  const config = await (await fetch("./config.json")).json(), loader = await llamaLoader({ config });
  const reader = (await fetch("./model.safetensors")).body.getReader();
  for (let part; !(part = await reader.read()).done; ) loader.push(part.value);
  const t0 = performance.now(), m = await loader.finish({ backend: "webgpu" }), upload_s = (performance.now() - t0) / 1000;
  if (m.backend !== "webgpu") return { error: `WebGPU did not run: ${m.fallback}` };
  const ids = Array.from({ length: %(T)d }, (_, i) => 1000 + i), opts = { logits: "last", residual: false };
  await m.forward([1000], opts);                                   // pipelines and activations warm
  const cache = m.newCache(), t1 = performance.now();
  let next = argmax((await m.forward(ids, { cache, ...opts })).logits);
  const t2 = performance.now();
  for (let i = 0; i < %(N)d; i++) next = argmax((await m.forward([next], { cache, ...opts })).logits);
  const t3 = performance.now(), info = await (await navigator.gpu.requestAdapter()).info;
  return { upload_s, prompt_s: (t2 - t1) / 1000, generate_s: (t3 - t2) / 1000, weight_bytes: m.weightBytes,
           adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(" ") };
})().catch((e) => ({ error: String(e && e.stack || e) }));
</script>"""


def chromium_webgpu(folder: Path) -> dict:
    """The WebGPU engine in Chromium on the file in `folder` (with its config.json), streamed as the page reads it."""
    from .browser import browser_missing, run_bench_page

    if browser_missing():
        return {"skipped": browser_missing()}
    return run_bench_page(_WEBGPU % {"T": PROMPT, "N": NEW_GPU}, {n: folder / n for n in ("model.safetensors", "config.json")},
                          "the TinyLlama WebGPU benchmark", timeout_ms=1_800_000)


def llama_engines(rounds: int = ROUNDS) -> dict:
    from ..lm.models import _config
    from ..lm.specs import get_spec
    from ..testing.hub import write_checkpoint

    if not shutil.which("node"):
        return {"skipped": "Node.js is not installed"}
    if not (TINYLM / "engines" / "llama.js").is_file() or not (TINYLM.parents[1] / "tests" / "widget" / "llama-check.mjs").is_file():
        return {"skipped": "no source checkout (engines/llama.js, tests/widget/llama-check.mjs)"}
    with tempfile.TemporaryDirectory(prefix="llmbook-bench-llama-") as tmp:
        weights = write_checkpoint("tinyllama", Path(tmp) / "model.safetensors", seed=0)
        _config(get_spec("tinyllama"), {}).save_pretrained(tmp)
        runs = [{"pytorch": pytorch_one_thread(Path(tmp)), "cpu": node_cpu(weights)} for _ in range(rounds)]
        return {"file_bytes": weights.stat().st_size, "rounds": runs, "webgpu": chromium_webgpu(Path(tmp))}


def print_llama(r: dict) -> None:
    """Rows per round: value, PyTorch's (1 thread, same round), ratio. Prompt ratios are times
    (lower is better), generation and bandwidth ratios speeds (higher is better)."""
    if "skipped" in r:
        print(f"{'llama CPU engine':<44}{'skipped':>12}  ({r['skipped']})")
        return
    for i, run in enumerate(r["rounds"], 1):
        base, x, tag = run["pytorch"], run["cpu"], f"llama r{i} "
        gbs = lambda s, b: b * NEW / s / 1e9  # noqa: E731
        kernel = (f"{x['kernel']} kernels" + (f" ({x['simd']})" if x.get("simd") else "")
                  + (f", FELL BACK: {x['fallback']}" if x["fallback"] else ""))
        print(f"{tag + str(PROMPT) + '-token prompt, CPU engine (Node)':<44}{x['prompt_s'] * 1e3:>10.0f}ms"
              f"{base['prompt_s'] * 1e3:>10.0f}ms{x['prompt_s'] / base['prompt_s']:>8.2f}  (time vs PyTorch 1 thread f32; {kernel})")
        speed = base["generate_s"] / x["generate_s"]
        print(f"{tag + 'generation, CPU engine (Node)':<44}{NEW / x['generate_s']:>8.2f}tok/s{NEW / base['generate_s']:>7.2f}tok/s"
              f"{speed:>8.2f}  (tokens/s vs PyTorch 1 thread, KV cache, {NEW} tokens)")
        print(f"{tag + 'effective bandwidth':<44}{gbs(x['generate_s'], x['weight_bytes']):>9.1f}GB/s"
              f"{gbs(base['generate_s'], base['weight_bytes']):>8.1f}GB/s{'':>8}  (weight bytes a token reads × tokens/s: bf16 vs f32)")
        if x["peak_rss_bytes"]:
            print(f"{tag + 'Node peak RSS vs the bf16 file':<44}{x['peak_rss_bytes'] / 1e9:>10.2f}GB{r['file_bytes'] / 1e9:>10.2f}GB"
                  f"{x['peak_rss_bytes'] / r['file_bytes']:>8.2f}  (streamed load {x['load_s']:.1f} s; WebAssembly memory "
                  f"{x['memory_bytes'] / 1e9:.2f} GB)")
    _print_webgpu(r.get("webgpu"), r["rounds"])


def _print_webgpu(x: dict | None, rounds: list[dict]) -> None:
    """The WebGPU row: against the mean of PyTorch's rounds (the engine runs once: minutes on SwiftShader)."""
    if not x:
        return
    if "skipped" in x:
        print(f"{'llama WebGPU engine (Chromium)':<44}{'skipped':>12}  ({x['skipped']})")
        return
    base_p = sum(r["pytorch"]["prompt_s"] for r in rounds) / len(rounds)
    base_g = sum(r["pytorch"]["generate_s"] for r in rounds) / len(rounds) / NEW      # s a token
    print(f"{str(PROMPT) + '-token prompt, WebGPU (Chromium)':<44}{x['prompt_s'] * 1e3:>10.0f}ms{base_p * 1e3:>10.0f}ms"
          f"{x['prompt_s'] / base_p:>8.2f}  (time vs PyTorch 1 thread f32, mean of the rounds; {x['adapter'] or 'adapter unnamed'}; "
          f"upload {x['upload_s']:.1f} s)")
    tok_s = NEW_GPU / x["generate_s"]
    print(f"{'generation, WebGPU (Chromium)':<44}{tok_s:>8.2f}tok/s{1 / base_g:>7.2f}tok/s{tok_s * base_g:>8.2f}  "
          f"({NEW_GPU} tokens; SwiftShader runs WebGPU on the CPU: the code path, not a GPU's speed)")
