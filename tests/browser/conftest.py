"""Fixtures for browser tests: a server on loopback for the built site (``site``, in tests/conftest.py), Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.harness import CHROMIUM, browser, serve

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


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


@pytest.fixture(scope="session")
def visits(site, base_url, chromium):
    """Every page visited once: console, requests, figures, axe light and dark (tests/browser/visits.py)."""
    from tests.browser.test_a11y import axe_source
    from tests.browser.visits import visit_every_page

    return visit_every_page(site, base_url, chromium, axe_source())


@pytest.fixture(scope="session")
def distilgpt2_file(tmp_path_factory):
    """The book's stand-in distilgpt2 as the hub serves it: float32 model.safetensors, 353 MB."""
    from llmbook.testing.hub import write_checkpoint

    folder = tmp_path_factory.mktemp("distilgpt2")
    return write_checkpoint("distilgpt2", folder / "model.safetensors", seed=0)
