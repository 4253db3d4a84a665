"""The traces the book's pages are built from, named once.

Chapters call :func:`book_trace`; ``llmbook capture --book --out DIR`` captures all
of them into a folder that ``LLMBOOK_TRACES=DIR`` then serves (a maintainer with
the real weights commits it, so builds without the weights still show real ones).
TinyLlama keeps per-block detail for three layers only, which keeps its trace
small enough to commit.
"""

from __future__ import annotations

from ..lm.capture import Sampling
from ..lm.store import get_trace

BOOK_TRACES = {
    "distilgpt2-months": ("distilgpt2", "January, February, March,",
                          dict(max_new_tokens=8, sampling=Sampling())),
    "tinyllama-colors": ("tinyllama", "Name three primary colors.",
                         dict(max_new_tokens=40, sampling=Sampling(), layers=(0, 11, 21))),   # to </s> or 40
}


def book_trace(name: str, **overrides):
    """A named book trace (from the shipped folder, the cache, or a fresh capture)."""
    try:
        model, prompt, settings = BOOK_TRACES[name]
    except KeyError:
        raise ValueError(f"no book trace {name!r}; known: {', '.join(BOOK_TRACES)}") from None
    return get_trace(model, prompt, **{**settings, **overrides})
