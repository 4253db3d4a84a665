"""The committed WebAssembly (simd.js) is what tools/build_wasm.mjs makes of simd.wat."""

from __future__ import annotations

import subprocess

import pytest

from tests.widget.node import ROOT

WABT = ROOT / ".venv" / "npm-tools" / "node_modules" / "wabt"


def test_simd_js_is_built_from_the_committed_wat():
    if not WABT.is_dir():
        pytest.fail(f"wabt not found at {WABT}: run `make wabt` (npm install wabt)")
    out = subprocess.run(["node", str(ROOT / "tools" / "build_wasm.mjs"), str(WABT), "--check"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "up to date", "run `make wasm` and commit _static/tinylm/simd.js"
