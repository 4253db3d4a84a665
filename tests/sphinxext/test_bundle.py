"""The widget's classic-script bundle computes what its ES modules compute."""

from __future__ import annotations

import json

import pytest

from llmbook.sphinxext.bundle import MODULES, bundle
from tests.widget.node import TINYLM, node


def test_the_bundle_computes_what_the_modules_compute(tmp_path):
    path = tmp_path / "widget.js"
    path.write_text(bundle(TINYLM))
    got = node(f"""
        const fs = await import("node:fs"), vm = await import("node:vm");
        const sandbox = {{ window: {{}}, navigator: {{}}, console, TextEncoder, TextDecoder, atob, performance }};
        vm.runInNewContext(fs.readFileSync({json.dumps(str(path))}, "utf8"), sandbox);
        const B = sandbox.window.llmbookTinyLM, M = await import(tinylm + "/model.js");
        const cfg = {{ vocab_size: 300, context_len: 16, d_model: 32, n_heads: 2, n_layers: 1 }};
        const a = await B.model.createModel(B.model.randomWeights(cfg, 4), {{ backend: "cpu" }});
        const b = await M.createModel(M.randomWeights(cfg, 4), {{ backend: "cpu" }});
        result = {{ modules: Object.keys(B), same: JSON.stringify(Array.from(await a.forward([1, 2, 3]))) ===
                                              JSON.stringify(Array.from(await b.forward([1, 2, 3]))),
                   bpe: Array.from(B.bpe.encode("hi", [[104, 105]])) }};""")
    assert got["same"] and got["bpe"] == [256]
    assert got["modules"] == list(MODULES)


def test_the_bundler_refuses_forms_it_does_not_handle(tmp_path):
    (tmp_path / "odd.js").write_text("export default function f() {}\n")
    with pytest.raises(ValueError, match="odd.js"):
        bundle(tmp_path, modules=("odd",))


def test_the_live_pages_bundle_runs_gpt2_as_the_modules_do(tmp_path):
    """The live page's classic script (llmbook.sphinxext.live.MODULES) on a small random GPT-2."""
    from llmbook.sphinxext.live import MODULES as LIVE
    from tests.widget.gpt2_cases import random_checkpoint

    weights = random_checkpoint(tmp_path / "model.safetensors", {"n_layer": 1, "n_embd": 64, "n_head": 1,
                                                                 "vocab_size": 300, "n_positions": 16})
    path = tmp_path / "live.js"
    path.write_text(bundle(TINYLM, LIVE, expose="llmbookLive"))
    got = node(f"""
        const fs = await import("node:fs"), vm = await import("node:vm");
        const sandbox = {{ window: {{}}, navigator: {{}}, console, TextEncoder, TextDecoder, atob, performance, WebAssembly }};
        vm.runInNewContext(fs.readFileSync({json.dumps(str(path))}, "utf8"), sandbox);
        const B = sandbox.window.llmbookLive, M = await import(tinylm + "/gpt2.js");
        const f = fs.readFileSync({json.dumps(str(weights))}), bytes = f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength);
        const a = await B.gpt2.createGPT2(B.gpt2.parseSafetensors(bytes), {{ backend: "cpu" }});
        const b = await M.createGPT2(M.parseSafetensors(bytes), {{ backend: "cpu" }});
        result = {{ modules: Object.keys(B), mount: typeof B.live.mountLive,
                   same: JSON.stringify(Array.from((await a.forward([1, 2, 3])).logits)) ===
                         JSON.stringify(Array.from((await b.forward([1, 2, 3])).logits)) }};""")
    assert got["same"] and got["mount"] == "function"
    assert got["modules"] == list(LIVE)
