"""Where a number came from: versions, weights, and a hash of the code that captured it."""

from __future__ import annotations

import hashlib
import platform
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).parent

# modules whose source decides what a trace contains: editing one re-keys every trace
CAPTURE_MODULES = ("specs.py", "tokenizers.py", "weights.py", "models.py", "hooks.py",
                   "capture.py", "lens.py", "trace.py")


def source_digest(files) -> str:
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(Path(f).name.encode() + b"\0" + Path(f).read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=1)
def capture_code_version() -> str:
    """16 hex digits identifying the capture code (part of every trace cache key)."""
    return source_digest(PACKAGE_DIR / m for m in CAPTURE_MODULES)[:16]


def package_source_digest() -> str:
    """Hash of every .py file of the whole llmbook package: the book's execution cache keys on it."""
    return source_digest(PACKAGE_DIR.parent.rglob("*.py"))[:16]


def versions() -> dict:
    import numpy
    import torch
    import transformers

    from .._version import __version__

    return {"llmbook": __version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def provenance(lm, **extra) -> dict:
    """Provenance every trace carries (CONTRACTS §3 and the honest-labels rule)."""
    return {
        "model": lm.spec.name, "hub_id": lm.spec.hub_id,
        "weights": lm.weights.identity, "is_standin": lm.is_standin,
        "revision": lm.revision, "weights_label": lm.weights_label, "dtype": lm.dtype,
        "attn_implementation": lm.model.config._attn_implementation,
        "capture_code": capture_code_version(),
        "captured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **versions(), **extra,
    }
