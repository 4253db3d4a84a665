"""Threads for the live page where the host sends no isolation headers, in Debian's Chromium.

The built site is served by a plain loopback static server (no COOP/COEP headers, like Read
the Docs). The live page registers isolation-sw.js (at the site's root), reloads once and comes
back cross-origin isolated; in its engine worker the CPU engine then runs on a pool of threads
(engines/pool.js), says so on the engine line, passes the parity check against PyTorch, and a
second engine in the same isolated page gives, on one thread, the pool's logits bit for bit.
A download from another origin (CORS, as from huggingface.co) still loads under the embedder
policy. From disk there is no service worker: one thread, and the page says why.
"""

from __future__ import annotations

import http.server
import threading
import urllib.request
from functools import partial

import pytest

from tests.browser.harness import open_page, serve
from tests.browser.test_live_page import PAGE, _load_file, _run

pytestmark = pytest.mark.slow
SETTLED = "window.llmbookLiveIsolation && !window.llmbookLiveIsolation.reloading"

# In the isolated page: a module worker runs gpt2.js twice on the same file, threads "auto" then 1.
TWO_ENGINES = """async (weights) => {
  const src = `import * as M from "${location.origin}/_static/tinylm/engines/gpt2.js";
self.onmessage = async (e) => {
  try {
    const bytes = await (await fetch(e.data)).arrayBuffer(), out = {};
    for (const threads of ["auto", 1]) {
      const m = await M.createGPT2(M.parseSafetensors(bytes), { backend: "cpu", threads });
      const ids = Array.from({ length: 37 }, (_, i) => 1000 + 11 * i), cache = m.newCache();
      const prompt = await m.forward(ids, { cache, logits: "last" }), step = await m.forward([464], { cache, logits: "last" });
      out[threads] = { threads: m.threads, why: m.threadsWhy, prompt: Array.from(prompt.logits), step: Array.from(step.logits) };
      m.destroy();
    }
    postMessage(out);
  } catch (err) { postMessage({ error: String((err && err.stack) || err) }); }
};`;
  const w = new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })), { type: "module" });
  const out = await new Promise((res) => { w.onmessage = (e) => res(e.data); w.onerror = (e) => res({ error: e.message }); w.postMessage(weights); });
  w.terminate();
  return out;
}"""


class _CORSFiles(http.server.SimpleHTTPRequestHandler):
    """Another origin's files with Access-Control-Allow-Origin, as the hub sends them."""

    def end_headers(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, *args):
        pass


def test_a_plain_static_servers_page_becomes_isolated_and_runs_the_pool(chromium, site, distilgpt2_file):
    with serve(site, extra={"/_weights": distilgpt2_file.parent}) as url:
        headers = urllib.request.urlopen(f"{url}/{PAGE}").headers
        assert headers.get("Cross-Origin-Opener-Policy") is None and headers.get("Cross-Origin-Embedder-Policy") is None
        assert urllib.request.urlopen(f"{url}/isolation-sw.js").status == 200
        page, log = open_page(chromium, f"{url}/{PAGE}")
        try:
            page.wait_for_function(SETTLED, timeout=30_000)
            state = page.evaluate("[crossOriginIsolated, window.llmbookLiveIsolation, performance.getEntriesByType('navigation')[0].type,"
                                  " navigator.hardwareConcurrency, typeof SharedArrayBuffer]")
            assert state[:3] == [True, {"isolated": True, "why": None}, "reload"], state
            threads = min(state[3], 4)
            assert threads >= 2, "this test needs 2 cores"

            got = page.evaluate(TWO_ENGINES, f"{url}/_weights/{distilgpt2_file.name}")
            assert "error" not in got, got
            pool, one = got["auto"], got["1"]
            assert (pool["threads"], pool["why"], one["threads"]) == (threads, None, 1)
            assert pool["prompt"] == one["prompt"] and pool["step"] == one["step"]   # bit for bit

            page.wait_for_selector("#llmbook-live[data-host] button")
            page.get_by_label("Engine").select_option("cpu")
            _load_file(page, distilgpt2_file)
            assert page.locator(".tlm-badge").first.inner_text() == f"engine: CPU (WebAssembly), {threads} threads"
            _run(page, "The pool splits every product by columns")
            page.get_by_role("button", name="Check against PyTorch").click()
            page.wait_for_function("document.body.innerText.includes('parity: max')", timeout=300_000)
            badge = page.locator(".tlm-badge.tlm-ok")
            assert float(badge.inner_text().split("|Δ| ")[1].split()[0]) <= 1e-4
            assert not log.console_errors and not log.page_errors, (log.console_errors, log.page_errors)
        finally:
            page.close()


def test_a_cross_origin_download_still_loads_in_the_isolated_page(chromium, site, distilgpt2_file):
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_CORSFiles, directory=str(distilgpt2_file.parent)))
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        with serve(site) as url:
            weights = f"http://127.0.0.1:{other.server_address[1]}/{distilgpt2_file.name}"
            page, log = open_page(chromium, f"{url}/{PAGE}?weights={weights}")
            try:
                page.wait_for_function(SETTLED, timeout=30_000)
                assert page.evaluate("crossOriginIsolated")
                page.wait_for_selector("#llmbook-live[data-host] button")
                page.get_by_label("Engine").select_option("cpu")
                page.locator("#llmbook-live button").first.click()
                page.wait_for_function("document.querySelector('.llmbook-live-status').textContent.startsWith('Loaded') "
                                       "|| document.querySelector('.tlm-message').textContent", timeout=300_000)
                assert page.locator(".llmbook-live-status").inner_text().startswith("Loaded"), page.locator(".tlm-message").inner_text()
                assert page.locator(".tlm-badge").first.inner_text().endswith(" threads")
            finally:
                page.close()
    finally:
        other.shutdown()
        other.server_close()


def test_opened_from_disk_the_page_says_it_runs_on_one_thread(chromium, site):
    page, log = open_page(chromium, (site / PAGE).as_uri())
    try:
        page.wait_for_function(SETTLED, timeout=30_000)
        state = page.evaluate("[crossOriginIsolated, window.llmbookLiveIsolation]")
        assert state == [False, {"isolated": False, "why": "page not cross-origin isolated: opened from disk"}]
        page.wait_for_selector("#llmbook-live[data-host] button")
        assert not log.page_errors, log.page_errors
    finally:
        page.close()
