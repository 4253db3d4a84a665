"""Where llmbook keeps what it computes once: traces and the tiny model's build artifacts."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "LLMBOOK_CACHE"


def cache_root() -> Path:
    """``LLMBOOK_CACHE``, default ``~/.cache/llmbook``. Safe to delete at any time."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "llmbook")
