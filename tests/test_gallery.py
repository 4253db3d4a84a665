"""Every gallery script runs as a reader would run it: a fresh ``python`` process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "gallery").rglob("plot_*.py"))


def test_there_are_at_least_ten_examples_in_topics():
    assert len(SCRIPTS) >= 10
    for folder in {p.parent for p in SCRIPTS}:
        assert (folder / "README.txt").is_file(), f"{folder} needs a README.txt (its gallery heading)"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Every script in its own fresh process and folder, two at a time: {script: (result, folder)}."""
    from concurrent.futures import ThreadPoolExecutor

    def run(script):
        folder = tmp_path_factory.mktemp(script.stem)
        env = {**os.environ, "LLMBOOK_FIGURES_DIR": str(folder), "LLMBOOK_WEIGHTS": "standin",
               "OMP_NUM_THREADS": "1"}                    # two processes share two cores
        return script, (subprocess.run([sys.executable, str(script)], cwd=folder, env=env,
                                       capture_output=True, text=True, timeout=300), folder)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, SCRIPTS))


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script_runs_standalone_and_draws(script, runs):
    done, folder = runs[script]
    assert done.returncode == 0, done.stderr[-3000:]
    figures = list(folder.glob("*.html"))
    assert figures, f"{script.name} wrote no figure:\n{done.stdout[-2000:]}"
    for f in figures:
        text = f.read_text()
        assert "Plotly.newPlot" in text
        assert not re.search(r'<script[^>]+src="https?://', text), "the figure file loads a script from the web"
    assert "figure written to" in done.stdout
