"""The widget's build outputs: the classic-script bundle and the data script."""

from __future__ import annotations

import base64
import json
import os
import re

import numpy as np
import pytest
import torch

from llmbook.tiny.web import TRAIN_SLICE, bundle, widget_data
from tests.widget.node import TINYLM, node

BUILD_CACHE = os.environ.get("LLMBOOK_CACHE")   # read before the tests' private cache replaces it


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
    assert got["modules"] == ["layout", "rng", "simd", "linalg", "cpu", "decode", "kernels", "webgpu", "model", "bpe", "ui"]


def test_the_bundler_refuses_forms_it_does_not_handle(tmp_path):
    (tmp_path / "odd.js").write_text("export default function f() {}\n")
    with pytest.raises(ValueError, match="odd.js"):
        bundle(tmp_path, modules=("odd",))


@pytest.mark.slow
def test_widget_data_holds_the_checkpoint_corpus_and_pytorch_logits(monkeypatch):
    from llmbook.tiny.artifacts import book_artifacts, load_book_model

    # the book build's artifacts (trained once, ~90 s, if this runs before any build)
    if BUILD_CACHE:
        monkeypatch.setenv("LLMBOOK_CACHE", BUILD_CACHE)
    else:
        monkeypatch.delenv("LLMBOOK_CACHE")

    folder = book_artifacts()
    text = widget_data(folder)
    data = json.loads(re.fullmatch(r"window\.LLMBOOK_TINYLM = (.*);\n", text, re.S)[1])
    model = load_book_model(folder)
    for name, p in model.named_parameters():
        t = data["checkpoint"]["tensors"][name]
        got = np.frombuffer(base64.b64decode(t["base64"]), "<f4").reshape(t["shape"])
        np.testing.assert_array_equal(got, p.detach().numpy())
    parity = data["parity"]
    logits = np.frombuffer(base64.b64decode(parity["logits"]), "<f4").reshape(len(parity["ids"]), -1)
    with torch.no_grad():
        np.testing.assert_array_equal(logits, model.forward(parity["ids"]).numpy())
    train = np.frombuffer(base64.b64decode(data["corpus"]["train"]), "<u2")
    np.testing.assert_array_equal(train, np.load(folder / "train_ids.npy")[:TRAIN_SLICE])
    assert parity["computed_by"]["torch"] == torch.__version__
    assert len(data["checkpoint"]["merges"]) == 512
