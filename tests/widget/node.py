"""Run a snippet of JavaScript under Node with the widget's modules importable."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINYLM = ROOT / "_static" / "tinylm"


def node(body: str, timeout: int = 120, flags: tuple[str, ...] = ()):
    """Evaluate ``body`` (an async ES-module body that sets ``result``) and return result as JSON.

    ``tinylm`` names the folder of the widget's modules: ``await import(tinylm + "/engines/model.js")``.
    ``flags`` go to node, e.g. ``("--experimental-wasm-relaxed-simd",)`` (Node 20 gates relaxed SIMD;
    Chromium, the page's browser, has it on).
    """
    if not shutil.which("node"):
        pytest.fail("Node.js is needed for the widget's tests (apt-get install nodejs)")
    script = (f"const tinylm = {json.dumps(TINYLM.as_uri())};\nlet result;\n{body}\n"
              "process.stdout.write(JSON.stringify(result));")
    done = subprocess.run(["node", *flags, "--input-type=module", "-e", script], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)
