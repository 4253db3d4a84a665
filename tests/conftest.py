"""Shared test setup: offline tokenizer fixture, a private trace cache, small models.

Small configs keep unit tests fast while using the real tokenizers and the real
transformers classes; full-size models are only in tests marked ``slow``.

Each test gets a private trace cache, but Part II's trained artifacts are shared by
the whole session (:func:`tiny_artifacts`): they come from the book build's cache
when the suite runs after ``make book`` (as in CI), else they are trained once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_TOKENIZER = ROOT.parent / "shared" / "fixtures" / "llama2-tokenizer.model"
if "LLMBOOK_LLAMA_TOKENIZER" not in os.environ and SHARED_TOKENIZER.is_file():
    os.environ["LLMBOOK_LLAMA_TOKENIZER"] = str(SHARED_TOKENIZER)

SMALL = {
    "distilgpt2": {"n_layer": 2, "n_embd": 64, "n_head": 4},
    "tinyllama": {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
                  "num_key_value_heads": 2, "intermediate_size": 160},
}
PROMPTS = {"distilgpt2": "January, February, March,", "tinyllama": "Name three primary colors."}


BUILD_CACHE = os.environ.get("LLMBOOK_CACHE")   # the book build's cache, read before any test replaces it


@pytest.fixture(scope="session")
def tiny_artifacts() -> Path:
    """The folder of Part II's artifacts (BPE, trained checkpoint), built at most once per session."""
    from llmbook.tiny.artifacts import book_artifacts

    with pytest.MonkeyPatch.context() as mp:
        if BUILD_CACHE:
            mp.setenv("LLMBOOK_CACHE", BUILD_CACHE)
        else:
            mp.delenv("LLMBOOK_CACHE", raising=False)
        return book_artifacts()


@pytest.fixture(scope="session")
def fake_hub():
    """A Hugging Face cache with both models as the hub serves them (about 2.5 GB), once per session."""
    import shutil
    import tempfile

    from llmbook.testing.hub import write_fake_hub

    home = Path(tempfile.mkdtemp(prefix="llmbook-fake-hub-"))
    try:
        write_fake_hub(home)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def site() -> Path:
    """The built book: ``LLMBOOK_SITE`` if set, else an incremental build of ``book/``.

    The incremental build re-executes nothing when nothing changed, so running it
    here costs seconds after the README's build command.
    """
    if os.environ.get("LLMBOOK_SITE"):
        return Path(os.environ["LLMBOOK_SITE"])
    out = ROOT / "book" / "_build" / "html"
    cmd = [sys.executable, "-m", "sphinx", "-nW", "--keep-going", "-q", "-b", "html",
           str(ROOT / "book"), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, f"book build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return out



SUMMARY: list[str] = []         # lines tests want in the terminal summary (measured numbers)


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.section("llmbook measurements")
        for line in SUMMARY:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _private_trace_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LLMBOOK_CACHE", str(tmp_path_factory.mktemp("trace-cache")))
    monkeypatch.delenv("LLMBOOK_TRACES", raising=False)
    monkeypatch.delenv("LLMBOOK_WEIGHTS", raising=False)
    monkeypatch.delenv("READTHEDOCS", raising=False)


@pytest.fixture
def offline_hub(monkeypatch, tmp_path):
    """No hub and an empty HF cache: real weights are unreachable."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))


@pytest.fixture(params=["distilgpt2", "tinyllama"])
def small_lm(request):
    from llmbook import load_model

    return load_model(request.param, "standin", config_overrides=SMALL[request.param])
