"""The live-prompt page (try/live.html) in Debian's Chromium: a typed prompt through the
book's stand-in distilgpt2 on both engines, the parity check, the weights' paths (a file
from disk, a loopback download kept in Cache Storage) and every fault the issue names;
the engine in a Web Worker (no long main-thread task while tokens generate, Stop within a
token, from disk too) and on the page where no worker starts.

The engine runs in the page's worker, where init scripts do not reach: a browser without
WebGPU, or with a small GPU, is made by patching the worker too (``_open``'s ``worker_script``)."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from tests.browser.harness import open_page, serve

pytestmark = pytest.mark.slow
PAGE = "try/live.html"
STEPS = ["Input", "Tokenize", "Embed", "Layers", "Logits", "Softmax", "Sample", "Loop", "Done"]
NO_WEBGPU = "Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });"
NO_WEBGPU_WORKER = "Object.defineProperty(WorkerNavigator.prototype, 'gpu', { get: () => undefined });"
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(Math.round(e.duration)); })
  .observe({ type: 'longtask' });
"""


def _open(chromium, url, init_script=None, worker_script=None):
    """The page with its engine host started; worker_script runs in the engine's worker first."""
    page, log = open_page(chromium, url, init_script=init_script)
    page.wait_for_selector("#llmbook-live[data-host] button")
    if worker_script:
        assert page.locator("#llmbook-live").get_attribute("data-host") == "worker"
        assert len(page.workers) == 1, page.workers
        page.workers[0].evaluate(worker_script)
    return page, log


def _message(page) -> str:
    return page.locator("#llmbook-live .tlm-message").inner_text()


def _load_file(page, path: Path):
    page.set_input_files("#llmbook-live input[type=file]", str(path))
    page.wait_for_function("document.querySelector('.llmbook-live-status').textContent.startsWith('Loaded') "
                           "|| document.querySelector('.tlm-message').textContent", timeout=300_000)


def _run(page, prompt=None, polling="raf"):
    if prompt is not None:
        page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_role("button", name="Run my prompt").click()
    page.wait_for_function("!document.getElementById('llmbook-live').hasAttribute('aria-busy') && "
                           "(document.querySelector('[data-step=Done]') || document.querySelector('.tlm-message').textContent)",
                           timeout=300_000, polling=polling)


@pytest.mark.parametrize("engine", ["webgpu", "cpu"])
def test_a_typed_prompt_shows_all_nine_steps_and_passes_the_parity_check(chromium, base_url, distilgpt2_file, engine):
    page, log = _open(chromium, f"{base_url}/{PAGE}")
    try:
        assert not [u for u in log.requests if "safetensors" in u], "weights fetched before the reader asked"
        page.get_by_label("Engine").select_option(engine)
        _load_file(page, distilgpt2_file)
        assert "Loaded from your file model.safetensors" in page.locator(".llmbook-live-status").inner_text()
        badge = page.locator(".tlm-badge").first.inner_text()       # the CPU's: ", 2 threads" or ", 1 thread (why)"
        assert badge == "engine: WebGPU" if engine == "webgpu" else badge.startswith("engine: CPU (WebAssembly), "), badge
        _run(page, "Héllo wörld 👋 東京 — the quick brown fox")
        assert [s.get_attribute("data-step") for s in page.locator("[data-step]").all()] == STEPS
        assert "Done:" in _message(page)
        tokens = page.locator("[data-step=Tokenize] .tok").all_inner_texts()
        assert len(tokens) >= 10 and any("⟨" in t for t in tokens)    # 👋 and 東京 split mid-character: shown as bytes
        loop = page.locator("[data-step=Loop] tbody tr").all_inner_texts()
        assert len(loop) == 8 and "36,864 bytes per token" in page.locator("[data-step=Loop]").inner_text()
        assert "max |Δ|" in page.locator("[data-step=Layers]").inner_text()
        page.get_by_role("button", name="Check against PyTorch").click()
        page.wait_for_function("document.body.innerText.includes('parity: max')", timeout=300_000)
        badge = page.locator(".tlm-badge.tlm-ok")
        assert "over 50,257 logits" in badge.inner_text(), _message(page)
        assert float(badge.inner_text().split("|Δ| ")[1].split()[0]) <= 1e-4
        assert not log.console_errors and not log.page_errors, (log.console_errors, log.page_errors)
        assert not log.external_requests, log.external_requests
    finally:
        page.close()


def test_faults_get_a_message_and_the_page_keeps_working(chromium, base_url, distilgpt2_file, tmp_path):
    from safetensors.torch import save_file
    import torch

    (tmp_path / "page.safetensors").write_bytes(b"<!doctype html><title>Not found</title>")
    save_file({"model.embed_tokens.weight": torch.zeros(8, 4)}, str(tmp_path / "llama.safetensors"))
    page, log = _open(chromium, f"{base_url}/{PAGE}", init_script=NO_WEBGPU, worker_script=NO_WEBGPU_WORKER)
    try:
        _load_file(page, tmp_path / "page.safetensors")
        assert "not a safetensors file" in _message(page)
        _load_file(page, tmp_path / "llama.safetensors")
        assert "not a GPT-2 checkpoint" in _message(page)
        assert page.get_by_role("button", name="Run my prompt").is_disabled()
        _load_file(page, distilgpt2_file)                           # no WebGPU: the CPU engine, said so
        assert "WebGPU could not run this model (this browser has no WebGPU" in _message(page)
        _run(page, "   ")
        assert "Type a prompt first" in _message(page)
        _run(page, "word " * 1100)
        assert "so its first" in page.locator("[data-step=Input]").inner_text()
        assert page.locator("[data-step=Done]").count() == 1
        _run(page, "<img src=x onerror=alert(1)>")                  # text, never markup
        assert page.locator("#llmbook-live img").count() == 0
        assert "<img" in page.locator("[data-step=Input] pre").inner_text()
        assert not log.page_errors, log.page_errors
    finally:
        page.close()


class _CutHandler(http.server.BaseHTTPRequestHandler):
    """Says the file is 1,000,000 bytes, sends 1,000 and hangs up."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000000")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(b"\0" * 1000)
        self.wfile.flush()
        self.connection.close()

    def log_message(self, *args):
        pass


def test_downloads_progress_are_saved_and_cut_or_blocked_ones_are_named(chromium, site, distilgpt2_file):
    cut = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutHandler)
    threading.Thread(target=cut.serve_forever, daemon=True).start()
    try:
        with serve(site, extra={"/_weights": distilgpt2_file.parent}) as url:
            weights = f"{url}/_weights/{distilgpt2_file.name}"
            page, log = _open(chromium, f"{url}/{PAGE}?weights={weights}", init_script=NO_WEBGPU, worker_script=NO_WEBGPU_WORKER)
            button = page.get_by_role("button", name="Download distilgpt2 (about 353 MB from 127.0.0.1")
            button.click()
            page.wait_for_function("document.querySelector('.llmbook-live-status').textContent.startsWith('Loaded')", timeout=300_000)
            assert "352.8 MB of 352.8 MB · " in page.locator(".llmbook-live-progress").inner_text()   # bytes · rate · time left
            assert page.evaluate("caches.open('llmbook-weights-v1').then(c => c.match(location.search.slice(9))).then(r => !!r)")
            page.close()
            page, log = _open(chromium, f"{url}/{PAGE}?weights={weights}", init_script=NO_WEBGPU, worker_script=NO_WEBGPU_WORKER)
            page.wait_for_function("document.querySelector('#llmbook-live button').textContent.includes('saved in this browser')")
            before = len([u for u in log.requests if "safetensors" in u])
            page.locator("#llmbook-live button").first.click()
            page.wait_for_function("document.querySelector('.llmbook-live-status').textContent.startsWith('Loaded')", timeout=300_000)
            assert "saved copy" in page.locator(".llmbook-live-status").inner_text()
            assert len([u for u in log.requests if "safetensors" in u]) == before
            page.get_by_role("button", name="Forget the saved copy").click()
            page.wait_for_function("document.querySelector('.tlm-message').textContent.includes('is gone')")
            page.close()
            for target, message in ((f"http://127.0.0.1:{cut.server_address[1]}/model.safetensors", "the download stopped after"),
                                    ("http://127.0.0.1:9/model.safetensors", "could not reach")):
                page, log = _open(chromium, f"{url}/{PAGE}?weights={target}", init_script=NO_WEBGPU, worker_script=NO_WEBGPU_WORKER)
                page.locator("#llmbook-live button").first.click()
                page.wait_for_function("document.querySelector('.tlm-message').textContent", timeout=60_000)
                assert message in _message(page), _message(page)
                assert page.get_by_role("button", name="Run my prompt").is_disabled()
                page.close()
    finally:
        cut.shutdown()


def test_the_page_without_weights_is_under_1_mb(site):
    from llmbook.sphinxext.assets import PAGE_SCRIPTS

    scripts = next(s for markers, s, _ in PAGE_SCRIPTS if 'id="llmbook-live"' in markers)
    files = [site / PAGE] + [site / "_static" / s for s in scripts]
    total = sum(f.stat().st_size for f in files)
    assert total < 1_000_000, {f.name: f.stat().st_size for f in files}


SMALL_GPU = """
const real = Object.getOwnPropertyDescriptor(GPUAdapter.prototype, 'limits').get;
Object.defineProperty(GPUAdapter.prototype, 'limits', { get() {
  const l = real.call(this), out = {};
  for (const k in l) out[k] = l[k];
  out.maxStorageBufferBindingSize = 128 * 2 ** 20;
  return out;
} });
"""


def test_a_gpu_too_small_for_the_weights_hands_over_to_the_cpu(chromium, base_url, distilgpt2_file):
    """An adapter that binds 128 MiB per buffer cannot hold wte (147 MiB): the CPU engine runs, and says why."""
    page, log = _open(chromium, f"{base_url}/{PAGE}", init_script=SMALL_GPU, worker_script=SMALL_GPU)
    try:
        _load_file(page, distilgpt2_file)
        assert page.locator(".tlm-badge").first.inner_text().startswith("engine: CPU (WebAssembly), ")
        assert "binds at most 128 MiB per buffer; the token embedding needs 147 MiB" in _message(page)
        _run(page, "Still works")
        assert page.locator("[data-step=Done]").count() == 1
    finally:
        page.close()


def _loop_rows(page) -> int:
    return page.locator("[data-step=Loop] tbody tr").count()


def test_tokens_generate_off_the_main_thread_and_stop_ends_them_within_one_token(chromium, base_url, distilgpt2_file):
    """32 new tokens on the CPU engine: no main-thread task over 100 ms (a long-task observer), the
    prompt box takes typing meanwhile, and Stop ends a 200-token run after at most one more token.

    A long task is wall time, so on a loaded machine a few-ms task can stretch past 100 ms: a run
    that shows one is repeated once, and the second must be clean (with the engine on the page,
    every run has a task of seconds)."""
    page, log = _open(chromium, f"{base_url}/{PAGE}", init_script=LONG_TASKS)
    try:
        assert page.locator("#llmbook-live").get_attribute("data-host") == "worker"
        assert page.locator(".llmbook-live-host").is_hidden()
        stop = page.get_by_role("button", name="Stop")
        assert stop.is_disabled()
        page.get_by_label("Engine").select_option("cpu")
        _load_file(page, distilgpt2_file)
        page.get_by_label("Tokens to generate").fill("32")
        runs = []
        for _ in range(2):
            page.evaluate("window.__longTasks.length = 0")
            _run(page, "The quick brown fox jumps over the lazy dog and", polling=50)
            assert _loop_rows(page) == 32 and "Done:" in _message(page)
            assert page.locator("[data-step=Loop] .tlm-gen").count() == 32         # streamed as they came
            runs.append(page.evaluate("window.__longTasks"))
            if max(runs[-1], default=0) <= 100:
                break
        assert max(runs[-1], default=0) <= 100, f"long main-thread tasks (ms) in each run: {runs}"

        page.get_by_label("Tokens to generate").fill("200")
        page.get_by_role("button", name="Run my prompt").click()
        page.wait_for_function("document.querySelectorAll('[data-step=Loop] tbody tr').length >= 3", timeout=120_000)
        prompt = page.get_by_label("Prompt", exact=True)
        prompt.press("End")
        prompt.type(" typed", delay=20)                                             # the page takes keys while it generates
        assert prompt.input_value().endswith(" typed")
        at_click = page.evaluate("""() => { const b = [...document.querySelectorAll('#llmbook-live button')].find((x) => x.textContent === 'Stop');
                                            const busy = document.getElementById('llmbook-live').hasAttribute('aria-busy');
                                            b.click(); return busy ? document.querySelectorAll('[data-step=Loop] tbody tr').length : -1; }""")
        assert at_click >= 3, "the run ended before Stop"
        page.wait_for_function("!document.getElementById('llmbook-live').hasAttribute('aria-busy')", timeout=120_000)
        assert at_click <= _loop_rows(page) <= at_click + 1 < 200
        assert f"{_loop_rows(page)} of 200 generated" in _message(page)
        assert page.locator("[data-step=Done]").count() == 1 and stop.is_disabled()
        assert not log.console_errors and not log.page_errors, (log.console_errors, log.page_errors)
    finally:
        page.close()


def test_where_no_worker_starts_the_page_runs_the_engine_and_says_so(chromium, base_url, distilgpt2_file):
    page, log = _open(chromium, f"{base_url}/{PAGE}", init_script="window.Worker = function () { throw new Error('blocked here'); };")
    try:
        assert page.locator("#llmbook-live").get_attribute("data-host") == "page"
        note = page.locator(".llmbook-live-host").inner_text()
        assert "would not start a background worker here (blocked here)" in note and "runs on the page itself" in note
        page.get_by_label("Engine").select_option("cpu")
        _load_file(page, distilgpt2_file)
        page.get_by_label("Tokens to generate").fill("3")
        _run(page, "Still works")
        assert _loop_rows(page) == 3 and "Done:" in _message(page)
        assert not log.page_errors, log.page_errors
    finally:
        page.close()


def test_opened_from_disk_the_engine_still_runs_in_a_worker(chromium, site, distilgpt2_file):
    """file://: no fetch, no module scripts; the worker starts from the bundle's own text (a blob: URL)."""
    page, log = _open(chromium, (site / PAGE).resolve().as_uri())
    try:
        assert page.locator("#llmbook-live").get_attribute("data-host") == "worker"
        page.get_by_label("Engine").select_option("cpu")
        _load_file(page, distilgpt2_file)
        page.get_by_label("Tokens to generate").fill("2")
        _run(page, "From disk")
        assert _loop_rows(page) == 2 and "Done:" in _message(page)
        assert not log.page_errors, log.page_errors
    finally:
        page.close()
