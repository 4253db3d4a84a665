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
