"""The CPU engine's thread pool (``_static/tinylm/engines/pool.js``) under Node's worker_threads:
the same shared-memory kernels and control block the page's Web Workers run.

A product split by columns keeps every column's sums in the single thread's order, so the
pool's logits, residual rows and attention must equal one thread's bit for bit, and both
transformers' within 1e-4. The browser's side (a cross-origin isolated page from a plain
static server, the pool in Chromium): tests/browser/test_isolation.py.
"""

from __future__ import annotations

import json

import pytest

from tests.widget.gpt2_cases import assert_gpt2_parity, case_file, load_reference_model, random_checkpoint, reference
from tests.widget.node import ROOT, node

CHECK = (ROOT / "tests" / "widget" / "gpt2-check.mjs").as_uri()
PROMPTS = [[464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13], [50256], list(range(100, 141))]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return random_checkpoint(tmp_path_factory.mktemp("pool") / "model.safetensors")


def _runs(weights, case, thread_counts):
    return node(f"""
        const fs = await import("node:fs");
        const {{ runGPT2Case }} = await import({json.dumps(CHECK)});
        const b = fs.readFileSync({json.dumps(str(weights))}), c = JSON.parse(fs.readFileSync({json.dumps(str(case))}, "utf8"));
        result = [];
        for (const threads of {json.dumps(thread_counts)}) {{
          result.push(await runGPT2Case(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength), c, "cpu", {{ threads }}));
        }}""", timeout=300)


@pytest.mark.slow
def test_the_pool_gives_one_threads_numbers_bit_for_bit_and_transformers_within_1e4(small, tmp_path):
    """2 and 3 threads (3: bands that do not split evenly) against 1: full pass, KV cache, lens, attention."""
    one, two, three = _runs(small, case_file(tmp_path, PROMPTS), [1, 2, 3])
    assert (one["threads"], two["threads"], three["threads"]) == (1, 2, 3)
    assert one["threads_why"] == "one thread asked for" and two["threads_why"] is None
    ref = reference(load_reference_model(small), PROMPTS, [1])
    for got in (two, three):
        assert_gpt2_parity(got, ref)
        for p, q in zip(one["prompts"], got["prompts"]):
            for key in ("logits_first", "logits_last", "cached_last", "residual_last", "attention_last", "lens_top"):
                assert p[key] == q[key], key


def test_where_threads_cannot_run_the_engine_runs_on_one_and_says_why(small):
    got = node(f"""
        const {{ poolPlan }} = await import(tinylm + "/engines/pool.js");
        const M = await import(tinylm + "/engines/gpt2.js");
        const b = (await import("node:fs")).readFileSync({json.dumps(str(small))});
        const tensors = M.parseSafetensors(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
        const bad = [];
        for (const v of [0, 2.5, "two"]) {{ try {{ poolPlan(v); }} catch (err) {{ bad.push(err.message); }} }}
        const auto = poolPlan("auto"), asked = poolPlan(2);
        const node = await M.createGPT2(tensors, {{ backend: "cpu" }});
        globalThis.crossOriginIsolated = false;             // a browser page without the isolation headers
        const sab = globalThis.SharedArrayBuffer;
        globalThis.SharedArrayBuffer = undefined;
        const page = await M.createGPT2(tensors, {{ backend: "cpu", threads: 4 }});
        globalThis.SharedArrayBuffer = sab;
        result = {{ bad, auto, asked, node: [node.threads, node.threadsWhy, node.kernel], page: [page.threads, page.threadsWhy, page.kernel] }};""")
    assert len(got["bad"]) == 3 and all('threads must be "auto"' in m for m in got["bad"])
    assert got["auto"] == {"threads": 1, "why": "Node: threads not asked for"}
    assert got["asked"] == {"threads": 2, "why": None}
    assert got["node"] == [1, "Node: threads not asked for", "wasm"]
    assert got["page"] == [1, "page not cross-origin isolated", "wasm"]
