"""Two builds from the same commit give identical trace data and identical figure data.

Two real Sphinx builds of a Part I chapter, each with its own empty trace cache
and forced notebook execution, so nothing is shared between them but the source.
Under .ci/run the book build is the first of the two (it began with an empty cache:
``LLMBOOK_SITE`` and ``LLMBOOK_CACHE``), so one more build is made, not two.
Measured timings (prompt-pass seconds, ms per step) live in trace provenance and
captions, and are deliberately not compared.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from llmbook.lm.trace import META_KEY
from tests.conftest import BUILD_CACHE, ONE_THREAD_FOR_XDIST

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = ("part1/walkthrough-distilgpt2",)          # its traces and figures (the other chapters make theirs the same way)
# one or two builds (about 30 s of both cores): as-shipped checks, run by .ci/run after `make test`
pytestmark = [pytest.mark.slow, pytest.mark.shipped]


def _builds(tmp: Path, runs=(1, 2), threads_as_built: bool = False) -> list[tuple[Path, Path]]:
    """Independent builds, run side by side (they share nothing but the source). ``threads_as_built``:
    torch's own thread count, as the book build had, not the one thread this test worker was given
    (the sums of a product, and so the traces' last bits, depend on how many threads share them)."""
    started = []
    for run in runs:
        cache, out = tmp / f"cache{run}", tmp / f"html{run}"
        env = {**os.environ, "LLMBOOK_CACHE": str(cache), "LLMBOOK_ONLY": ",".join(CHAPTERS),
               "LLMBOOK_WEIGHTS": "standin"}
        if threads_as_built and ONE_THREAD_FOR_XDIST:
            env.pop("OMP_NUM_THREADS")
        cmd = [sys.executable, "-m", "sphinx", "-q", "-b", "html", "-D", "nb_execution_mode=force",
               str(ROOT / "book"), str(out)]
        started.append((subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
                        cache, out))
    for proc, _, _ in started:
        _, err = proc.communicate()
        assert proc.returncode == 0, err[-3000:]
    return [(cache, out) for _, cache, out in started]


def _figures(html: Path) -> list[str]:
    """Every figure's full Plotly.newPlot arguments: div id, data, layout (frames too), config."""
    return re.findall(r"Plotly\.newPlot\((.*?)\)\s*\};?\s*</script>", html.read_text(), re.S)


def _trace_digests(cache: Path) -> dict[str, str]:
    out = {}
    for path in sorted((cache / "traces").rglob("*.npz")):
        with np.load(path, allow_pickle=False) as z:
            out[path.name] = json.loads(z[META_KEY].tobytes().decode())["arrays_sha256"]
    return out


def test_two_builds_are_identical(tmp_path):
    site = os.environ.get("LLMBOOK_SITE")
    if site and BUILD_CACHE:                 # .ci/run: its book build, from an empty cache, is the first
        (c1, h1), [(c2, h2)] = (Path(BUILD_CACHE), Path(site)), _builds(tmp_path, runs=(2,), threads_as_built=True)
    else:
        (c1, h1), (c2, h2) = _builds(tmp_path)
    d1, d2 = _trace_digests(c1), _trace_digests(c2)
    missing = sorted(set(d2) - set(d1))
    assert d2 and not missing, f"the first build has no trace {missing[:3]}: LLMBOOK_SITE/LLMBOOK_CACHE from another commit?"
    assert {k: d1[k] for k in d2} == d2          # the first build's cache may hold other chapters' traces too
    for chapter in CHAPTERS:
        f1, f2 = _figures(h1 / f"{chapter}.html"), _figures(h2 / f"{chapter}.html")
        assert len(f1) >= 6, chapter
        assert f1 == f2, chapter
