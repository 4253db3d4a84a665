"""The in-page GPT-2 engine in Chromium, both backends, against ``llmbook.capture``.

The weights are the book's seeded stand-in distilgpt2 written as the hub serves it (float32
``model.safetensors``, 353 MB, the checkpoint's own names and buffers), served on loopback.
Prompts: plain English, emoji, CJK, 200 tokens and one token (on WebGPU, SwiftShader, a shipped
check: `make test` runs the CPU engine's). Logits (full pass and KV
cache), the last position's residual stream, attention rows and logit-lens tops are
compared with what llmbook captures from PyTorch on the same weights. A small checkpoint
whose biases and LayerNorms are random covers the terms the stand-in leaves at 0 and 1.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.browser.harness import serve
from tests.widget.gpt2_cases import BOUND, assert_gpt2_parity, case_file, load_reference_model, random_checkpoint, reference
from tests.widget.node import ROOT

PROMPTS = {
    "plain": "The quick brown fox jumps over the lazy dog because",
    "emoji": "Weather today: ☀️🌧️ then 🌈, said the 🤖",
    "cjk": "東京は日本の首都です。北京是中国的首都。",
    "long": " ".join(["January, February, March, April, May, June, July, August,"] * 14),
    "one": "Hello",
}
ATTENTION_LAYERS = [0, 5]


@pytest.fixture(scope="module")
def standin(distilgpt2_file, tmp_path_factory):
    """(folder served, the checkpoint, the book's stand-in and its traces, prompts as ids). The traces come
    through llmbook's trace cache: the book build's (``LLMBOOK_CACHE`` as the run began, as .ci/run sets it),
    so the shipped phase reads what `make test` captured; else a cache of this run's own."""
    from llmbook.lm.specs import get_spec
    from llmbook.lm.store import get_trace
    from llmbook.lm.tokenizers import offline_tokenizer
    from tests.conftest import BUILD_CACHE

    folder, weights = distilgpt2_file.parent, distilgpt2_file
    tok = offline_tokenizer(get_spec("distilgpt2"))             # the stand-in's (real) tokenizer; a cached trace loads no model
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLMBOOK_CACHE", BUILD_CACHE or str(tmp_path_factory.mktemp("gpt2-traces")))
        prompts = dict(PROMPTS, long=tok.decode(tok.encode(PROMPTS["long"])[:200]))   # its first 200 tokens' text
        traces = {k: get_trace("distilgpt2", p, weights="standin") for k, p in prompts.items()}
        ids = {k: t.token_ids for k, t in traces.items()}
        assert ids["long"] == tok.encode(PROMPTS["long"])[:200] and len(ids["one"]) == 1   # the cut text re-encodes to its 200 ids
    return folder, weights, traces, ids


def _run(chromium, folder, case, weights, backend):
    page = chromium.new_page()
    try:
        with serve(ROOT, extra={"/_weights": folder}) as url:
            page.goto(f"{url}/tests/widget/gpt2-parity.html?case=/_weights/{case.name}&weights=/_weights/{weights.name}&backend={backend}")
            page.wait_for_function("window.result !== undefined", timeout=600_000)
            return page.evaluate("window.result")
    finally:
        page.close()


def _check_parity(chromium, standin, backend, long_tokens, chunk, names=tuple(PROMPTS)):
    """The prompts ``names`` through the page engine (the long one cut to its first long_tokens:
    causal, so its reference is the 200-token trace's first rows) against llmbook.capture."""
    folder, weights, traces, ids = standin
    names = list(names)
    prompts = [ids[k][:long_tokens] if k == "long" else ids[k] for k in names]
    case = case_file(folder, prompts, chunk=chunk, attention_layers=ATTENTION_LAYERS)
    got = _run(chromium, folder, case, weights, backend)
    assert "error" not in got, got.get("error")
    assert got["backend"] == backend, got["fallback"]
    worst = {}
    for name, g in zip(names, got["prompts"]):
        t, last = traces[name], g["T"] - 1
        logits, residual, attn = t.arrays["logits"], t.arrays["residual"], t.arrays["attn"]
        delta = {"logits_last": np.abs(np.float32(g["logits_last"]) - logits[last]).max(),
                 "logits_first": np.abs(np.float32(g["logits_first"]) - logits[0]).max(),
                 "KV cache": np.abs(np.float32(g["cached_last"]) - logits[last]).max(),
                 "residual": np.abs(np.float32(g["residual_last"]) - residual[:, last]).max()}
        for layer in ATTENTION_LAYERS:
            delta[f"attention {layer}"] = np.abs(np.float32(g["attention_last"][layer]) - attn[layer, :, last, :last + 1]).max()
        for what, dx in delta.items():
            assert dx <= BOUND, (name, what, dx)
        assert g["lens_top"] == t.arrays["lens_top_ids"][:, last, 0].tolist(), name
        worst[name] = max(delta.values())
    print(f"\n{backend}: " + ", ".join(f"{n} {g['T']} tokens {g['ms']:.0f} ms max|Δ| {worst[n]:.1e}" for n, g in zip(names, got["prompts"])))


@pytest.mark.slow
def test_the_cpu_engine_matches_llmbook_capture(chromium, standin):
    _check_parity(chromium, standin, "cpu", 200, chunk=64)


@pytest.mark.shipped
def test_the_webgpu_engine_matches_llmbook_capture(chromium, standin):
    """Every prompt on WebGPU (SwiftShader: a minute of both cores, so a shipped check; `make test`
    checks WebGPU through the live page's parity badge and the biases and LayerNorms case below)."""
    _check_parity(chromium, standin, "webgpu", 200, chunk=64)


@pytest.mark.slow
def test_webgpu_biases_and_layernorms_match_transformers(chromium, tmp_path):
    weights = random_checkpoint(tmp_path / "model.safetensors")
    prompts = [[464, 2068, 7586, 21831, 18045, 625, 262], [50256]]
    got = _run(chromium, tmp_path, case_file(tmp_path, prompts), weights, "webgpu")
    assert got["backend"] == "webgpu", got.get("fallback") or got.get("error")
    assert_gpt2_parity(got, reference(load_reference_model(weights), prompts, [1]))
