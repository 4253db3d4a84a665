"""Where llmbook keeps what it computes once: traces and the tiny model's build artifacts.

:func:`exclusive` lets processes sharing the cache take turns on what one of them builds.
Not handled: locks on Windows or on file systems without POSIX locks (there it does not wait).
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

CACHE_ENV = "LLMBOOK_CACHE"


def cache_root() -> Path:
    """``LLMBOOK_CACHE``, default ``~/.cache/llmbook``. Safe to delete at any time."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "llmbook")


@contextmanager
def exclusive(lock: Path, waiting: str | None = None):
    """Hold an exclusive lock on the file ``lock`` (created if missing): one process at a time.
    ``waiting``: said on stderr when another process holds it, before this one waits."""
    try:
        import fcntl
    except ImportError:                                  # Windows: no lock (see the module's note)
        yield
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                print(f"{waiting} ({lock})", file=sys.stderr, flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
