"""Shared test setup: offline tokenizer fixture, a private trace cache, small models.

Small configs keep unit tests fast while using the real tokenizers and the real
transformers classes; full-size models are only in tests marked ``slow``.

Each test gets a private trace cache, but Part II's trained artifacts are shared by
the whole session (:func:`tiny_artifacts`): they come from the book build's cache
when the suite runs after ``make book`` (as in CI), else they are trained once.

``make test`` runs the suite on two pytest-xdist workers (``-n 2 --dist loadfile``: a
module's tests stay on one worker, so its module fixtures are built once). Each worker is its
own process with its own session fixtures, so here (for tests not yet written too): the site
build and the tiny training take a file lock (the second worker finds them done); files a
session fixture writes go to :func:`run_folder`, shared by the workers, under a lock (the visit
of every page, :data:`MADE_ONCE`, is made once and read by the other worker); modules are
handed out in the order :func:`pytest_collection_modifyitems` gives; torch keeps to one thread
per worker; and what tests put in :data:`SUMMARY` comes back from the workers. Not handled: a
new expensive session fixture runs once per worker until it shares its output the same way.
(``--dist loadgroup`` would group by marker, but xdist 3.8 cannot rename pytest 9's node ids.)
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

WORKER = os.environ.get("PYTEST_XDIST_WORKER")      # "gw0", "gw1" under xdist, else None
ONE_THREAD_FOR_XDIST = bool(WORKER) and "OMP_NUM_THREADS" not in os.environ   # set here, not by the caller
if WORKER:
    os.environ.setdefault("OMP_NUM_THREADS", "1")    # two workers share two cores: one torch thread each

from llmbook.lm.cache import exclusive  # noqa: E402  (after the thread setting: llmbook imports numpy)

# session fixtures made once per run and shared through run_folder(): their modules are ordered
MADE_ONCE = ("visits",)
# modules of about a minute, handed out first among their rank (longest first), so no worker starts one last
# (measured in the shipped phase: the wheel's minute began after the others and ended 15 s late)
LONGEST = ("tests/browser/test_gpt2_engine.py", "tests/test_packaging.py", "tests/browser/test_llama_page.py")


def run_folder(tmp_path_factory) -> Path:
    """A folder for this run's files shared by every worker (xdist) or the one process."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if WORKER else base


def pytest_collection_modifyitems(config, items):
    """Under xdist (``--dist loadfile``, modules handed out in this order): first one module that
    uses a :data:`MADE_ONCE` fixture (its worker computes it while the other works), then the
    modules with a ``slow`` test (the :data:`LONGEST` first), then the rest, and last the other
    modules that use a :data:`MADE_ONCE` fixture (by then they read the record the first one left)."""
    if not WORKER:
        return
    module = lambda item: item.nodeid.split("::")[0]        # noqa: E731
    shared = [module(i) for i in items if set(MADE_ONCE) & set(getattr(i, "fixturenames", ()))]
    slow = {module(i) for i in items if i.get_closest_marker("slow")}
    rank = lambda i: (0 if module(i) == shared[0] else 3 if module(i) in shared   # noqa: E731
                      else 1 if module(i) in slow else 2) if shared else (module(i) not in slow)
    first = lambda i: LONGEST.index(module(i)) if module(i) in LONGEST else len(LONGEST)   # noqa: E731
    items.sort(key=lambda i: (rank(i), first(i)))           # stable: file order within a rank


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
        return book_artifacts()                     # xdist: one worker trains, the other waits (its lock)


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
def tinyllama_file(tmp_path_factory) -> Path:
    """The full-size TinyLlama stand-in as the hub serves it (bfloat16 model.safetensors, 2.2 GB,
    ``write_checkpoint("tinyllama", ..., seed=0)``), written once per run and shared by the
    workers. Read-only: a test that wants a config.json beside it links the file into its own
    folder (``(tmp_path / "model.safetensors").symlink_to(tinyllama_file)``)."""
    return shared_checkpoint(tmp_path_factory, "tinyllama", "tinyllama-full")


def shared_checkpoint(tmp_path_factory, model: str, name: str) -> Path:
    """``write_checkpoint(model, ..., seed=0)`` as ``<run folder>/<name>/model.safetensors``, written
    once per run under a lock (the xdist workers share it; a half-written file is never seen)."""
    from llmbook.testing.hub import write_checkpoint

    folder = run_folder(tmp_path_factory) / name
    with exclusive(folder.with_name(f"{name}.lock")):
        if not (folder / "model.safetensors").is_file():
            folder.mkdir(exist_ok=True)
            write_checkpoint(model, folder / "model.safetensors.part", seed=0).rename(folder / "model.safetensors")
    return folder / "model.safetensors"


@pytest.fixture(scope="session")
def site() -> Path:
    """The built book: ``LLMBOOK_SITE`` if set, else an incremental build of ``book/``.

    The incremental build re-executes nothing when nothing changed, so running it
    here costs seconds after the README's build command. Under xdist the first worker
    builds (holding a lock) and the other finds this run's stamp and reuses the site.
    """
    if os.environ.get("LLMBOOK_SITE"):
        return Path(os.environ["LLMBOOK_SITE"])
    out = ROOT / "book" / "_build" / "html"
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
    stamp = ROOT / "book" / "_build" / ".pytest-site-run"
    with exclusive(ROOT / "book" / "_build" / ".pytest-site.lock"):
        if run and stamp.is_file() and stamp.read_text() == run:
            return out
        cmd = [sys.executable, "-m", "sphinx", "-nW", "--keep-going", "-q", "-b", "html",
               str(ROOT / "book"), str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 0, f"book build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        stamp.write_text(run)
    return out



SUMMARY: list[str] = []         # lines tests want in the terminal summary (measured numbers)


def pytest_sessionfinish(session):
    if WORKER:                                   # the controller prints it (pytest_testnodedown)
        session.config.workeroutput["llmbook_summary"] = list(SUMMARY)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    SUMMARY.extend(getattr(node, "workeroutput", {}).get("llmbook_summary", []))


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
