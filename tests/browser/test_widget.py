"""The in-page transformer (try/widget.html) in Debian's Chromium, on WebGPU (SwiftShader)
and on the plain-JS engine: parity badge, training, generation, ablation, weights
in and out, and the failure paths (no WebGPU, lost device, NaN loss, bad files)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from llmbook.tiny.model import TinyTransformer
from tests.browser.harness import open_page

pytestmark = pytest.mark.slow
PAGE = "try/widget.html"
NO_WEBGPU = "Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });"


def _open(chromium, base_url, init_script=None):
    page, log = open_page(chromium, f"{base_url}/{PAGE}", init_script=init_script)
    page.wait_for_function("window.llmbookWidget && window.llmbookWidget.parity", timeout=180_000)
    return page, log


def _widget(page, expr):
    return page.evaluate(f"(() => {{ const w = window.llmbookWidget; return {expr}; }})()")


def _train(page, steps, batch="4", lr=None):
    page.get_by_label("Batch (windows of 64 tokens)").select_option(batch)
    page.get_by_label("Steps to run").fill(str(steps))
    if lr is not None:
        page.get_by_label("Learning rate").fill(str(lr))
    start = _widget(page, "w.model.steps")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function(f"!window.llmbookWidget.running && window.llmbookWidget.model.steps >= {start}"
                           f" && (window.llmbookWidget.model.steps >= {start + steps} || window.llmbookWidget.message.textContent)",
                           timeout=300_000)


def test_webgpu_training_generation_and_ablation(chromium, base_url):
    page, log = _open(chromium, base_url)
    try:
        parity = _widget(page, "w.parity")
        assert parity["backend"] == "webgpu" and parity["ok"] and parity["max"] <= 1e-4, parity
        assert "✓" in page.locator(".tlm-badge.tlm-ok").inner_text()
        assert "WebGPU" in page.locator(".tlm-badge").first.inner_text()
        heat_before = page.evaluate("document.querySelector('.tlm-heatmaps canvas').toDataURL()")
        _train(page, 3)
        hist = _widget(page, "w.history")
        assert hist["steps"] == [1, 2, 3] and all(np.isfinite(hist["loss"])) and len(hist["evalLoss"]) == 1
        stats = page.locator(".tlm-stats").inner_text()
        assert "tokens/s" in stats and f"{hist['loss'][-1]:.3f}" in stats
        assert page.evaluate("document.querySelector('.tlm-heatmaps canvas').toDataURL()") != heat_before
        assert "train loss" in page.locator("canvas.tlm-loss").get_attribute("aria-label")

        page.get_by_label("Prompt").fill("ROMEO:\n")
        page.get_by_label("Choice").select_option("greedy")
        prompt_tokens = page.locator(".tlm-tokens .tok").count()
        page.get_by_role("button", name="Next token").click()
        page.get_by_role("button", name="Next token").click()
        assert page.locator(".tlm-tokens .tok").count() == prompt_tokens + 2
        assert page.locator(".tlm-tokens .tok.tlm-gen").count() == 2
        assert f"KV cache: {prompt_tokens + 2} / 64 positions" in page.locator(".tlm-cache").inner_text()
        assert page.locator(".tlm-att-row").count() == 8                      # 2 layers × 4 heads
        assert page.locator(".tlm-att-row").first.locator(".tlm-att").count() == prompt_tokens + 2
        before = page.locator(".tlm-candidates").inner_text()
        page.get_by_role("checkbox", name="L1 H0").uncheck()
        page.get_by_role("checkbox", name="L0 H2").uncheck()
        after = page.locator(".tlm-candidates").inner_text()
        assert after != before and "all heads:" in after
        # greedy makes the bar 100%; beside it, the model's own probability of that token
        top = page.evaluate("(() => { const l = window.llmbookWidget.last.logits, m = Math.max(...l);"
                            " let s = 0; for (const x of l) s += Math.exp(x - m); return 100 / s; })()")
        assert f"model {top:.1f}%, all heads:" in page.locator(".tlm-cand").first.inner_text()
        assert page.locator(".tlm-att-row", has_text="L1 H0 (off)").count() == 1
        assert not log.console_errors and not log.page_errors and not log.external_requests, log
    finally:
        page.close()


def test_downloaded_weights_load_in_python_with_the_same_logits(chromium, base_url, tmp_path):
    page, _ = _open(chromium, base_url)
    try:
        _train(page, 2)
        with page.expect_download() as dl:
            page.get_by_role("button", name="Download weights (.json)").click()
        path = tmp_path / dl.value.suggested_filename
        dl.value.save_as(path)
        assert path.name == "tinylm-step2.json"
        ids = [82, 79, 77, 69, 79, 58, 10]
        js = np.array(page.evaluate(f"(async () => Array.from(await window.llmbookWidget.model.forward({ids})))()"))
        model = TinyTransformer.from_json(path)
        with torch.no_grad():
            py = model.forward(ids).numpy().reshape(-1)
        assert np.abs(js - py).max() <= 1e-4
        assert model.merges and len(model.merges) == 512
    finally:
        page.close()


def test_uploads_python_weights_and_refuses_bad_files(chromium, base_url, tmp_path):
    page, _ = _open(chromium, base_url)
    try:
        upload = page.get_by_label("Load a weights file")
        params_before = _widget(page, "Array.from(w.model.params.slice(0, 8))")
        bad = {"notjson.json": "{ nope", "format.json": json.dumps({"format": "other/1"}),
               "shape.json": None, "nan.json": None}
        current = TinyTransformer.from_json(page.evaluate("JSON.stringify(window.llmbookWidget.model)"))
        good = current.to_json(merges=current.merges)
        shape = json.loads(json.dumps(good))
        shape["tensors"]["pos_emb"]["shape"] = [32, 64]
        bad["shape.json"] = json.dumps(shape)
        nan = json.loads(json.dumps(good))
        nan["tensors"]["ln_f.bias"]["data"][3] = "NaN"
        bad["nan.json"] = json.dumps(nan)
        reasons = {"notjson.json": "not JSON", "format.json": "not an llmbook-tiny/1 weights file",
                   "shape.json": "tensor pos_emb: shape [32,64]", "nan.json": "tensor ln_f.bias: value 3 is not a number"}
        for name, text in bad.items():
            (tmp_path / name).write_text(text)
            upload.set_input_files(str(tmp_path / name))
            page.wait_for_function("(n) => document.querySelector('.tlm-message').textContent.includes('Could not load ' + n)",
                                   arg=name)
            message = page.locator(".tlm-message").inner_text()
            assert name in message and reasons[name] in message and "unchanged" in message, message
            assert _widget(page, "Array.from(w.model.params.slice(0, 8))") == params_before
        # a model saved in Python loads and runs
        python_model = TinyTransformer(TinyTransformer.from_json(good).config, seed=5)
        python_model.save(tmp_path / "python.json", merges=good["merges"])
        upload.set_input_files(str(tmp_path / "python.json"))
        page.wait_for_function("document.querySelector('.tlm-message').textContent.includes('Loaded python.json')")
        ids = [72, 101, 108, 108, 111]
        js = np.array(page.evaluate(f"(async () => Array.from(await window.llmbookWidget.model.forward({ids})))()"))
        with torch.no_grad():
            assert np.abs(js - python_model.forward(ids).numpy().reshape(-1)).max() <= 1e-4
        assert "uploaded file python.json" in page.locator(".tlm-badge").nth(2).inner_text()
    finally:
        page.close()


def test_a_slow_earlier_upload_never_overrides_a_later_one(chromium, base_url):
    """Two files picked in quick succession: the first reads slowly, the second is the one kept."""
    page, _ = _open(chromium, base_url)
    try:
        message, source, bias0 = page.evaluate("""async () => {
            const w = window.llmbookWidget, good = JSON.stringify(w.model);
            const later = JSON.parse(good); later.tensors["ln_f.bias"].data[0] = 0.25;
            const slow = { name: "first.json", size: good.length,
                           text: () => new Promise((r) => setTimeout(() => r(good), 300)) };
            const fast = { name: "second.json", size: 10, text: async () => JSON.stringify(later) };
            await Promise.all([w.upload(slow), w.upload(fast)]);
            return [w.message.textContent, w.source, w.model.tensors()["ln_f.bias"][0]];
        }""")
        assert "Loaded second.json" in message and "first.json" not in message, message
        assert source == "uploaded file second.json" and bias0 == 0.25
    finally:
        page.close()


def test_an_oversized_file_is_refused_before_it_is_read(chromium, base_url):
    page, _ = _open(chromium, base_url)
    try:
        message, read, same = page.evaluate("""async () => {
            const w = window.llmbookWidget, before = JSON.stringify(w.model);
            let read = false;
            await w.upload({ name: "huge.json", size: 3e8, text: async () => { read = true; return before; } });
            return [w.message.textContent, read, JSON.stringify(w.model) === before];
        }""")
        assert "huge.json is 300 MB; the limit is 200 MB" in message and "unchanged" in message, message
        assert not read and same
    finally:
        page.close()


def test_without_webgpu_the_cpu_engine_runs_and_says_why(chromium, base_url):
    page, log = _open(chromium, base_url, NO_WEBGPU)
    try:
        assert _widget(page, "w.model.backend") == "cpu"
        assert "WebGPU is not available here" in page.locator(".tlm-message").inner_text()
        assert "CPU, one thread (JavaScript + WebAssembly SIMD)" in page.locator(".tlm-badge").first.inner_text()
        parity = _widget(page, "w.parity")
        assert parity["backend"] == "cpu" and parity["max"] <= 1e-4
        _train(page, 2)
        assert _widget(page, "w.model.steps") == 2
        assert not log.page_errors
    finally:
        page.close()


def test_a_lost_device_falls_back_to_the_cpu_keeping_the_weights(chromium, base_url):
    page, _ = _open(chromium, base_url)
    try:
        _train(page, 1)
        page.get_by_label("Steps to run").fill("3")
        page.get_by_role("button", name="Start training").click()
        page.evaluate("window.llmbookWidget.model.engine.device.destroy()")
        page.wait_for_function("!window.llmbookWidget.running", timeout=300_000)
        message = page.locator(".tlm-message").inner_text()
        assert "WebGPU failed during training" in message and "CPU engine" in message, message
        assert _widget(page, "w.model.backend") == "cpu"
        assert _widget(page, "w.model.steps") == 4                          # 1 + 3: no step lost
        assert all(np.isfinite(_widget(page, "w.history.loss")))
    finally:
        page.close()


def test_nan_loss_stops_and_offers_the_last_good_weights(chromium, base_url):
    page, _ = _open(chromium, base_url, NO_WEBGPU)          # the CPU engine keeps this test quick
    try:
        _train(page, 20, lr=10000)
        message = page.locator(".tlm-message").inner_text()
        assert "Stopped: the loss became NaN" in message, message
        restore = page.get_by_role("button", name="Restore the last good weights")
        assert restore.is_visible()
        restore.click()
        page.wait_for_function("document.querySelector('.tlm-message').textContent.startsWith('Restored')")
        assert "optimizer state restarts" in page.locator(".tlm-message").inner_text()
        assert np.isfinite(_widget(page, "Array.from(w.model.params)")).all()
    finally:
        page.close()


def test_prompts_hidden_tab_and_keyboard(chromium, base_url):
    page, _ = _open(chromium, base_url, NO_WEBGPU)
    try:
        prompt = page.get_by_label("Prompt")
        prompt.fill("")
        prompt.dispatch_event("change")
        assert "Type a prompt first" in page.locator(".tlm-message").inner_text()
        prompt.fill("To be, or not to be " * 300)
        prompt.dispatch_event("change")
        assert "the model sees only its last 64" in page.locator(".tlm-cache").inner_text()
        assert page.locator(".tlm-tokens .tok").count() == 64
        page.get_by_role("button", name="Generate 40 tokens").click()
        assert "cache was refilled" in page.locator(".tlm-cache").inner_text()
        prompt.fill("東京で🍣を食べた <b>bold</b>")
        prompt.dispatch_event("change")
        assert page.locator(".tlm-tokens b").count() == 0                  # text, never markup
        page.get_by_role("button", name="Next token").click()
        assert page.locator(".tlm-tokens .tok.tlm-gen").count() == 1
        # keyboard: focus Start, press Enter, then hide the tab: training pauses with a note
        page.get_by_label("Steps to run").fill("1000")
        page.get_by_role("button", name="Start training").focus()
        page.keyboard.press("Enter")
        page.wait_for_function("window.llmbookWidget.model.steps >= 1")
        page.evaluate("Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });"
                      "document.dispatchEvent(new Event('visibilitychange'))")
        page.wait_for_function("!window.llmbookWidget.running")
        assert "Paused: the tab was hidden" in page.locator(".tlm-message").inner_text()
        assert _widget(page, "w.model.steps") < 1000
    finally:
        page.close()
