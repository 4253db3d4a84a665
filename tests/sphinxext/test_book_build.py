"""The book's Sphinx configuration on tiny throwaway chapters (``-c book``).

Each test builds a temporary source folder with the real ``book/conf.py`` (gallery
off, private execution cache), so they check the configuration itself: a failing
cell fails the build with the chapter and traceback, and an unchanged chapter is
not executed twice.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

CHAPTER = """---
file_format: mystnb
kernelspec:
  name: python3
  display_name: Python 3
---
# {title}

## The cell

```{{code-cell}} python
{code}
```

## After it

Two sections give the page a table of contents, so the theme would show its Contents column.
"""


def _book(tmp_path: Path, code: str) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "index.md").write_text("# Test\n\n```{toctree}\nchapter\n```\n")
    (src / "chapter.md").write_text(CHAPTER.format(title="A chapter", code=code))
    return src


def _build(tmp_path: Path, src: Path, monkeypatch) -> subprocess.CompletedProcess:
    monkeypatch.setenv("LLMBOOK_GALLERY", "0")
    cmd = [sys.executable, "-m", "sphinx", "-nW", "--keep-going", "-b", "html",
           "-c", str(ROOT / "book"), "-D", f"nb_execution_cache_path={tmp_path / 'cache'}",
           str(src), str(tmp_path / "out")]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_a_failing_cell_fails_the_build_with_chapter_and_traceback(tmp_path, monkeypatch):
    src = _book(tmp_path, "import llmbook\nraise RuntimeError('the capture disagrees')")
    done = _build(tmp_path, src, monkeypatch)
    log = done.stdout + done.stderr
    assert done.returncode != 0
    assert "chapter.md" in log and "RuntimeError" in log and "the capture disagrees" in log
    assert "Traceback" in log or "---------" in log


def test_an_unchanged_chapter_is_not_executed_again(tmp_path, monkeypatch):
    src = _book(tmp_path, "from llmbook.lm.specs import get_spec\nprint(get_spec('tinyllama').n_layers)")
    first = _build(tmp_path, src, monkeypatch)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Executing notebook" in first.stdout
    assert "22" in (tmp_path / "out" / "chapter.html").read_text()
    second = _build(tmp_path, src, monkeypatch)
    assert second.returncode == 0 and "Executing notebook" not in second.stdout
    shutil.rmtree(tmp_path / "out")
    third = _build(tmp_path, src, monkeypatch)              # fresh output, same cache: no execution
    assert third.returncode == 0 and "Executing notebook" not in third.stdout
    assert "22" in (tmp_path / "out" / "chapter.html").read_text()


def _book_build(tmp_path, **env) -> tuple[subprocess.CompletedProcess, float]:
    """The real book/, as the README's command builds it, in a private cache; (result, seconds)."""
    import os
    import time

    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sphinx", "-nW", "--keep-going", "-b", "html",
                           str(ROOT / "book"), str(tmp_path / "out")], capture_output=True, text=True,
                          env={**os.environ, "LLMBOOK_CACHE": str(tmp_path / "cache"), **env})
    return done, time.perf_counter() - t0


def test_real_weights_required_but_missing_fails_fast_with_a_how_to(tmp_path, offline_hub):
    """LLMBOOK_WEIGHTS=real with no weights anywhere: the build stops in seconds, before any chapter."""
    done, seconds = _book_build(tmp_path, LLMBOOK_WEIGHTS="real", LLMBOOK_ONLY="part1/walkthrough-distilgpt2")
    log = done.stdout + done.stderr
    assert done.returncode != 0
    assert "distilgpt2 weights" in log and "huggingface-cli download distilbert/distilgpt2" in log
    assert "tinyllama" not in log                       # that page needs distilgpt2 only
    assert "Executing notebook" not in log
    assert seconds < 30, f"took {seconds:.0f} s to fail"


def test_a_hosted_build_with_nothing_lists_every_missing_piece_at_once(tmp_path, offline_hub):
    """Read the Docs' policy (real weights), an empty cache and a tokenizer variable gone wrong."""
    done, seconds = _book_build(tmp_path, READTHEDOCS="True", LLMBOOK_LLAMA_TOKENIZER=str(tmp_path / "gone.model"))
    log = done.stdout + done.stderr
    assert done.returncode != 0 and "cannot be built here" in log
    for piece in ("distilgpt2 weights", "tinyllama weights", "tinyllama tokenizer"):
        assert piece in log, piece
    assert not (tmp_path / "cache" / "tiny").exists(), "it trained the tiny model before stopping"
    assert seconds < 30, f"took {seconds:.0f} s to fail"


def test_wide_pages_fold_the_contents_column_and_a_book_without_part2_trains_nothing(tmp_path, monkeypatch):
    src = _book(tmp_path, "print('narrow')")
    (src / "index.md").write_text("# Test\n\n```{toctree}\nchapter\nwide\n```\n")
    (src / "wide.md").write_text("---\nlayout: wide\n" + CHAPTER.format(title="Wide", code="print('wide')")[4:])
    cache = tmp_path / "llmbook-cache"
    monkeypatch.setenv("LLMBOOK_CACHE", str(cache))
    done = _build(tmp_path, src, monkeypatch)
    assert done.returncode == 0, done.stdout + done.stderr
    wide, narrow = (tmp_path / "out" / "wide.html").read_text(), (tmp_path / "out" / "chapter.html").read_text()
    assert "llmbook-wide.css" in wide and "llmbook-wide.css" not in narrow
    assert 'class="bd-sidebar-secondary' not in wide and 'class="bd-sidebar-secondary' in narrow
    assert not (cache / "tiny").exists(), "a book without Part II pages trained the tiny model"


def test_an_unknown_layout_is_a_warning_that_fails_the_strict_build(tmp_path, monkeypatch):
    src = _book(tmp_path, "print(1)")
    (src / "chapter.md").write_text("---\nlayout: sideways\n" + CHAPTER.format(title="T", code="print(1)")[4:])
    done = _build(tmp_path, src, monkeypatch)
    assert done.returncode != 0 and "unknown layout 'sideways'" in done.stdout + done.stderr
