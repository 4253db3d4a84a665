"""The widget's engines against PyTorch: logits, loss, gradients, AdamW steps, weights files.

The CPU engine runs under Node here; the WebGPU engine runs on the same case in
Debian's Chromium on SwiftShader (CONTRACTS §6), in tests/browser/test_widget_engine.py.
Bounds are the issue's: logits ≤ 1e-4 absolute, loss and gradients ≤ 1e-4
relative, ten AdamW steps tracking.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from llmbook.tiny.model import TinyConfig, TinyTransformer
from tests.widget.cases import BOOK_SIZE, assert_parity, make_case, reference
from tests.widget.node import ROOT, node


@pytest.fixture(scope="module")
def case_and_reference():
    case = make_case()
    return case, reference(case)


@pytest.mark.parametrize("kernel", ["wasm", "js"])
def test_cpu_engine_matches_pytorch(case_and_reference, tmp_path, kernel):
    """Both matrix kernels: WebAssembly SIMD (the default) and plain JavaScript."""
    case, ref = case_and_reference
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    got = node(f"""
        const {{ setKernel }} = await import(tinylm + "/engines/linalg.js");
        if (setKernel({json.dumps(kernel)}) !== {json.dumps(kernel)}) throw new Error("kernel not available");
        const {{ createModel }} = await import(tinylm + "/engines/model.js");
        const {{ runCase }} = await import({json.dumps((ROOT / "tests/widget/check.mjs").as_uri())});
        const fs = await import("node:fs");
        result = await runCase(createModel, JSON.parse(fs.readFileSync({json.dumps(str(path))}, "utf8")), "cpu");""")
    assert got["backend"] == "cpu"
    assert_parity(got, ref)
    # the weights it hands back load in Python and give the JS engine's own final weights
    back = TinyTransformer.from_json(got["json"])
    for name, p in back.named_parameters():
        np.testing.assert_array_equal(p.detach().numpy().reshape(-1), np.float32(got["final"][name]))


def test_python_weights_load_in_js_and_js_weights_load_in_python(tmp_path):
    model = TinyTransformer(TinyConfig(vocab_size=300, context_len=16, d_model=32, n_heads=2, n_layers=1), seed=3)
    ids = [5, 299, 17, 0, 256, 42]
    (tmp_path / "py.json").write_text(json.dumps(model.to_json()))
    got = node(f"""
        const m = await import(tinylm + "/engines/model.js");
        const fs = await import("node:fs");
        const fromPy = await m.createModel(fs.readFileSync({json.dumps(str(tmp_path / "py.json"))}, "utf8"), {{ backend: "cpu" }});
        const fresh = await m.createModel(m.randomWeights({{ vocab_size: 300, context_len: 16, d_model: 32, n_heads: 2, n_layers: 1 }}, 7), {{ backend: "cpu" }});
        result = {{ fromPy: Array.from(await fromPy.forward({ids})), fresh: Array.from(await fresh.forward({ids})),
                   freshJson: JSON.stringify(fresh), again: JSON.stringify(await m.createModel(JSON.stringify(fresh), {{ backend: "cpu" }})) }};""")
    with torch.no_grad():
        expected = model.forward(ids).numpy()
    assert np.abs(np.reshape(got["fromPy"], expected.shape) - expected).max() <= 1e-5
    js_model = TinyTransformer.from_json(got["freshJson"])         # JSON text, as a download would be
    with torch.no_grad():
        python_logits = js_model.forward(ids).numpy()
    assert np.abs(np.reshape(got["fresh"], python_logits.shape) - python_logits).max() <= 1e-5
    assert got["again"] == got["freshJson"]                        # JS -> JSON -> JS is exact


BAD = {
    "not JSON": ("'{nope'", "not JSON"),
    "wrong format": ("{...good, format: 'other/1'}", "not an llmbook-tiny/1 weights file"),
    "bad config": ("{...good, config: {...good.config, d_model: 31}}", "not divisible by n_heads"),
    "unknown key": ("{...good, config: {...good.config, dropout: 0.1}}", "unknown config keys"),
    "missing tensor": ("(() => { const t = {...good.tensors}; delete t['ln_f.bias']; return {...good, tensors: t}; })()",
                       "missing [\"ln_f.bias\"]"),
    "wrong shape": ("{...good, tensors: {...good.tensors, pos_emb: {shape: [8, 32], data: new Array(256).fill(0)}}}",
                    "tensor pos_emb: shape [8,32]"),
    "short data": ("{...good, tensors: {...good.tensors, 'ln_f.weight': {shape: [32], data: [1, 2]}}}",
                   "tensor ln_f.weight: expected 32 numbers, got 2"),
    "NaN": ("{...good, tensors: {...good.tensors, 'ln_f.bias': {shape: [32], data: [NaN, ...new Array(31).fill(0)]}}}",
            "NaN or infinite"),
    "string value": ("{...good, tensors: {...good.tensors, 'ln_f.bias': {shape: [32], data: ['1', ...new Array(31).fill(0)]}}}",
                     "value 0 is not a number"),
    "bad merges": ("{...good, merges: [[1, 2], [999, 3]]}", "make 258 tokens, but vocab_size is 300"),
    "huge config": ("{...good, config: {...good.config, d_model: 4096, n_heads: 8, n_layers: 64}}",
                    "more than this page can hold"),
}


def test_malformed_weights_are_rejected_with_a_named_reason():
    cases = ",\n".join(f"{json.dumps(name)}: () => ({expr})" for name, (expr, _) in BAD.items())
    got = node(f"""
        const m = await import(tinylm + "/engines/model.js");
        const good = (await m.createModel(m.randomWeights({{ vocab_size: 300, context_len: 16, d_model: 32, n_heads: 2, n_layers: 1 }}, 1), {{ backend: "cpu" }})).toJSON();
        const cases = {{ {cases} }};
        result = {{}};
        for (const [name, make] of Object.entries(cases)) {{
          try {{ await m.createModel(make(), {{ backend: "cpu" }}); result[name] = "accepted"; }}
          catch (err) {{ result[name] = (err instanceof m.WeightsError ? "" : "wrong error type: ") + err.message; }}
        }}""")
    for name, (_, message) in BAD.items():
        assert message in got[name], (name, got[name])


def test_a_nan_loss_stops_without_updating_and_restores_the_last_good_weights():
    got = node("""
        const m = await import(tinylm + "/engines/model.js");
        const model = await m.createModel(m.randomWeights({ vocab_size: 300, context_len: 8, d_model: 16, n_heads: 2, n_layers: 1 }, 2), { backend: "cpu" });
        const x = Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), y = Int32Array.from([2, 3, 4, 5, 6, 7, 8, 9]);
        const good = await model.trainStep(x, y, { lr: 1e-3 });
        const lastGood = Float32Array.from(model.params);
        model.params[0] = NaN;                                  // as a too-high learning rate would leave them
        let error = null;
        try { await model.trainStep(x, y, { lr: 1e-3 }); } catch (err) { error = err.constructor.name + ": " + err.message; }
        const unchanged = Number.isNaN(model.params[0]);
        await model.restoreLastGood();
        result = { good, error, unchanged, restored: Array.from(model.params.slice(0, 4)),
                   expected: Array.from(model.lastGood.slice(0, 4)), finite: Number.isFinite(await model.trainStep(x, y, { lr: 1e-3 })) };""")
    assert got["error"].startswith("TrainingDiverged: the loss became NaN at step 2"), got["error"]
    assert got["unchanged"] and got["finite"]
    assert got["restored"] == got["expected"] and not any(np.isnan(got["restored"]))


def test_bad_batches_are_refused_with_a_message():
    got = node("""
        const m = await import(tinylm + "/engines/model.js");
        const model = await m.createModel(m.randomWeights({ vocab_size: 300, context_len: 8, d_model: 16, n_heads: 2, n_layers: 1 }, 2), { backend: "cpu" });
        result = {};
        for (const [name, f] of Object.entries({
          empty: () => model.forward([]),
          too_long: () => model.forward(new Array(9).fill(1)),
          out_of_vocab: () => model.forward([1, 300]),
          zero_lr: () => model.trainStep([1, 2], [2, 3], { lr: 0 }),
        })) { try { await f(); result[name] = "accepted"; } catch (err) { result[name] = err.message; } }""")
    assert "no tokens" in got["empty"]
    assert "exceed the context of 8" in got["too_long"]
    assert "outside [0, 300)" in got["out_of_vocab"]
    assert "learning rate must be a positive number" in got["zero_lr"]


def test_book_size_is_the_book_checkpoint_size():
    from llmbook.tiny.artifacts import BOOK_MODEL

    assert BOOK_SIZE == BOOK_MODEL                                 # the parity case is the book's model
    assert Path(ROOT / "_static/tinylm/engines/model.js").is_file()


def test_a_seeded_run_repeats_itself_exactly():
    got = node("""
        const m = await import(tinylm + "/engines/model.js"), R = await import(tinylm + "/engines/rng.js");
        const cfg = { vocab_size: 300, context_len: 16, d_model: 32, n_heads: 2, n_layers: 1 };
        const data = Uint16Array.from({ length: 5000 }, (_, i) => (i * 7919) % 300);
        async function run() {
          const model = await m.createModel(m.randomWeights(cfg, 0), { backend: "cpu" }), rand = R.mulberry32(0), losses = [];
          for (let s = 0; s < 4; s++) { const b = R.randomWindows(data, 4, 16, rand); losses.push(await model.trainStep(b.inputs, b.targets, { lr: 1e-2 })); }
          return { losses, json: JSON.stringify(model) };
        }
        const a = await run(), b = await run();
        result = { same: a.json === b.json, losses: [a.losses, b.losses] };""")
    assert got["losses"][0] == got["losses"][1] and got["same"]
    assert got["losses"][0][-1] < got["losses"][0][0]                 # and it learns


def test_the_contract_entry_points_export_what_the_role_folders_hold():
    """CONTRACTS §4, §5 and §7 name _static/tinylm/{model,bpe,gpt2}.js: each re-exports its module."""
    got = node("""
        const pairs = [["/model.js", "/engines/model.js"], ["/gpt2.js", "/engines/gpt2.js"],
                       ["/bpe.js", "/tokenizers/bpe.js"]];
        result = [];
        for (const [entry, inner] of pairs) {
          const a = await import(tinylm + entry), b = await import(tinylm + inner);
          result.push(Object.keys(b).length > 0 && Object.keys(b).every((k) => a[k] === b[k])
                      && Object.keys(a).length === Object.keys(b).length);
        }""")
    assert got == [True, True, True]
