"""Processes sharing llmbook's cache take turns (the tiny model's folder: one trains, the rest wait)."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import time

import pytest

from llmbook.lm.cache import exclusive

# another process building: it holds the lock file (flock, as exclusive takes it) while it "trains"
HOLD = """
import fcntl, sys, time
from pathlib import Path
with open(sys.argv[1], "a") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    print("holding", flush=True)
    time.sleep(1.0)
    Path(sys.argv[2]).write_text("built")
"""


def test_a_second_process_waits_for_the_one_building_and_says_so(tmp_path, capfd):
    lock, built = tmp_path / "key.lock", tmp_path / "built"
    other = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), str(built)], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "holding"
        start = time.perf_counter()
        with exclusive(lock, "waiting for another process building the tiny model"):
            waited = time.perf_counter() - start
            assert built.read_text() == "built"                   # its work was done before this turn began
        assert waited > 0.3
        assert "waiting for another process building the tiny model" in capfd.readouterr().err
    finally:
        other.wait(timeout=30)


def test_a_free_lock_is_taken_at_once_and_silently(tmp_path, capfd):
    with exclusive(tmp_path / "key.lock", "waiting"):
        pass
    assert capfd.readouterr().err == ""


def test_the_lock_is_released_when_the_build_fails(tmp_path):
    lock = tmp_path / "key.lock"
    with pytest.raises(RuntimeError):
        with exclusive(lock):
            raise RuntimeError("training diverged")
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)              # raises BlockingIOError if still held
