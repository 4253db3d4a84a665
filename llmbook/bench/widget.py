"""The widget's training step, timed where it runs: the plain-JS engine under Node and the
WebGPU engine in headless Chromium (SwiftShader here, CONTRACTS §6), on the book's
model size and batch (32 windows × 64 tokens), random weights and random tokens.

Each engine is warmed up (shader compilation, JIT) and then timed over several steps;
the median is reported. Needs a source checkout (the engines live in ``_static/tinylm``),
Node for the CPU engine and Playwright with Debian's Chromium for WebGPU; a missing
piece is reported as skipped with the reason, not as a number.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..tiny.artifacts import BOOK_MODEL, BOOK_TRAINING

TINYLM = Path(__file__).resolve().parents[2] / "_static" / "tinylm"   # in a source checkout

# An async function body: times `steps` AdamW steps after `warmup`, returns a summary.
_BODY = """
const { createModel, randomWeights } = M;
const kernel = L.setKernel(%(kernel)s);
const cfg = %(config)s, B = %(batch)d, T = cfg.context_len;
const m = await createModel(randomWeights(cfg, 0), { backend: %(backend)s });
const data = new Uint16Array(200000);
const rand = R.mulberry32(1);
for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * cfg.vocab_size);
const times = [];
for (let s = 0; s < %(warmup)d + %(steps)d; s++) {
  const b = R.randomWindows(data, B, T, rand), t0 = performance.now();
  await m.trainStep(b.inputs, b.targets, { lr: 3e-3 });
  if (s >= %(warmup)d) times.push((performance.now() - t0) / 1000);
}
times.sort((a, b) => a - b);
return { backend: m.backend, kernel: m.backend === "cpu" ? kernel : null, adapter: m.engine.adapterName || null, fallback: m.fallbackReason,
         median_step_s: times[Math.floor(times.length / 2)], steps: times.length, tokens_per_step: B * T };
"""


def _body(backend: str, steps: int, warmup: int, kernel: str = "wasm") -> str:
    from dataclasses import asdict

    return _BODY % {"config": json.dumps(asdict(BOOK_MODEL)), "batch": BOOK_TRAINING.batch_size,
                    "backend": json.dumps(backend), "steps": steps, "warmup": warmup, "kernel": json.dumps(kernel)}


def js_cpu_step(steps: int = 8, warmup: int = 2, kernel: str = "wasm") -> dict:
    """The CPU engine under Node; kernel "wasm" (WebAssembly SIMD matmul) or "js" (plain JavaScript)."""
    if not TINYLM.is_dir():
        return {"skipped": f"no source checkout ({TINYLM} is missing)"}
    if not shutil.which("node"):
        return {"skipped": "Node.js is not installed"}
    script = (f"const M = await import({json.dumps((TINYLM / 'model.js').as_uri())});\n"
              f"const R = await import({json.dumps((TINYLM / 'rng.js').as_uri())});\n"
              f"const L = await import({json.dumps((TINYLM / 'linalg.js').as_uri())});\n"
              f"const r = await (async () => {{ {_body('cpu', steps, warmup, kernel)} }})();\n"
              "process.stdout.write(JSON.stringify(r));")
    out = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def webgpu_step(steps: int = 4, warmup: int = 1) -> dict:
    if not TINYLM.is_dir():
        return {"skipped": f"no source checkout ({TINYLM} is missing)"}
    from .browser import browser, browser_missing, serve

    if browser_missing():
        return {"skipped": browser_missing()}
    page_html = ("<!doctype html><script type=module>\nimport * as M from './tinylm/engines/model.js';\n"
                 "import * as R from './tinylm/engines/rng.js';\nimport * as L from './tinylm/engines/linalg.js';\nwindow.result = (async () => {" + _body("webgpu", steps, warmup) +
                 "})().catch((e) => ({ error: String(e) }));\n</script>")
    with tempfile.TemporaryDirectory(prefix="llmbook-bench-") as tmp:
        (Path(tmp) / "tinylm").symlink_to(TINYLM)
        (Path(tmp) / "bench.html").write_text(page_html)
        with serve(Path(tmp)) as url, browser() as ctx:
            page = ctx.new_page()
            page.goto(f"{url}/bench.html")
            result = page.evaluate("window.result")          # a promise: evaluate waits for it
    if "error" in result:
        raise RuntimeError(f"the WebGPU benchmark failed in Chromium: {result['error']}")
    return result


def widget_steps(quick: bool = False) -> dict:
    return {"js_cpu": js_cpu_step(4 if quick else 8), "js_cpu_plain": js_cpu_step(3 if quick else 5, kernel="js"),
            "webgpu": webgpu_step(2 if quick else 4)}


def print_widget(w: dict, pytorch_1_thread_s: float) -> None:
    for key, label in (("js_cpu", "tiny step: JS CPU (Node) / PyTorch 1 thread"),
                       ("js_cpu_plain", "  same, plain-JS matmul (no WebAssembly)"),
                       ("webgpu", "tiny step: WebGPU (Chromium) / PyTorch 1 thr")):
        r = w[key]
        if "skipped" in r:
            print(f"{label:<44}{'skipped':>12}  ({r['skipped']})")
            continue
        note = f"{r['tokens_per_step'] / r['median_step_s']:,.0f} tokens/s, {1 / r['median_step_s']:.2f} steps/s"
        if r.get("adapter"):
            note += f", adapter: {r['adapter']}"
        if r.get("kernel"):
            note += f", matmul kernel: {r['kernel']}"
        if r["backend"] != ("webgpu" if key == "webgpu" else "cpu"):
            note += f", FELL BACK to {r['backend']}: {r['fallback']}"
        print(f"{label:<44}{r['median_step_s'] * 1e3:>10.1f}ms{pytorch_1_thread_s * 1e3:>10.1f}ms"
              f"{r['median_step_s'] / pytorch_1_thread_s:>8.2f}  ({note})")
