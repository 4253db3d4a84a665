"""Every gallery script runs and draws: as a reader runs it (a fresh ``python`` process), and
in the book's build (sphinx-gallery executes each one and embeds its figure).

A standalone run of every script would repeat, minute for minute, the work the book build
has just done (training included); what only a standalone run does is :func:`llmbook.figures.show`
writing the figure file, the same four lines for every script. So :data:`STANDALONE` always
run as a reader runs them (a model's stand-in weights loaded offline, and a figure alone),
and each other script is checked on the built site when the site's page was made from this
very source (the site's download of the script equals the file); with no such page (no built
site, a partial site, a script changed since the build) it runs standalone too.
``tests/test_packaging.py`` runs a downloaded script on the installed wheel (shipped).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "gallery").rglob("plot_*.py"))
STANDALONE = ("plot_attention_heads", "plot_sampling")      # always run in a fresh process


def test_there_are_at_least_ten_examples_in_topics():
    assert len(SCRIPTS) >= 10
    assert {s.stem for s in SCRIPTS} >= set(STANDALONE)
    for folder in {p.parent for p in SCRIPTS}:
        assert (folder / "README.txt").is_file(), f"{folder} needs a README.txt (its gallery heading)"


def _site_or_none(request) -> Path | None:
    """The built site if there is one to read (never starts a first full book build)."""
    if os.environ.get("LLMBOOK_SITE") or (ROOT / "book" / "_build" / "html" / "index.html").is_file():
        return request.getfixturevalue("site")
    return None


def built_page(site: Path | None, script: Path) -> Path | None:
    """The site's gallery page for ``script`` if the site was built from this very source, else None."""
    if site is None:
        return None
    page = site / "auto_examples" / script.parent.name / f"{script.stem}.html"
    copies = list((site / "_downloads").glob(f"*/{script.name}"))
    if page.is_file() and any(c.read_bytes() == script.read_bytes() for c in copies):
        return page
    return None


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory) -> dict:
    """{script: ("book", page) or ("standalone", (result, folder))}; standalone ones two at a time."""
    from concurrent.futures import ThreadPoolExecutor

    site = _site_or_none(request)
    out = {s: ("book", built_page(site, s)) for s in SCRIPTS if s.stem not in STANDALONE}
    out = {s: v for s, v in out.items() if v[1] is not None}

    def run(script):
        folder = tmp_path_factory.mktemp(script.stem)
        env = {**os.environ, "LLMBOOK_FIGURES_DIR": str(folder), "LLMBOOK_WEIGHTS": "standin",
               "OMP_NUM_THREADS": "1"}                    # two processes share two cores
        return script, ("standalone", (subprocess.run([sys.executable, str(script)], cwd=folder, env=env,
                                                      capture_output=True, text=True, timeout=300), folder))

    with ThreadPoolExecutor(max_workers=2) as pool:
        out.update(pool.map(run, [s for s in SCRIPTS if s not in out]))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script_runs_and_draws(script, runs):
    how, result = runs[script]
    if how == "book":
        html = result.read_text()
        assert 'class="llmbook-plotly' in html and "Plotly.newPlot" in html, f"{result} shows no figure"
        assert "Traceback (most recent call last)" not in html, f"{result} shows an error"
        assert not re.search(r'<script[^>]+src="https?://', html), "the page loads a script from the web"
        return
    done, folder = result
    assert done.returncode == 0, done.stderr[-3000:]
    figures = list(folder.glob("*.html"))
    assert figures, f"{script.name} wrote no figure:\n{done.stdout[-2000:]}"
    for f in figures:
        text = f.read_text()
        assert "Plotly.newPlot" in text
        assert not re.search(r'<script[^>]+src="https?://', text), "the figure file loads a script from the web"
    assert "figure written to" in done.stdout


def test_the_standalone_scripts_really_ran_standalone(runs):
    """The figure-file path (only a standalone run takes it) is checked on every run, whatever the site."""
    assert {s.stem for s, (how, _) in runs.items() if how == "standalone"} >= set(STANDALONE)
