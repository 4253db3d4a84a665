"""The widget's classic-script bundle computes what its ES modules compute."""

from __future__ import annotations

import json
from pathlib import Path

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
        const B = sandbox.window.llmbookTinyLM, M = await import(tinylm + "/engines/model.js");
        const cfg = {{ vocab_size: 300, context_len: 16, d_model: 32, n_heads: 2, n_layers: 1 }};
        const a = await B.model.createModel(B.model.randomWeights(cfg, 4), {{ backend: "cpu" }});
        const b = await M.createModel(M.randomWeights(cfg, 4), {{ backend: "cpu" }});
        result = {{ modules: Object.keys(B), same: JSON.stringify(Array.from(await a.forward([1, 2, 3]))) ===
                                              JSON.stringify(Array.from(await b.forward([1, 2, 3]))),
                   bpe: Array.from(B.bpe.encode("hi", [[104, 105]])) }};""")
    assert got["same"] and got["bpe"] == [256]
    assert got["modules"] == [Path(m).name for m in MODULES]


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
        const B = sandbox.window.llmbookLive, M = await import(tinylm + "/engines/gpt2.js");
        const f = fs.readFileSync({json.dumps(str(weights))}), bytes = f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength);
        const a = await B.gpt2.createGPT2(B.gpt2.parseSafetensors(bytes), {{ backend: "cpu" }});
        const b = await M.createGPT2(M.parseSafetensors(bytes), {{ backend: "cpu" }});
        result = {{ modules: Object.keys(B), mount: typeof B.live.mountLive,
                   same: JSON.stringify(Array.from((await a.forward([1, 2, 3])).logits)) ===
                         JSON.stringify(Array.from((await b.forward([1, 2, 3])).logits)) }};""")
    assert got["same"] and got["mount"] == "function"
    assert got["modules"] == [Path(m).name for m in LIVE]


def test_the_live_bundle_carries_its_own_text_and_serves_the_engine_from_it(tmp_path):
    """What the page's worker runs: the bundle's own text evaluated where there is no window
    (globals on self), its engine host answering the page's calls as gpt2.js computes."""
    from llmbook.sphinxext.live import MODULES as LIVE
    from tests.widget.gpt2_cases import random_checkpoint

    weights = random_checkpoint(tmp_path / "model.safetensors", {"n_layer": 2, "n_embd": 128, "n_head": 2,
                                                                 "vocab_size": 300, "n_positions": 16})
    path = tmp_path / "live.js"
    path.write_text(bundle(TINYLM, LIVE, expose="llmbookLive", source="llmbookLiveSource"))
    got = node(f"""
        const fs = await import("node:fs"), vm = await import("node:vm");
        const page = {{ window: {{}}, navigator: {{}}, console, TextEncoder, TextDecoder, atob, performance, WebAssembly }};
        vm.runInNewContext(fs.readFileSync({json.dumps(str(path))}, "utf8"), page);
        const worker = {{ navigator: {{}}, console, TextEncoder, TextDecoder, atob, performance, WebAssembly }};
        worker.self = worker;
        vm.runInNewContext(page.window.llmbookLiveSource(), worker);
        const call = worker.llmbookLive["live-worker"].createHost(), M = await import(tinylm + "/engines/gpt2.js");
        const f = fs.readFileSync({json.dumps(str(weights))}), bytes = () => f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength);
        const m = await M.createGPT2(M.parseSafetensors(bytes()), {{ backend: "cpu" }});
        const info = (await call("load", {{ source: bytes(), backend: "cpu" }})).result;
        const settings = {{ mode: "sample", temperature: 0.8, topk: 40, topp: 0.95, seed: 3 }};
        const pass = await call("prompt", {{ ids: [1, 2, 3], attention: "all", settings }});
        const step = (await call("step", {{ id: 4 }})).result, view = (await call("view", {{ layer: 1, head: 1 }})).result;
        const P = page.window.llmbookLive, rand = P.rng.mulberry32(3);                 // the page's own pick, same seed
        const ref = (await m.forward([1, 2, 3], {{ logits: "last" }})).logits, sum = pass.result.logits;
        const first = P["live-math"].pick(ref, settings, rand);
        const second = P["live-math"].pick((await m.forward([1, 2, 3, 4], {{ logits: "last" }})).logits, settings, rand);
        const diff = (a, b) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));
        let unknown = null;
        try {{ await call("nope"); }} catch (err) {{ unknown = err.message; }}
        result = {{ same: Object.keys(worker.llmbookLive).join() === Object.keys(page.window.llmbookLive).join(),
                   backend: info.backend, layers: info.config.n_layer, heads: info.config.n_head, owned: pass.transfer.length,
                   prompt: diff(sum.logits, sum.ids.map((i) => ref[i])), top: sum.ids.join() === P["live-math"].topK(ref, 10).join(),
                   hist: sum.hist.counts.reduce((a, b) => a + b, 0),
                   picks: [pass.result.choice.id, step.next.id], expected: [first.id, second.id],
                   stages: pass.result.choice.stages.length,
                   cache: step.cache.length, lens: pass.result.lens.length, lensTop: pass.result.lens[2].ids.length,
                   delta: view.delta, n: view.n, last: view.last.length, unknown }};""")
    assert got["same"] and got["backend"] == "cpu" and got["layers"] == got["heads"] == 2
    assert got["prompt"] <= 1e-5 and got["top"] and got["hist"] == 300 and got["picks"] == got["expected"] and got["stages"] == 3 and got["cache"] == 4
    assert got["owned"] == 2 + 3 + 1 and got["lens"] == 3 and got["lensTop"] == 3   # embeddings, residual, histogram: handed over
    assert got["delta"] <= 1e-5 and got["n"] == 3 and got["last"] == 3
    assert "no call" in got["unknown"]


def test_an_import_the_list_does_not_hold_in_order_is_refused(tmp_path):
    """A module listed before what it imports (or a missing one) is named, not left undefined."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.js").write_text('export const x = 1;\n')
    (tmp_path / "b" / "y.js").write_text('import { x } from "../a/x.js";\nexport const y = x + 1;\n')
    assert "modules[\"x\"]" in bundle(tmp_path, ("a/x", "b/y"))
    with pytest.raises(ValueError, match="y.js imports ../a/x.js"):
        bundle(tmp_path, ("b/y", "a/x"))
