"""The in-page Llama engine (``_static/tinylm/engines/llama.js``) under Node: the CPU backend against
transformers' LlamaForCausalLM (float32 compute, eager attention) on a random bfloat16 Llama
with grouped-query attention, prompts with emoji and CJK through the real tokenizer, full pass
and KV-cached chunks; and clear refusals of wrong files.

Measured max |Δ| are printed (``pytest -s``) and kept in ``MEASURED`` for the report.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.widget.llama_cases import (BOUND, ENGINE_CONFIG, SMALL, case_file, case_prompts, f32, load_reference_model, max_deltas,
                                      random_llama, reference)
from tests.widget.node import ROOT, node

CHECK = (ROOT / "tests" / "widget" / "llama-check.mjs").as_uri()
@pytest.fixture(scope="module")
def prompts():
    return case_prompts()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return random_llama(tmp_path_factory.mktemp("llama") / "model.safetensors")


@pytest.fixture(scope="module")
def small_reference(small, prompts):
    return reference(load_reference_model(small), prompts)


RELAXED = ("--experimental-wasm-relaxed-simd",)   # Node 20; Chromium has relaxed SIMD on by default


def _run(weights, case, timeout=600, kernel="wasm", flags=()):
    """The case through llama.js under Node. kernel "wasm" or "js": the file read into one ArrayBuffer
    of its size (past readFileSync's 2 GiB limit), then parseSafetensors and createLlama; "streamed":
    the file pushed through llamaLoader in pieces, never held whole. Node's peak RSS comes back too
    (VmHWM: ru_maxrss would count the pytest process Node was forked from)."""
    if kernel == "streamed":
        load = f"""const m = await loadStreamed({json.dumps(str(weights))}, c.config);
        result = await runLlamaCaseOn(m, c); result.memory_bytes = m.memoryBytes;"""
    else:
        load = f"""const fd = fs.openSync({json.dumps(str(weights))}, "r"), size = fs.fstatSync(fd).size, bytes = new ArrayBuffer(size);
        for (let at = 0; at < size; ) at += fs.readSync(fd, new Uint8Array(bytes, at, Math.min(2 ** 30, size - at)), 0, Math.min(2 ** 30, size - at), at);
        fs.closeSync(fd);
        result = await runLlamaCase(bytes, c, "cpu", {json.dumps(kernel)});"""
    return node(f"""
        const fs = await import("node:fs");
        const {{ loadStreamed, runLlamaCase, runLlamaCaseOn }} = await import({json.dumps(CHECK)});
        const c = JSON.parse(fs.readFileSync({json.dumps(str(case))}, "utf8"));
        {load}
        const hwm = /VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));   // this process's own peak
        result.peak_rss = hwm ? 1024 * Number(hwm[1]) : null;""", timeout=timeout, flags=flags)


@pytest.mark.parametrize("kernel", ["wasm", "wasm-relaxed",
                                    pytest.param("streamed", marks=pytest.mark.slow),   # the loader's bytes: test_streamed_loader_gives_the_files_tensors
                                    pytest.param("js", marks=pytest.mark.slow)])
def test_cpu_engine_matches_transformers(small, prompts, small_reference, kernel):
    """Full pass and KV-cached chunks of 3 and of 1 token: logits, residual rows, final norm,
    attention, q and k after RoPE, the logit lens, all within 1e-4 of transformers; bfloat16 kept in
    memory. On each CPU engine: WebAssembly from parsed tensors (plain SIMD, and the fused
    multiply-add build where relaxed SIMD is on), WebAssembly streamed, plain JavaScript."""
    relaxed = kernel == "wasm-relaxed"
    got = _run(small, case_file(small.parent, prompts, chunks=(3, 1)), kernel="wasm" if relaxed else kernel,
               flags=RELAXED if relaxed else ())
    assert got["backend"] == "cpu" and got["fallback"] is None and got["kernel_fallback"] is None
    assert got["kernel"] == ("js" if kernel == "js" else "wasm")
    if kernel.startswith("wasm"):
        assert got["simd"] == ("relaxed" if relaxed else "simd128")
    assert got["config"] == {k: SMALL[k] for k in ENGINE_CONFIG}
    assert got["dtype"] == "BF16"
    held = sum(t.numel() * (2 if t.ndim == 2 else 4) for t in _tensors(small).values())
    assert got["weight_bytes"] == held              # matrices at 2 bytes a weight; only the norm vectors widened
    worst = max_deltas(got, small_reference)
    print(f"\nllama.js ({kernel}) vs transformers, max |Δ|:", json.dumps(worst, indent=1))
    assert all(p["mlp_ok"] for p in got["prompts"])
    assert "logit lens" in worst and max(worst.values()) <= BOUND, worst
    assert got["prompts"][1]["cached"]["3"]["cache_bytes"] == 2 * 3 * 2 * 16 * 4 * len(prompts[1])


def _tensors(path):
    from safetensors.torch import load_file
    return load_file(str(path))


def test_config_comes_from_the_shapes_and_tinyllamas_defaults(small):
    """Without config.json: head_dim 64 (TinyLlama's) is assumed, so a head_dim-16 file asks for its config."""
    got = node(f"""
        const fs = await import("node:fs");
        const {{ parseSafetensors, createLlama, llamaConfig }} = await import(tinylm + "/engines/llama.js");
        const b = fs.readFileSync({json.dumps(str(small))});
        const t = parseSafetensors(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength), {{ bf16: "view" }});
        result = {{ partial: llamaConfig(t, {{ head_dim: 16 }}) }};
        try {{ await createLlama(t); }} catch (err) {{ result.message = err.message; }}
        const m = await createLlama(t, {{ backend: "webgpu", config: {{ num_attention_heads: 4, hidden_size: 64 }} }});
        result.fallback = m.fallback; result.backend = m.backend;
        result.view = t.get("lm_head.weight").data.constructor.name;
        result.shared = t.get("lm_head.weight").data.buffer === t.get("model.norm.weight").data.buffer;""")
    assert got["partial"] == {**{k: SMALL[k] for k in ENGINE_CONFIG}, "max_position_embeddings": 2048}
    assert "not whole heads of 64; pass the checkpoint's config.json" in got["message"]
    assert got["backend"] == "cpu" and "no WebGPU" in got["fallback"]       # Node: llama-webgpu.js says why
    assert got["view"] == "Uint16Array" and got["shared"]        # views into the file's buffer: no copy


def test_default_parse_still_widens_bf16(small):
    """The GPT-2 page's call is unchanged: BF16 comes back as float32 values."""
    got = node(f"""
        const fs = await import("node:fs");
        const {{ parseSafetensors }} = await import(tinylm + "/engines/safetensors.js");
        const b = fs.readFileSync({json.dumps(str(small))});
        const t = parseSafetensors(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
        result = {{ kind: t.get("model.norm.weight").data.constructor.name, row: Array.from(t.get("model.norm.weight").data) }};""")
    assert got["kind"] == "Float32Array"
    assert np.array_equal(np.float32(got["row"]), _tensors(small)["model.norm.weight"].float().numpy())


def _expect_error(bytes_path, message, prompts=([1, 2, 3],), config=None, streamed=False):
    """The error llama.js gives on a file: from parseSafetensors + createLlama, or streamed through
    llamaLoader in 4 kB pieces (then `received`: how many bytes had been pushed when it was refused)."""
    if streamed:
        load = f"""loader = await llamaLoader({{ config: {json.dumps(config)} }});
          for (let at = 0; at < b.length; at += 4096) loader.push(b.subarray(at, at + 4096));
          const m = await loader.finish();"""
    else:
        load = f"""const m = await createLlama(parseSafetensors(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength), {{ bf16: "view" }}),
                                      {{ backend: "cpu", config: {json.dumps(config)} }});"""
    got = node(f"""
        const fs = await import("node:fs");
        const {{ parseSafetensors, createLlama, llamaLoader }} = await import(tinylm + "/engines/llama.js");
        const b = new Uint8Array(fs.readFileSync({json.dumps(str(bytes_path))}));
        let loader = null;
        try {{
          {load}
          const cache = m.newCache();
          for (const ids of {json.dumps(list(prompts))}) await m.forward(ids, {{ cache }});
          result = {{ ok: true }};
        }} catch (err) {{ result = {{ name: err.constructor.name, message: err.message, received: loader && loader.received, size: b.length }}; }}""")
    assert message in got.get("message", ""), got
    return got


@pytest.mark.parametrize("streamed", [False, True], ids=["parsed", "streamed"])
def test_what_is_not_a_llama_safetensors_is_refused_by_name(small, tmp_path, streamed):
    """HTML, a cut file, a GPT-2 checkpoint, a wrong shape, a missing head, a config that disagrees,
    RoPE scaling: each refused with its reason; streamed, the wrong checkpoints before their body is read."""
    from safetensors.torch import save_file

    from tests.widget.gpt2_cases import random_checkpoint

    config = json.loads((small.parent / "config.json").read_text())
    fail = lambda path, message, **kw: _expect_error(path, message, streamed=streamed, **kw)  # noqa: E731
    early = lambda got: not streamed or got["received"] < got["size"] / 2  # noqa: E731   refused from the header
    (tmp_path / "html.safetensors").write_bytes(b"<!doctype html><title>404</title>")
    assert fail(tmp_path / "html.safetensors", "not a safetensors file")["name"] == "SafetensorsError"
    data = small.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    assert fail(tmp_path / "cut.safetensors", "a download cut short?", config=config)["name"] == "SafetensorsError"
    gpt2 = random_checkpoint(tmp_path / "gpt2.safetensors")
    got = fail(gpt2, "this is a GPT-2 checkpoint (it has wte.weight), not a Llama one")
    assert got["name"] == "CheckpointError" and early(got)
    other = _tensors(small)
    other["model.layers.1.mlp.up_proj.weight"] = torch.zeros(100, 64, dtype=torch.bfloat16)
    save_file(other, str(tmp_path / "shape.safetensors"))
    assert early(fail(tmp_path / "shape.safetensors", "tensor model.layers.1.mlp.up_proj.weight has shape [100,64]", config=config))
    del other["lm_head.weight"]
    other["model.layers.1.mlp.up_proj.weight"] = torch.zeros(176, 64, dtype=torch.bfloat16)
    save_file(other, str(tmp_path / "nohead.safetensors"))
    fail(tmp_path / "nohead.safetensors", "has no lm_head.weight", config=config)
    fail(small, "config.json says hidden_size 128, but the tensors' shapes give 64", config={**config, "hidden_size": 128})
    fail(small, 'RoPE scaling "llama3" is not handled', config={**config, "rope_parameters": {"rope_type": "llama3", "rope_theta": 5e5}})


def test_streamed_loader_refuses_float32_matrices_and_the_js_engine_runs_them(small, tmp_path):
    """A float32 Llama: the streamed loader (bfloat16 only) says so by name and what to do instead;
    createLlama runs it on the JavaScript engine, saying why WebAssembly did not."""
    from safetensors.torch import save_file

    save_file({k: v.float() for k, v in _tensors(small).items()}, str(tmp_path / "f32.safetensors"))
    config = json.loads((small.parent / "config.json").read_text())
    _expect_error(tmp_path / "f32.safetensors", "is F32: the streamed loader keeps bfloat16 weights", config=config, streamed=True)
    got = node(f"""
        const fs = await import("node:fs");
        const {{ parseSafetensors, createLlama }} = await import(tinylm + "/engines/llama.js");
        const b = fs.readFileSync({json.dumps(str(tmp_path / "f32.safetensors"))});
        const m = await createLlama(parseSafetensors(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), {{ config: {json.dumps(config)} }});
        result = {{ kernel: m.kernel, why: m.kernelFallback, dtype: m.dtype }};""")
    assert got == {"kernel": "js", "why": "the matrices are not bfloat16", "dtype": "F32"}


def test_streamed_loader_gives_the_files_tensors(small):
    """loader.tensors(): every tensor as parseSafetensors(bytes, {bf16: "view"}) reads it, from the loader's
    memory; finish({backend: "webgpu"}) without WebGPU: the CPU engine, m.fallback saying why."""
    got = node(f"""
        const fs = await import("node:fs");
        const {{ parseSafetensors, llamaLoader }} = await import(tinylm + "/engines/llama.js");
        const b = new Uint8Array(fs.readFileSync({json.dumps(str(small))}));
        const loader = await llamaLoader({{ config: JSON.parse(fs.readFileSync({json.dumps(str(small.parent / "config.json"))}, "utf8")) }});
        for (let at = 0; at < b.length; at += 65536) loader.push(b.subarray(at, at + 65536));
        const want = parseSafetensors(b.slice().buffer, {{ bf16: "view" }}), have = loader.tensors();
        const same = (x, y) => x.length === y.length && x.every((v, i) => v === y[i]);
        result = {{ total: loader.total, size: b.length, names: have.size === want.size,
                   same: [...want].every(([k, t]) => have.get(k).dtype === t.dtype && same(have.get(k).data, t.data)),
                   kind: have.get("lm_head.weight").data.constructor.name }};
        const m = await loader.finish({{ backend: "webgpu" }});         // Node has no WebGPU: the CPU engine, saying why
        result.engine = [m.backend, m.kernel, m.fallback];""")
    assert got.pop("engine") == ["cpu", "wasm", "this browser has no WebGPU (navigator.gpu is missing)"]
    assert got == {"total": got["size"], "size": got["size"], "names": True, "same": True, "kind": "Uint16Array"}



def test_one_reused_buffer_feeds_the_loader(small):
    """The live pages read weights through read-stream.js's chunkReader: a byte stream (as Blob.stream() is) into one
    buffer read into again and again, a plain stream chunk by chunk. A byte stream that gives 1,000 bytes a read
    makes the header span several reads of that one buffer (the loader must copy what it keeps); pushed through
    llamaLoader read by read, the tensors equal the file's."""
    got = node(f"""
        const fs = await import("node:fs");
        const {{ chunkReader }} = await import(tinylm + "/live/read-stream.js");
        const {{ parseSafetensors, llamaLoader }} = await import(tinylm + "/engines/llama.js");
        const b = new Uint8Array(fs.readFileSync({json.dumps(str(small))}));
        const config = JSON.parse(fs.readFileSync({json.dumps(str(small.parent / "config.json"))}, "utf8"));
        const want = parseSafetensors(b.slice().buffer, {{ bf16: "view" }});
        const same = (x, y) => x.length === y.length && x.every((v, i) => v === y[i]);
        const plain = new ReadableStream({{ start(c) {{ for (let at = 0; at < b.length; at += 1000) c.enqueue(b.slice(at, at + 1000)); c.close(); }} }});
        let at = 0;
        const bytes = new ReadableStream({{ type: "bytes", pull(c) {{ c.enqueue(b.slice(at, at + 1000)); at += 1000; if (at >= b.length) c.close(); }} }});
        result = {{}};
        for (const [kind, stream] of [["bytes", bytes], ["blob", new Blob([b]).stream()], ["plain", plain]]) {{
          const reader = chunkReader(stream), loader = await llamaLoader({{ config }});
          let got = 0, reads = 0;
          for (;;) {{
            const part = await reader.read();
            if (part.done) break;
            loader.push(part.value);
            got += part.value.length;
            reads++;
          }}
          const have = loader.tensors();
          result[kind] = {{ got: got === b.length, same: [...want].every(([k, t]) => same(have.get(k).data, t.data)), many: reads > 1 }};
        }}""")
    assert got == {kind: {"got": True, "same": True, "many": True} for kind in ("bytes", "blob", "plain")}

@pytest.mark.parametrize("prompts, message", [
    ([[]], "the prompt is empty"),
    ([[32000]], "outside the vocabulary"),
    ([list(range(300)), list(range(300))], "300 cached + 300 new tokens pass the context of 512 positions"),
])
def test_bad_ids_are_refused_with_the_reason(small, prompts, message):
    config = json.loads((small.parent / "config.json").read_text())
    assert _expect_error(small, message, prompts, config)["name"] == "RangeError"


def test_greedy_generation_equals_transformers(small, prompts):
    """m.generate (the cache, one token at a time) picks the ids transformers' greedy generate picks;
    the tokens per second under Node are printed."""
    got = node(f"""
        const fs = await import("node:fs");
        const {{ parseSafetensors, createLlama }} = await import(tinylm + "/engines/llama.js");
        const b = fs.readFileSync({json.dumps(str(small))});
        const m = await createLlama(parseSafetensors(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength), {{ bf16: "view" }}),
                                    {{ config: JSON.parse(fs.readFileSync({json.dumps(str(small.parent / "config.json"))}, "utf8")) }});
        const t0 = performance.now();
        const {{ ids, cache }} = await m.generate({json.dumps(prompts[0])}, {{ maxNewTokens: 16, stop: [] }});
        result = {{ ids, length: cache.length, tok_s: 16 / ((performance.now() - t0) / 1000) }};""")
    model = load_reference_model(small)
    with torch.no_grad():
        want = model.generate(torch.tensor([prompts[0]]), max_new_tokens=16, do_sample=False, eos_token_id=None,
                              pad_token_id=0)[0, len(prompts[0]):].tolist()
    print(f"\nsmall Llama under Node: {got['tok_s']:.0f} tok/s")
    assert got["ids"] == want
    assert got["length"] == len(prompts[0]) + 15


@pytest.mark.slow
@pytest.mark.shipped      # minutes: runs in `make test-shipped`
def test_full_size_tinyllama_standin_within_1e3(tmp_path, prompts, tinyllama_file):
    """The hub-format TinyLlama stand-in (22 layers, 32/4 heads, bfloat16, 2.2 GB), no config.json,
    streamed into the WebAssembly engine: the config from the shapes and TinyLlama's defaults; logits
    within 1e-3 of transformers; Node's peak RSS within 1.3× the file (the weights held once)."""
    from llmbook.lm.models import _config
    from llmbook.lm.specs import get_spec
    path = tmp_path / "model.safetensors"           # the run's shared stand-in (tests/conftest.py), linked
    path.symlink_to(tinyllama_file)
    _config(get_spec("tinyllama"), {}).save_pretrained(tmp_path)
    ids = prompts[1][:12]
    case = case_file(tmp_path, [ids], chunks=(4,), rope_layer=21, config=False)
    got = _run(path, case, timeout=1800, kernel="streamed")
    assert got["dtype"] == "BF16" and got["config"] == {
        "vocab_size": 32000, "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32,
        "num_key_value_heads": 4, "head_dim": 64, "rope_theta": 10000, "rms_norm_eps": 1e-5, "max_position_embeddings": 2048}
    worst = max_deltas(got, reference(load_reference_model(path), [ids], rope_layer=21))
    print(f"\nfull-size stand-in, {len(ids)} tokens, prompt pass {got['prompts'][0]['ms'] / 1000:.1f} s; max |Δ|:",
          json.dumps(worst, indent=1))
    assert max(v for k, v in worst.items() if k.startswith("logits") or k.startswith("last row")) <= 1e-3, worst
    size = path.stat().st_size
    print(f"Node's peak RSS {got['peak_rss'] / 1e9:.2f} GB = {got['peak_rss'] / size:.2f}× the file ({size / 1e9:.2f} GB); "
          f"WebAssembly memory {got['memory_bytes'] / 1e9:.2f} GB")
    assert got["peak_rss"] <= 1.3 * size          # streamed: the weights held once, in the engine's memory
