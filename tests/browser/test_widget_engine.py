"""The widget's WebGPU engine against PyTorch, in Chromium on SwiftShader (CONTRACTS §6).

Same case and bounds as the CPU engine's test in tests/widget/test_engine.py. It
uses the session's Chromium: a second Playwright instance inside the suite fails.
"""

from __future__ import annotations

import json

import pytest

from tests.browser.harness import serve
from tests.widget.cases import assert_parity, make_case, reference
from tests.widget.node import ROOT


@pytest.mark.slow
def test_webgpu_engine_matches_pytorch(chromium):
    case = make_case()
    ref = reference(case)
    case_file = ROOT / "tests" / "widget" / "_case.json"
    case_file.write_text(json.dumps(case))
    page = chromium.new_page()
    try:
        with serve(ROOT) as url:
            page.goto(f"{url}/tests/widget/parity.html?case=_case.json&backend=webgpu")
            page.wait_for_function("window.result !== undefined", timeout=300_000)
            got = page.evaluate("window.result")
    finally:
        page.close()
        case_file.unlink()
    assert "error" not in got, got.get("error")
    assert got["backend"] == "webgpu", got["fallbackReason"]
    assert_parity(got, ref)
