"""The live page's engines on distilgpt2's shapes, against PyTorch on one thread.

A 32-token prompt pass and 32 generated tokens (KV cache, greedy), on the book's seeded
stand-in written as the hub serves it (float32 ``model.safetensors``, 353 MB): the same
shapes and arithmetic as the real weights. PyTorch runs ``GPT2LMHeadModel`` with
``torch.set_num_threads(1)`` in its own process; the page's CPU engine runs under Node and
its WebGPU engine in headless Chromium (SwiftShader here: a CPU emulating a GPU, so the
WebGPU row measures the code path, not a GPU). The CPU engine runs twice: on one thread, and on
its pool (pool.js: min(cores, 4) threads over worker_threads, the code a cross-origin isolated
page runs in Web Workers). Medians of 5 timed runs after 1 warm-up.
A missing piece (Node, Playwright, Chromium) is reported as skipped with the reason.

Like with like: the engines' prompt pass computes the tied head for the last row only (what
the page shows), so PyTorch's prompt row does the same (the transformer on all rows, then
``lm_head`` on the last). Effective GB/s is the float32 weights a generated token streams
(every parameter once, the tied head once) times tokens/s; the KV cache's few MB are left out.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from .widget import TINYLM

PROMPT = 32
NEW = 32

_PYTORCH = """
import json, statistics, time, torch, llmbook
torch.set_num_threads(1)
lm = llmbook.load_model("distilgpt2", "standin")
ids = torch.arange(1000, 1000 + %(T)d)[None]
def prompt():
    with torch.no_grad():
        t = time.perf_counter(); h = lm.model.transformer(ids).last_hidden_state; lm.model.lm_head(h[:, -1])
        return time.perf_counter() - t
def prompt_all():
    with torch.no_grad():
        t = time.perf_counter(); lm.model(ids); return time.perf_counter() - t
def generate():
    with torch.no_grad():
        from transformers import DynamicCache
        past = DynamicCache(config=lm.model.config)
        out = lm.model(ids, cache=past, use_cache=True); nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        t = time.perf_counter()
        for _ in range(%(N)d):
            out = lm.model(nxt, cache=past, use_cache=True)
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        return time.perf_counter() - t
prompt(); prompt_all(); generate()
print(json.dumps({"prompt_s": statistics.median(prompt() for _ in range(5)),
                  "prompt_all_s": statistics.median(prompt_all() for _ in range(5)),
                  "generate_s": statistics.median(generate() for _ in range(5)),
                  "weight_bytes": 4 * sum(p.numel() for p in lm.model.parameters())}))
"""

# An async function body (M: gpt2.js, bytes: the file's ArrayBuffer) -> timings.
_JS = """
const m = await M.createGPT2(M.parseSafetensors(bytes), { backend: %(backend)s, threads: %(threads)s });
const ids = Array.from({ length: %(T)d }, (_, i) => 1000 + i), med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
const argmax = (r) => { let b = 0; for (let i = 1; i < r.length; i++) if (r[i] > r[b]) b = i; return b; };
async function prompt() { const t = performance.now(); await m.forward(ids, { logits: "last", attention: "none" }); return (performance.now() - t) / 1000; }
async function generate() {
  const cache = m.newCache();
  let next = argmax((await m.forward(ids, { cache, logits: "last", attention: "none" })).logits);
  const t = performance.now();
  for (let i = 0; i < %(N)d; i++) next = argmax((await m.forward([next], { cache, logits: "last", attention: "none" })).logits);
  return (performance.now() - t) / 1000;
}
await prompt(); await generate();
const p = [], g = [];
for (let i = 0; i < 5; i++) { p.push(await prompt()); g.push(await generate()); }
const out = { backend: m.backend, kernel: m.kernel || null, fallback: m.fallback || null, threads: m.threads || 1, prompt_s: med(p), generate_s: med(g) };
if (m.destroy) m.destroy();
return out;
"""


def _js(backend: str, threads: int | str = "auto") -> str:
    return _JS % {"backend": json.dumps(backend), "threads": json.dumps(threads), "T": PROMPT, "N": NEW}


def pool_threads() -> int:
    """The CPU engine's pool as a browser sizes it (pool.js): min(cores, 4)."""
    return min(os.cpu_count() or 1, 4)


def pytorch_one_thread() -> dict:
    out = subprocess.run([sys.executable, "-c", _PYTORCH % {"T": PROMPT, "N": NEW}], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def node_cpu(weights: Path, threads: int = 1) -> dict:
    """The CPU engine under Node on `threads` threads (more than 1: pool.js over worker_threads)."""
    if not shutil.which("node"):
        return {"skipped": "Node.js is not installed"}
    script = (f"const M = await import({json.dumps((TINYLM / 'gpt2.js').as_uri())});\n"
              f"const fs = await import('node:fs');\nconst b = fs.readFileSync({json.dumps(str(weights))});\n"
              "const bytes = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);\n"
              f"const r = await (async () => {{ {_js('cpu', threads)} }})();\nprocess.stdout.write(JSON.stringify(r));")
    out = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def chromium_webgpu(weights: Path) -> dict:
    from .browser import browser_missing, run_bench_page

    if browser_missing():
        return {"skipped": browser_missing()}
    html = ("<!doctype html><script type=module>\nimport * as M from './tinylm/engines/gpt2.js';\nwindow.result = (async () => {"
            "const bytes = await (await fetch('./model.safetensors')).arrayBuffer();" + _js("webgpu") +
            "})().catch((e) => ({ error: String(e) }));\n</script>")
    return run_bench_page(html, {"model.safetensors": weights}, "the live page's WebGPU benchmark")


def chromium_cpu(weights: Path, threads: int) -> dict:
    """The CPU engine in a Web Worker of a cross-origin isolated page in Chromium (the server sends
    COOP/COEP, as the site's isolation-sw.js makes it) on `threads` threads: pool.js's Web Workers."""
    from .browser import browser, browser_missing

    if browser_missing():
        return {"skipped": browser_missing()}
    worker = ("import * as M from './tinylm/engines/gpt2.js';\n(async () => {"
              "const bytes = await (await fetch('./model.safetensors')).arrayBuffer();" + _js("cpu", threads) +
              "})().then((r) => postMessage(r), (e) => postMessage({ error: String(e) }));\n")
    html = ("<!doctype html><script type=module>\nwindow.result = crossOriginIsolated ? new Promise((res) => {"
            "const w = new Worker('./bench-worker.js', { type: 'module' }); w.onmessage = (e) => res(e.data);"
            "w.onerror = (e) => res({ error: e.message }); }) : { error: 'the page is not cross-origin isolated' };\n</script>")
    with tempfile.TemporaryDirectory(prefix="llmbook-bench-live-") as tmp:
        (Path(tmp) / "tinylm").symlink_to(TINYLM)
        (Path(tmp) / "model.safetensors").symlink_to(weights)
        (Path(tmp) / "bench.html").write_text(html)
        (Path(tmp) / "bench-worker.js").write_text(worker)
        with _isolated_server(Path(tmp)) as url, browser() as ctx:
            page = ctx.new_page()
            page.goto(f"{url}/bench.html")
            result = page.evaluate("window.result")
    if "error" in result:
        raise RuntimeError(f"the live page's CPU benchmark failed in Chromium: {result['error']}")
    return result


@contextmanager
def _isolated_server(folder: Path):
    """A loopback server for `folder` that sends the cross-origin isolation headers."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def end_headers(self):
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            super().end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def live_engines() -> dict:
    from ..testing.hub import write_checkpoint

    if not TINYLM.is_dir():
        return {"skipped": f"no source checkout ({TINYLM} is missing)"}
    with tempfile.TemporaryDirectory(prefix="llmbook-bench-gpt2-") as tmp:
        weights = write_checkpoint("distilgpt2", Path(tmp) / "model.safetensors", seed=0)
        pool = pool_threads()
        return {"pytorch": pytorch_one_thread(), "cpu": node_cpu(weights),
                "cpu_pool": node_cpu(weights, pool) if pool > 1 else {"skipped": "one core: no pool"},
                "chromium_cpu": chromium_cpu(weights, 1),
                "chromium_cpu_pool": chromium_cpu(weights, pool) if pool > 1 else {"skipped": "one core: no pool"},
                "webgpu": chromium_webgpu(weights)}


def print_live(r: dict) -> None:
    """Rows: value, PyTorch's (1 thread, same run), ratio. Prompt ratios are times (lower is
    better), generation and bandwidth ratios speeds (higher is better)."""
    if "skipped" in r:
        print(f"{'live page engines':<44}{'skipped':>12}  ({r['skipped']})")
        return
    base = r["pytorch"]
    gbs = lambda seconds: base["weight_bytes"] * NEW / seconds / 1e9  # noqa: E731
    print(f"{'live PyTorch 1 thread, ' + str(PROMPT) + '-token prompt':<44}{base['prompt_s'] * 1e3:>10.1f}ms"
          f"{'':>20}  (head on the last row; {base['prompt_all_s'] * 1e3:.1f} ms with it on all {PROMPT})")
    print(f"{'live PyTorch 1 thread, generation':<44}{NEW / base['generate_s']:>8.1f}tok/s"
          f"{'':>20}  ({gbs(base['generate_s']):.1f} GB/s: {base['weight_bytes'] / 1e6:.0f} MB of weights a token)")
    for key, label in (("cpu", "CPU engine (Node)"), ("cpu_pool", "CPU pool (Node)"), ("chromium_cpu", "CPU engine (Chromium)"),
                       ("chromium_cpu_pool", "CPU pool (Chromium)"), ("webgpu", "WebGPU engine (Chromium)")):
        x = r.get(key, {"skipped": "not measured"})
        if "skipped" in x:
            print(f"{'live ' + label:<44}{'skipped':>12}  ({x['skipped']})")
            continue
        fell = f", FELL BACK to {x['backend']}: {x['fallback']}" if x["backend"] != ("webgpu" if key == "webgpu" else "cpu") else ""
        kernel = f", {x['kernel']} kernels" if x.get("kernel") else ""
        kernel += f", {x['threads']} threads" if x.get("threads", 1) > 1 else ""
        speed = base["generate_s"] / x["generate_s"]
        print(f"{'live ' + str(PROMPT) + '-token prompt, ' + label:<44}{x['prompt_s'] * 1e3:>10.1f}ms"
              f"{base['prompt_s'] * 1e3:>10.1f}ms{x['prompt_s'] / base['prompt_s']:>8.2f}  "
              f"(time vs PyTorch 1 thread, head on the last row{kernel}{fell})")
        print(f"{'live generation, ' + label:<44}{NEW / x['generate_s']:>8.1f}tok/s{NEW / base['generate_s']:>7.1f}tok/s"
              f"{speed:>8.2f}  (tokens/s vs PyTorch 1 thread, KV cache, {NEW} tokens)")
        print(f"{'live effective bandwidth, ' + label:<44}{gbs(x['generate_s']):>9.1f}GB/s{gbs(base['generate_s']):>8.1f}GB/s"
              f"{speed:>8.2f}  (weights streamed a token × tokens/s)")
