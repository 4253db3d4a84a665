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
def visits(site, base_url, chromium, tmp_path_factory):
    """Every page visited once: console, requests, figures, axe light and dark (tests/browser/visits.py).
    Once per run: under xdist the first worker visits (holding a lock), the other reads its record
    (JSON, never pickle; each page's log comes back as a PageLog)."""
    import dataclasses
    import json

    from tests.browser.harness import PageLog
    from tests.browser.test_a11y import axe_source
    from tests.browser.visits import visit_every_page
    from tests.conftest import exclusive, run_folder

    record = run_folder(tmp_path_factory) / "visits.json"
    with exclusive(record.with_suffix(".lock")):
        if not record.is_file():           # both workers then read the same record back
            out = visit_every_page(site, base_url, chromium, axe_source())
            record.write_text(json.dumps({rel: {**v, "log": dataclasses.asdict(v["log"])} for rel, v in out.items()}))
    out = json.loads(record.read_text())
    return {rel: {**v, "log": PageLog(**v["log"])} for rel, v in out.items()}


@pytest.fixture(scope="session")
def distilgpt2_file(tmp_path_factory):
    """The book's stand-in distilgpt2 as the hub serves it: float32 model.safetensors, 353 MB.
    Written once per run: under xdist into the run's folder shared by the workers, under a lock."""
    from tests.conftest import shared_checkpoint

    return shared_checkpoint(tmp_path_factory, "distilgpt2", "distilgpt2")
