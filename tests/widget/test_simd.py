"""The committed WebAssembly (simd.js) is what tools/build_wasm.mjs makes of simd.wat."""

from __future__ import annotations

import subprocess

import pytest

from tests.widget.node import ROOT, node

WABT = ROOT / ".venv" / "npm-tools" / "node_modules" / "wabt"


def test_simd_js_is_built_from_the_committed_wat():
    if not WABT.is_dir():
        pytest.fail(f"wabt not found at {WABT}: run `make wabt` (npm install wabt)")
    out = subprocess.run(["node", str(ROOT / "tools" / "build_wasm.mjs"), str(WABT), "--check"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "up to date", "run `make wasm` and commit _static/tinylm/engines/simd.js"


@pytest.mark.parametrize("T, d, H", [(8, 16, 2), (4, 8, 2), (64, 64, 4)])
def test_webassembly_attention_equals_the_javascript_one(T, d, H):
    """Forward (probabilities, heads) and, through a whole training step, backward."""
    got = node(f"""
        const {{ setKernel }} = await import(tinylm + "/engines/linalg.js");
        const {{ attention, CPUEngine }} = await import(tinylm + "/engines/cpu.js");
        const {{ parseWeights, randomWeights }} = await import(tinylm + "/engines/model.js");
        const {{ mulberry32 }} = await import(tinylm + "/engines/rng.js");
        const T = {T}, B = 3, cfg = {{ vocab_size: 300, context_len: T, d_model: {d}, n_heads: {H}, n_layers: 2, d_ff: {4 * d} }};
        const rand = mulberry32(7), qkv = Float32Array.from({{ length: B * T * 3 * cfg.d_model }}, () => 4 * rand() - 2);
        const ids = Int32Array.from({{ length: B * T }}, () => Math.floor(rand() * 300));
        const targets = Int32Array.from({{ length: B * T }}, () => Math.floor(rand() * 300));
        const flat = parseWeights(randomWeights(cfg, 1)).params;
        const run = (kernel) => {{
          setKernel(kernel);
          const a = attention(qkv, B, T, cfg);
          const g = new CPUEngine(cfg, Float32Array.from(flat)).lossAndGrads(ids, targets, B, T);
          return {{ probs: a.probs, out: a.out, loss: g.loss, grads: g.grads }};
        }};
        const js = run("js"), wasm = run("wasm");
        const maxAbs = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
        let upper = 0, rowSum = 0;
        for (let r = 0; r < B * cfg.n_heads * T; r++) {{
          const i = r % T; let s = 0;
          for (let j = 0; j < T; j++) {{ s += wasm.probs[r * T + j]; if (j > i) upper = Math.max(upper, Math.abs(wasm.probs[r * T + j])); }}
          rowSum = Math.max(rowSum, Math.abs(s - 1));
        }}
        const gscale = js.grads.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        result = {{ probs: maxAbs(js.probs, wasm.probs), out: maxAbs(js.out, wasm.out), upper, rowSum,
                   loss: Math.abs(js.loss - wasm.loss), grads: maxAbs(js.grads, wasm.grads) / gscale }};""")
    assert got["upper"] == 0, "masked positions must be exactly zero"
    assert got["rowSum"] <= 1e-5 and got["probs"] <= 1e-6 and got["out"] <= 1e-5, got
    assert got["loss"] <= 1e-5 and got["grads"] <= 1e-5, got
