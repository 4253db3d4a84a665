"""The live TinyLlama page (try/llama.html) in Debian's Chromium, and its page-side math under Node.

The page is built with ``LLMBOOK_ONLY=try/llama`` and served on loopback. A small random Llama
with TinyLlama's vocabulary (32,000) and its config.json (``tests/widget/llama_cases.random_llama``)
runs the chat fast; the parity badge is checked against the full-size bfloat16 stand-in (2.2 GB)
in a ``shipped`` test. The chat template's ids are held to llmbook's ``encode_prompt(chat=True)``
(sentencepiece, markers special, BOS first) and to ``transformers``' ``apply_chat_template``."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from pathlib import Path

import pytest

from tests.browser.harness import open_page, serve

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PAGE = "try/llama.html"
STEPS = ["Input", "Tokenize", "Embed", "Layers", "Logits", "Softmax", "Sample", "Loop", "Done"]
DETAILS = ["rmsnorm", "rope", "gqa", "attention", "swiglu"]
QUESTIONS = ["Name three primary colors.", "Héllo wörld 👋 東京 — what is 2+2?", "Say </s> twice. <s><|user|>", "  two  spaces\tand a tab\n",
             "def add(a, b):\n    return a + b", "ok"]


@pytest.fixture(scope="module")
def small_llama(tmp_path_factory):
    """A random 3-layer Llama (H 4, KV 2, hd 16) with TinyLlama's vocabulary, bfloat16, and its config.json."""
    from tests.widget.llama_cases import random_llama

    return random_llama(tmp_path_factory.mktemp("small-llama") / "model.safetensors")


def _reference_ids(question: str) -> list[int]:
    """[BOS] + the chat template's ids, as llmbook encodes a chat prompt; checked against transformers' own call."""
    from llmbook.lm.specs import get_spec
    from llmbook.lm.tokenizers import encode_prompt, offline_tokenizer

    spec = get_spec("tinyllama")
    tok = offline_tokenizer(spec)
    ids = encode_prompt(spec, tok, question, chat=True)
    hf = tok.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True, tokenize=True)
    hf = hf["input_ids"] if isinstance(hf, dict) or hasattr(hf, "keys") else hf
    assert ids == [tok.bos_token_id, *hf]
    return ids


def _open(chromium, url, init_script=None):
    page, log = open_page(chromium, url, init_script=init_script)
    page.wait_for_selector("#llmbook-llama[data-host] button")
    return page, log


def _message(page) -> str:
    return page.locator("#llmbook-llama .tlm-message[role=status]").inner_text()


def _load(page, *paths: Path):
    page.set_input_files("#llmbook-llama input[type=file]", [str(p) for p in paths])
    page.wait_for_function("!document.getElementById('llmbook-llama').hasAttribute('aria-busy') && "
                           "(document.querySelector('.llmbook-live-status').textContent.startsWith('Loaded') "
                           "|| document.querySelector('#llmbook-llama .tlm-message[role=status]').textContent)", timeout=600_000)


def _ask(page, question=None, length=None):
    if question is not None:
        page.get_by_label("Question", exact=True).fill(question)
    if length is not None:
        page.get_by_label("Longest answer (tokens)").fill(str(length))
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_function("!document.getElementById('llmbook-llama').hasAttribute('aria-busy') && "
                           "(document.querySelector('[data-step=Done]') || document.querySelector('#llmbook-llama .tlm-message[role=status]').textContent)",
                           timeout=600_000)


def test_the_page_side_math_under_node(small_llama):
    """llama-math.js against PyTorch: RoPE's rotation and angles, GQA's groups, SwiGLU, RMSNorm, the chat template."""
    import numpy as np
    import torch

    from llmbook.part1.tokenizer_tables import llama_table
    from llmbook.sphinxext.llama_live import MESSAGE, template_parts

    table = llama_table()
    script = """
      import { readFileSync } from "node:fs";
      const root = process.argv.at(-1), input = JSON.parse(readFileSync(0, "utf8"));
      await import(root + "/_static/tinylm/tokenizers/tokenizers.js");
      const m = await import(root + "/_static/tinylm/live/llama-math.js");
      const tok = globalThis.llmbookTokenizers.llama(input.table);
      const out = { ids: input.questions.map((q) => m.chatIds(input.parts, (t) => tok.encode(t), q, input.marker).ids) };
      const inv = Float32Array.from({ length: 8 }, (_, i) => 1 / 10000 ** (2 * i / 16));
      out.rotated = Array.from(m.rotate(Float32Array.from(input.vec), inv, 37));
      out.angles = Array.from(m.ropeAngles(inv, 37));
      out.groups = m.gqaGroups({ num_attention_heads: 32, num_key_value_heads: 4 });
      out.kv = m.kvBytes({ num_hidden_layers: 22, num_attention_heads: 32, num_key_value_heads: 4, head_dim: 64 });
      const rms = m.rmsView(Float32Array.from(input.vec), 1e-5);
      out.rms = [rms.rms, rms.normedLength];
      out.decoded = m.decodePieces(input.answer, input.table.pieces, { 1: "<s>", 2: "</s>" });
      out.memory = [m.memoryAdvice(2.2e9, 2).ok, m.memoryAdvice(2.2e9, 8).ok, m.memoryAdvice(2.2e9, undefined).ok];
      console.log(JSON.stringify(out));
    """
    from llmbook.lm.specs import get_spec
    from llmbook.lm.tokenizers import offline_tokenizer

    tok = offline_tokenizer(get_spec("tinyllama"))
    answer = tok.encode("Red, 黄色 and 🔵 blue.", add_special_tokens=False) + [2]
    vec = np.random.default_rng(0).standard_normal(16).astype(np.float32)
    data = {"table": {"pieces": table["pieces"], "unk": table["unk"]}, "parts": template_parts(), "marker": MESSAGE,
            "questions": QUESTIONS, "vec": vec.tolist(), "answer": answer}
    done = subprocess.run(["node", "--input-type=module", "-e", script, str(ROOT)], input=json.dumps(data),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["ids"] == [_reference_ids(q) for q in QUESTIONS]
    from transformers.models.llama.modeling_llama import rotate_half

    inv = 1.0 / 10000 ** (torch.arange(0, 16, 2, dtype=torch.float32) / 16)
    angles = torch.cat([inv * 37, inv * 37])
    x = torch.from_numpy(vec)
    want = x * angles.cos() + rotate_half(x[None])[0] * angles.sin()                 # transformers' apply_rotary_pos_emb
    assert np.max(np.abs(np.array(out["rotated"]) - want.numpy())) < 1e-5
    assert np.allclose(out["angles"], (inv * 37).numpy(), atol=1e-5)
    assert out["groups"][1] == list(range(8, 16)) and len(out["groups"]) == 4
    assert out["kv"] == {"perToken": 45056, "withoutGqa": 360448, "saved": 315392, "ratio": 8}
    assert abs(out["rms"][0] - float(np.sqrt(np.mean(vec.astype(np.float64) ** 2) + 1e-5))) < 1e-6
    assert abs(out["rms"][1] - 4.0) < 1e-3                                             # √16: RMS 1 over 16 numbers
    assert out["decoded"] == tok.decode(answer, skip_special_tokens=True)
    assert out["memory"] == [False, True, True]


def test_nothing_is_fetched_on_load_and_a_typed_question_gives_the_chat_templates_ids(chromium, base_url):
    page, log = _open(chromium, f"{base_url}/{PAGE}")
    try:
        page.wait_for_timeout(500)
        assert not [u for u in log.requests if "safetensors" in u or "parity" in u], log.requests
        assert page.get_by_role("button", name="Ask", exact=True).is_disabled()
        assert "2.20 GB" in page.get_by_role("button", name="Download TinyLlama").inner_text()
        assert "memory" in page.locator(".llmbook-llama-memory").inner_text()
        for q in QUESTIONS:
            page.get_by_label("Question", exact=True).fill(q)
            got = [int(i) for i in page.locator("#llmbook-llama").get_attribute("data-ids").split(",")]
            assert got == _reference_ids(q), q
        specials = page.locator("#llmbook-llama .llmbook-llama-template .llmbook-llama-special").all_inner_texts()
        assert specials == ["<s>", "</s>"]
        assert not log.console_errors and not log.page_errors, (log.console_errors, log.page_errors)
        assert not log.external_requests, log.external_requests
    finally:
        page.close()


@pytest.mark.parametrize("engine, badge", [("cpu", "engine: CPU (WebAssembly)"), ("webgpu", "engine: WebGPU")], ids=["cpu", "webgpu"])
def test_a_question_streams_an_answer_and_shows_every_step(chromium, base_url, small_llama, engine, badge):
    page, log = _open(chromium, f"{base_url}/{PAGE}")
    try:
        page.get_by_label("Engine", exact=True).select_option(engine)
        _load(page, small_llama, small_llama.parent / "config.json")
        status = page.locator(".llmbook-live-status").inner_text()
        assert status.startswith("Loaded from your file model.safetensors") and "3 layers, 4 query heads sharing 2 KV heads of 16" in status
        assert page.locator("#llmbook-llama .tlm-badge", has_text="engine:").inner_text() == badge, _message(page)
        assert not _message(page), _message(page)                                   # no fallback, nothing split
        _ask(page, "Héllo 👋 東京: name three primary colors.", length=12)
        assert [s.get_attribute("data-step") for s in page.locator("[data-step]").all()] == STEPS, _message(page)
        assert [d.get_attribute("data-detail") for d in page.locator("[data-detail]").all()] == DETAILS
        loop = page.locator("[data-step=Loop] tbody tr:not(.llmbook-llama-prompt)").count()     # one row per answer token
        done = _message(page)
        assert "Done:" in done and (loop == 12 or "ended its answer with </s>" in done), done
        assert page.locator("[data-step=Loop] .tlm-gen").count() == loop
        assert "768 bytes per token" in page.locator("[data-step=Loop]").inner_text()           # 2 × 3 × 2 × 16 × 4
        steps = [[c.inner_text() for c in r.locator("td").all()] for r in page.locator("[data-step=Loop] tbody tr.llmbook-llama-step").all()]
        assert steps and all(r[5] == "768" for r in steps), steps                              # the cache grows by one token's K, V
        final = page.locator("[data-step=Done]").inner_text()
        said = float(final.split("passes that fed the answer's tokens in took ")[1].split(" ms")[0])
        assert abs(sum(float(r[6]) for r in steps) - said) <= 0.05 * len(steps) + 0.05, (steps, final)   # the rows add up to step 9
        assert page.get_by_label("Temperature").is_disabled()                                    # greedy: the sampling settings are off
        assert len(page.locator("[data-step=Layers] tbody tr").all()) >= 4                     # embeddings + 3 blocks, then the details
        layers = page.locator("[data-step=Layers]").inner_text()
        for check in ("This rotation, recomputed here, equals the engine's: max |Δ| ",
                      "equal the engine's own attention for head 0: max |Δ| ", "recomputed here equals the engine's within "):
            value = float(layers.split(check)[1].split()[0].rstrip("."))
            assert value < 1e-5, (check, value)
        assert "GQA saves 768 bytes per token, 2× less" in layers
        assert "down turns it into the 64 numbers added to the residual stream (length " in layers      # down_proj's own output
        page.get_by_label("Layer", exact=True).select_option("2")
        page.wait_for_function("document.querySelector('[data-detail=rope] h4').textContent.includes('layer 2')", timeout=60_000)
        assert not log.console_errors and not log.page_errors, (log.console_errors, log.page_errors)
        assert not log.external_requests, log.external_requests
    finally:
        page.close()


def test_stop_ends_the_answer_within_one_token(chromium, base_url, small_llama):
    page, log = _open(chromium, f"{base_url}/{PAGE}", init_script=None)
    try:
        assert page.locator("#llmbook-llama").get_attribute("data-host") == "worker"
        _load(page, small_llama, small_llama.parent / "config.json")
        page.get_by_label("Pick", exact=True).select_option("sample")                # sampled: </s> is 1 in 32,000, not a likely end
        page.get_by_label("Longest answer (tokens)").fill("400")
        page.get_by_role("button", name="Ask", exact=True).click()
        page.wait_for_function("document.querySelectorAll('[data-step=Loop] tbody tr').length >= 3", timeout=120_000)
        at_click = page.evaluate("""() => { const b = [...document.querySelectorAll('#llmbook-llama button')].find((x) => x.textContent === 'Stop');
                                            const busy = document.getElementById('llmbook-llama').hasAttribute('aria-busy');
                                            b.click(); return busy ? document.querySelectorAll('[data-step=Loop] tbody tr').length : -1; }""")
        assert at_click >= 3, "the answer ended before Stop"
        page.wait_for_function("!document.getElementById('llmbook-llama').hasAttribute('aria-busy')", timeout=120_000)
        rows = page.locator("[data-step=Loop] tbody tr").count()
        assert at_click <= rows <= at_click + 1 < 400
        assert "Stopped" in _message(page) and page.locator("[data-step=Done]").count() == 1
        assert page.locator(".llmbook-llama-answer").inner_text().strip()
        assert not log.console_errors and not log.page_errors, (log.console_errors, log.page_errors)
    finally:
        page.close()


def test_where_no_worker_starts_the_page_runs_the_engine_and_says_so(chromium, base_url, small_llama):
    page, log = _open(chromium, f"{base_url}/{PAGE}", init_script="window.Worker = function () { throw new Error('blocked here'); };")
    try:
        assert page.locator("#llmbook-llama").get_attribute("data-host") == "page"
        note = page.locator(".llmbook-live-host").inner_text()
        assert "would not start a background worker here (blocked here)" in note and "runs on the page itself" in note
        _load(page, small_llama, small_llama.parent / "config.json")
        _ask(page, "Still works", length=3)
        assert page.locator("[data-step=Done]").count() == 1 and "Done:" in _message(page)
        assert not log.page_errors, log.page_errors
    finally:
        page.close()


def test_switching_engines_keeps_the_weights_and_the_answer(chromium, base_url, small_llama):
    """CPU, then WebGPU, then the CPU again on the weights read once: the same greedy answer each time."""
    page, log = _open(chromium, f"{base_url}/{PAGE}")
    try:
        _load(page, small_llama, small_llama.parent / "config.json")
        loaded = page.locator(".llmbook-live-status").inner_text()
        answers = []
        for engine, badge in (("cpu", "engine: CPU (WebAssembly)"), ("webgpu", "engine: WebGPU"), ("cpu", "engine: CPU (WebAssembly)")):
            if answers:
                page.get_by_label("Engine", exact=True).select_option(engine)
                page.wait_for_function(f"document.querySelector('#llmbook-llama .tlm-badge').textContent === {badge!r} && "
                                       "!document.getElementById('llmbook-llama').hasAttribute('aria-busy')", timeout=120_000)
            assert page.locator(".llmbook-live-status").inner_text() == loaded            # the same weights: not read again
            _ask(page, "Same answer on every engine?", length=6)
            assert "Done:" in _message(page), _message(page)
            answers.append(page.locator(".llmbook-llama-answer").inner_text())
        assert answers[0] == answers[1] == answers[2] and answers[0].strip(), answers
        assert not log.console_errors and not log.page_errors, (log.console_errors, log.page_errors)
    finally:
        page.close()


# GPUDevice.limits as a GPU that binds at most LIMIT bytes per buffer would give them (the page's own host:
# an init script reaches the page, not a worker)
SMALL_GPU = """(() => { window.Worker = function () { throw new Error('blocked here'); };
  const real = Object.getOwnPropertyDescriptor(GPUDevice.prototype, 'limits').get;
  Object.defineProperty(GPUDevice.prototype, 'limits', { get() {
    const l = real.call(this);
    return new Proxy(l, { get: (t, k) => (k === 'maxStorageBufferBindingSize' ? LIMIT : t[k]) });
  } });
})();"""


@pytest.mark.parametrize("limit, engine, words", [
    (2**20, "engine: WebGPU", "This GPU binds at most 1.0 MB per buffer, so 2 tensors are split by rows over several buffers, one dispatch "
                              "each (model.embed_tokens.weight in 4, lm_head.weight in 4); the numbers are the same."),
    (64, "engine: CPU (WebAssembly)", "WebGPU could not run this model (this GPU binds at most 64 bytes per buffer; one row of "
                                      "model.layers.0.self_attn.q_proj.weight needs 128): the CPU engine runs it instead.")],
    ids=["split", "fallback"])
def test_a_gpu_binding_too_little_splits_or_falls_back_and_says_which(chromium, base_url, small_llama, limit, engine, words):
    """The small Llama's embed_tokens and lm_head are 32,000 × 64 bfloat16 (4.1 MB): a 1 MiB binding splits them into
    4 buffers each; 64 bytes hold no row of a 64-wide matrix, so WebGPU gives way to the CPU engine."""
    page, log = _open(chromium, f"{base_url}/{PAGE}", init_script=SMALL_GPU.replace("LIMIT", str(limit)))
    try:
        assert page.locator("#llmbook-llama").get_attribute("data-host") == "page"
        page.get_by_label("Engine", exact=True).select_option("webgpu")
        _load(page, small_llama, small_llama.parent / "config.json")
        assert page.locator("#llmbook-llama .tlm-badge", has_text="engine:").inner_text() == engine
        assert _message(page) == words
        _ask(page, "Split or not, the same answer?", length=3)
        assert page.locator("[data-step=Done]").count() == 1 and "Done:" in _message(page)
        assert not log.page_errors, log.page_errors
    finally:
        page.close()


def test_opened_from_disk_the_engine_still_runs_in_a_worker(chromium, site, small_llama):
    """file://: the worker starts from the bundle's own text (a blob: URL); nothing is fetched."""
    page, log = _open(chromium, (site / PAGE).resolve().as_uri())
    try:
        assert page.locator("#llmbook-llama").get_attribute("data-host") == "worker"
        _load(page, small_llama, small_llama.parent / "config.json")
        _ask(page, "From disk", length=2)
        assert page.locator("[data-step=Done]").count() == 1 and "Done:" in _message(page)
        assert not log.page_errors, log.page_errors
    finally:
        page.close()


def test_wrong_files_are_named_and_the_page_keeps_working(chromium, base_url, small_llama, tmp_path):
    from llmbook.testing.hub import write_checkpoint
    from tests.conftest import SMALL

    html = tmp_path / "html" / "model.safetensors"
    html.parent.mkdir()
    html.write_bytes(b"<!doctype html><title>Not found</title>" + b" " * 64)
    gpt2 = write_checkpoint("distilgpt2", tmp_path / "model.safetensors", config_overrides=SMALL["distilgpt2"])
    cut = tmp_path / "cut" / "model.safetensors"
    cut.parent.mkdir()
    cut.write_bytes(small_llama.read_bytes()[: small_llama.stat().st_size // 2])
    page, log = _open(chromium, f"{base_url}/{PAGE}")
    try:
        for files, words in (([html], "not a safetensors file"), ([gpt2], "GPT-2"), ([cut, small_llama.parent / "config.json"], "cut short"),
                             ([small_llama], "hidden_size")):                     # TinyLlama's config against a small file: wrong shape
            _load(page, *files)
            assert words in _message(page), (files, _message(page))
            assert page.get_by_role("button", name="Ask", exact=True).is_disabled()
            assert page.locator(".llmbook-live-status").inner_text().startswith("No weights loaded")
        _load(page, small_llama, small_llama.parent / "config.json")
        _ask(page, "   ")
        assert "Type a question first" in _message(page)
        _ask(page, "<img src=x onerror=alert(1)>", length=2)                      # text, never markup
        assert page.locator("#llmbook-llama img").count() == 0
        assert "<img" in page.locator("[data-step=Input] pre").inner_text()
        assert not log.page_errors, log.page_errors
    finally:
        page.close()


class _CutHandler(http.server.BaseHTTPRequestHandler):
    """Sends the first `keep` bytes of `body`, says it is all of it, and hangs up."""

    body, keep = b"", 0

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(self.body[: self.keep])
        self.wfile.flush()
        self.connection.close()

    def log_message(self, *args):
        pass


def test_download_progress_saved_copy_forget_and_a_cut_download(chromium, site, small_llama):
    _CutHandler.body, _CutHandler.keep = small_llama.read_bytes(), 3_000_000
    cut = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutHandler)
    threading.Thread(target=cut.serve_forever, daemon=True).start()
    try:
        with serve(site, extra={"/_weights": small_llama.parent}) as url:
            query = f"weights={url}/_weights/model.safetensors&config={url}/_weights/config.json"
            page, log = _open(chromium, f"{url}/{PAGE}?{query}")
            page.get_by_role("button", name="Download TinyLlama (2.20 GB from 127.0.0.1").click()
            page.wait_for_function("document.querySelector('.llmbook-live-status').textContent.startsWith('Loaded')", timeout=120_000)
            assert "8.5 MB of 8.5 MB downloaded · " in page.locator(".llmbook-live-progress").inner_text()    # bytes · rate · time left
            assert " s left" in page.locator(".llmbook-live-progress").inner_text()
            page.wait_for_function("!document.querySelector('#llmbook-llama button:nth-of-type(1)').disabled")
            assert page.evaluate("caches.open('llmbook-weights-v1').then(c => c.match(new URLSearchParams(location.search).get('weights'))).then(r => !!r)")
            page.close()
            page, log = _open(chromium, f"{url}/{PAGE}?{query}")
            page.wait_for_function("document.querySelector('#llmbook-llama button').textContent.includes('saved in this browser')")
            before = len([u for u in log.requests if "safetensors" in u])
            page.locator("#llmbook-llama button").first.click()
            page.wait_for_function("document.querySelector('.llmbook-live-status').textContent.startsWith('Loaded')", timeout=120_000)
            assert "saved copy" in page.locator(".llmbook-live-status").inner_text()
            assert len([u for u in log.requests if "safetensors" in u]) == before
            page.get_by_role("button", name="Forget the saved copy").click()
            page.wait_for_function("document.querySelector('#llmbook-llama .tlm-message[role=status]').textContent.includes('is gone')")
            page.close()
            target = f"http://127.0.0.1:{cut.server_address[1]}/model.safetensors"
            page, log = _open(chromium, f"{url}/{PAGE}?weights={target}&config={url}/_weights/config.json")
            page.locator("#llmbook-llama button").first.click()
            page.wait_for_function("document.querySelector('#llmbook-llama .tlm-message[role=status]').textContent", timeout=60_000)
            assert "the download stopped after" in _message(page) or "cut short" in _message(page), _message(page)
            assert page.get_by_role("button", name="Ask", exact=True).is_disabled()
            assert not page.evaluate(f"caches.open('llmbook-weights-v1').then(c => c.match('{target}')).then(r => !!r)")
            assert not [u for u in log.external_requests], log.external_requests
            page.close()
    finally:
        cut.shutdown()


@pytest.mark.shipped
@pytest.mark.parametrize("engine", ["cpu", "webgpu"])
def test_the_parity_badge_with_the_full_size_standin(chromium, base_url, tinyllama_file, engine):
    """The stand-in as the hub serves it (bfloat16, 2.2 GB) from disk, on each engine: the badge ≤ 1e-3 against the
    build's reference (a stand-in build's reference is computed from the same bfloat16 values: llmbook.sphinxext.llama_live).
    WebGPU (SwiftShader here) holds embed_tokens and lm_head (125 MiB each) in one binding each where the device allows it."""
    from tests.conftest import SUMMARY

    path = tinyllama_file                            # the run's shared stand-in (tests/conftest.py)
    page, log = _open(chromium, f"{base_url}/{PAGE}")
    try:
        page.get_by_label("Engine", exact=True).select_option(engine)
        with _PeakRSS() as rss:
            _load(page, path)
        assert page.locator(".llmbook-live-status").inner_text().startswith("Loaded"), _message(page)
        badge = page.locator("#llmbook-llama .tlm-badge", has_text="engine:").inner_text()
        assert badge == {"cpu": "engine: CPU (WebAssembly)", "webgpu": "engine: WebGPU"}[engine], _message(page)
        assert not _message(page), _message(page)          # no fallback; WebGPU split nothing (125 MiB tensors, one binding each)
        size, wasm = path.stat().st_size, page.evaluate("window.llmbookLlamaPage.state.model.memoryBytes")
        grew, gpu = rss.grew["renderer"] / size, rss.grew["gpu"] / size
        SUMMARY.append(f"try/llama loading the {size / 1e9:.2f} GB stand-in from disk ({engine}): the page's renderer grew by {grew:.2f}× "
                       f"the file ({rss.grew['renderer'] / 1e9:.2f} GB; resident size peaked at {rss.peak['renderer'] / 1e9:.2f} GB)"
                       + (f", the engine's WebAssembly memory is {wasm / size:.2f}× the file" if wasm else "")
                       + (f"; the GPU process (SwiftShader: WebGPU's buffers in RAM) grew by {gpu:.2f}×" if engine == "webgpu" else ""))
        # the bound: 1.3× the file. The file is read into one reused 4 MiB buffer (read-stream.js chunkReader), so
        # no spent chunks wait for the garbage collector: measured 1.01× (the default reader's chunks gave 1.18-1.35×)
        assert grew <= 1.3, grew
        assert rss.grew["other"] < 0.3 * size, rss.grew                  # the browser process never holds the weights
        page.get_by_role("button", name="Check against PyTorch").click()
        page.wait_for_function("document.body.innerText.includes('parity: max')", timeout=900_000)
        badge = page.locator("#llmbook-llama .tlm-badge", has_text="parity:").inner_text()
        assert "over 32,000 logits" in badge, (badge, _message(page))
        delta = float(badge.split("|Δ| ")[1].split()[0])
        SUMMARY.append(f"try/llama parity badge, full-size bfloat16 stand-in, {engine}: max |Δ| {delta:.1e} over 32,000 logits")
        assert delta <= 1e-3, _message(page)
        assert page.locator("#llmbook-llama .tlm-badge.tlm-ok").count() == 1
        assert not log.console_errors and not log.page_errors, (log.console_errors, log.page_errors)
    finally:
        page.close()                    # the file is the run's shared stand-in: the other full-size tests read it too


class _PeakRSS:
    """How far the resident size of each kind of Chromium process under this one rose above its own size at entry
    (a process started meanwhile counts from 0), sampled every 50 ms: .grew and .peak ({"renderer" (the page and
    its workers), "gpu" (WebGPU's buffers: RAM under SwiftShader, a graphics card's memory elsewhere), "other"}: bytes)."""

    def __enter__(self):
        self.start = {pid: rss for pid, _, rss in self._sizes()}
        self.grew = {"renderer": 0, "gpu": 0, "other": 0}
        self.peak = dict(self.grew)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _sizes(self):
        import psutil

        for p in psutil.Process().children(recursive=True):
            try:
                if "chrom" in p.name().lower():
                    line = " ".join(p.cmdline())
                    kind = "renderer" if "--type=renderer" in line else "gpu" if "--type=gpu-process" in line else "other"
                    yield p.pid, kind, p.memory_info().rss
            except psutil.Error:
                pass

    def _sample(self):
        for pid, kind, rss in self._sizes():
            if rss - self.start.get(pid, 0) > self.grew[kind]:
                self.grew[kind], self.peak[kind] = rss - self.start.get(pid, 0), rss

    def _watch(self):
        while not self._done.wait(0.05):
            self._sample()

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self._sample()


def test_the_page_without_weights_is_under_1_mb(site):
    from llmbook.sphinxext.assets import PAGE_SCRIPTS

    scripts = next(s for markers, s, _ in PAGE_SCRIPTS if 'id="llmbook-llama"' in markers)
    files = [site / PAGE] + [site / "_static" / s for s in scripts]
    total = sum(f.stat().st_size for f in files)
    assert total < 1_000_000, {f.name: f.stat().st_size for f in files}
    assert (site / "_static/tinylm/llama-parity.js").stat().st_size < 250_000      # loaded only on "Check against PyTorch"
