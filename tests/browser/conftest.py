"""Fixtures for browser tests: the built site, a server on loopback, Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.harness import CHROMIUM, browser, serve

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


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


@pytest.fixture(scope="session")
def base_url(site):
    with serve(site) as url:
        yield url


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian chromium not found at {CHROMIUM}: apt-get install chromium chromium-driver")
    with browser() as ctx:
        yield ctx
