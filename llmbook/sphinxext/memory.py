"""Memory under Read the Docs' 7 GB: weights mapped from files, the gallery's models given back.

Chapters' kernels and gallery scripts inherit ``LLMBOOK_MAP_WEIGHTS=1`` (unless the
environment already says otherwise), so real weights are file-backed pages shared by
every kernel rather than a fresh 4.4 GB of anonymous memory per TinyLlama chapter
(:mod:`llmbook.lm.mapped`). And sphinx-gallery runs the scripts inside the Sphinx process, and :func:`llmbook.load_model`
memoises the models they load, so without this the process would keep a model for the
rest of the build while each chapter's kernel loads its own (Read the Docs allows 7 GB
for the whole tree). Not handled: memory other extensions keep.
"""

from __future__ import annotations

import ctypes
import gc
import os

from ..lm.mapped import MAP_ENV


def map_weights(app, config) -> None:
    """config-inited: real weights are mapped in this process and every kernel it starts."""
    os.environ.setdefault(MAP_ENV, "1")


def release_models(app) -> None:
    """builder-inited, after the gallery: forget memoised models, collect, return freed heap to the OS."""
    from ..lm.models import _load

    _load.cache_clear()
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):        # not glibc: the allocator keeps its pages
        pass
