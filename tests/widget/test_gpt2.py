"""The in-page GPT-2 engine (``_static/tinylm/engines/gpt2.js``) under Node: the CPU backend against
transformers on a checkpoint whose every tensor is random, and clear refusals of wrong files.

The WebGPU backend, and the full-size stand-in distilgpt2 against ``llmbook.capture``, run
in Chromium: tests/browser/test_gpt2_engine.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.widget.gpt2_cases import SMALL, assert_gpt2_parity, case_file, load_reference_model, random_checkpoint, reference
from tests.widget.node import ROOT, node

CHECK = (ROOT / "tests" / "widget" / "gpt2-check.mjs").as_uri()
PROMPTS = [[464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13], [50256], list(range(100, 137))]


def _run(weights, case, backend="cpu"):
    return node(f"""
        const fs = await import("node:fs");
        const {{ runGPT2Case }} = await import({json.dumps(CHECK)});
        const b = fs.readFileSync({json.dumps(str(weights))});
        result = await runGPT2Case(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength),
                                   JSON.parse(fs.readFileSync({json.dumps(str(case))}, "utf8")), {json.dumps(backend)});""")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpt2")
    return random_checkpoint(folder / "model.safetensors")


def test_cpu_engine_matches_transformers(small, tmp_path):
    """Full pass, KV-cached pass (3 tokens at a time), residual rows, attention rows: ≤ 1e-4."""
    got = _run(small, case_file(tmp_path, PROMPTS))
    assert got["backend"] == "cpu"
    assert got["config"] == {"vocab_size": 50257, "n_positions": 1024, "n_embd": 128, "n_layer": 2, "n_head": 2}
    assert_gpt2_parity(got, reference(load_reference_model(small), PROMPTS, [1]))
    assert got["prompts"][0]["cache_bytes"] == 2 * 2 * 10 * 128 * 4


def test_bfloat16_and_float16_files_are_widened_exactly(tmp_path):
    """The hub also serves half-precision files: read as the same values torch widens to float32."""
    for dtype in (torch.bfloat16, torch.float16):
        path = random_checkpoint(tmp_path / f"{dtype}.safetensors", dtype=dtype)
        ref = load_reference_model(path)
        got = _run(path, case_file(tmp_path, PROMPTS[:1]))
        assert_gpt2_parity(got, reference(ref, PROMPTS[:1], [1]))


def _expect_error(bytes_path, message, tmp_path, prompts=PROMPTS[:1]):
    got = node(f"""
        const fs = await import("node:fs");
        const {{ parseSafetensors, createGPT2 }} = await import(tinylm + "/engines/gpt2.js");
        const b = fs.readFileSync({json.dumps(str(bytes_path))});
        try {{
          const m = await createGPT2(parseSafetensors(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), {{ backend: "cpu" }});
          for (const ids of {json.dumps(prompts)}) await m.forward(ids);
          result = {{ ok: true }};
        }} catch (err) {{ result = {{ name: err.constructor.name, message: err.message }}; }}""")
    assert message in got.get("message", ""), got
    return got


def test_what_is_not_a_gpt2_safetensors_is_refused_by_name(small, tmp_path):
    (tmp_path / "html.safetensors").write_bytes(b"<!doctype html><title>404</title>")
    assert _expect_error(tmp_path / "html.safetensors", "not a safetensors file", tmp_path)["name"] == "SafetensorsError"
    data = small.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    _expect_error(tmp_path / "cut.safetensors", "a download cut short?", tmp_path)
    from safetensors.torch import save_file
    save_file({"model.embed_tokens.weight": torch.zeros(8, 4)}, str(tmp_path / "llama.safetensors"))
    assert _expect_error(tmp_path / "llama.safetensors", "not a GPT-2 checkpoint", tmp_path)["name"] == "CheckpointError"
    other = {k: v for k, v in __import__("safetensors.torch", fromlist=["load_file"]).load_file(str(small)).items()}
    other["h.0.mlp.c_fc.weight"] = torch.zeros(128, 100)
    save_file(other, str(tmp_path / "shape.safetensors"))
    _expect_error(tmp_path / "shape.safetensors", "tensor h.0.mlp.c_fc.weight has shape [128,100]", tmp_path)


@pytest.mark.parametrize("prompts, message", [
    ([[]], "the prompt is empty"),
    ([[50257]], "outside the vocabulary"),
    ([list(range(1025))], "pass the context of 1024 positions"),
])
def test_bad_ids_are_refused_with_the_reason(small, tmp_path, prompts, message):
    assert _expect_error(small, message, tmp_path, prompts)["name"] == "RangeError"


def _engines(weights, body):
    """Run ``body`` with ``wasm`` (the WebAssembly engine) and ``js`` (GPT2JS) made from one file."""
    return node(f"""
        const fs = await import("node:fs");
        const {{ setKernel }} = await import(tinylm + "/engines/linalg.js");
        const {{ parseSafetensors, createGPT2 }} = await import(tinylm + "/engines/gpt2.js");
        const b = fs.readFileSync({json.dumps(str(weights))});
        const tensors = parseSafetensors(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
        setKernel("js"); const js = await createGPT2(tensors, {{ backend: "cpu" }});
        setKernel("wasm"); const wasm = await createGPT2(tensors, {{ backend: "cpu" }});
        const worst = (a, b) => {{
          if (a.length !== b.length) return Infinity;
          let w = 0; for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i])); return w;
        }};
        {body}""", timeout=300)


def test_the_padded_attention_equals_the_plain_one(small):
    """Prompts of 1–9 tokens (rows padded to a multiple of 4): the WebAssembly engine vs GPT2JS
    with its JavaScript kernels and with linalg.js's copying WebAssembly ones."""
    got = _engines(small, """
        result = { kernels: [wasm.kernel, js.kernel], worst: [] };
        for (let T = 1; T <= 9; T++) {
          const ids = Array.from({ length: T }, (_, i) => 100 + 7 * i), a = await wasm.forward(ids);
          setKernel("js"); const j = await js.forward(ids);
          setKernel("wasm"); const c = await js.forward(ids);
          result.worst.push(Math.max(worst(a.logits, j.logits), worst(a.logits, c.logits)));
        }""")
    assert got["kernels"] == ["wasm", "js"]
    assert max(got["worst"]) <= 1e-4, got


def test_the_webassembly_engine_equals_the_javascript_one_everywhere(small):
    """Everything forward returns (residual, qkv, attention, lnf, logits of all rows or the last),
    through KV caches fed 1, 3 or 5 tokens at a time, two caches taking turns (the memory holds
    one: the other is copied back in), and the logit lens."""
    got = _engines(small, """
        setKernel("js");
        const ids = Array.from({ length: 23 }, (_, i) => (i * 7919) % 50257), d = wasm.config.n_embd;
        const all = (o) => [o.logits, o.lnf, ...o.residual, ...o.qkv, ...o.attention.filter(Boolean)];
        const compare = (a, b) => Math.max(...all(a).map((x, i) => worst(x, all(b)[i])));
        result = { full: compare(await wasm.forward(ids), await js.forward(ids)) };
        const last = await wasm.forward(ids, { logits: "last", attention: "none" });
        result.last = worst(last.logits, (await js.forward(ids)).logits.subarray(22 * 50257));
        result.noAttention = last.attention.every((p) => p === null);
        const caches = [1, 3, 5].map((n) => ({ n, w: wasm.newCache(), j: js.newCache(), worst: 0 }));
        for (let t = 0; t < ids.length; t++) for (const c of caches) {
          if (t % c.n) continue;
          const chunk = ids.slice(t, t + c.n), a = await wasm.forward(chunk, { cache: c.w }), b = await js.forward(chunk, { cache: c.j });
          c.worst = Math.max(c.worst, compare(a, b), worst(c.w.keys[1], c.j.keys[1]), worst(c.w.values[0], c.j.values[0]));
          c.lengths = [c.w.length, c.j.length];
        }
        result.cached = caches.map((c) => ({ worst: c.worst, lengths: c.lengths }));
        const row = (await js.forward(ids)).residual[1].subarray(5 * d, 6 * d);
        result.lens = worst(wasm.lens(row), js.lens(row));""")
    assert got["full"] <= 1e-4 and got["last"] <= 1e-4 and got["lens"] <= 1e-4, got
    assert got["noAttention"]
    for c in got["cached"]:
        assert c["worst"] <= 1e-4 and c["lengths"] == [23, 23], got
