"""Give back what the gallery's scripts held before the chapters' kernels start.

sphinx-gallery runs the scripts inside the Sphinx process, and :func:`llmbook.load_model`
memoises the models they load, so without this the process would keep a model for the
rest of the build while each chapter's kernel loads its own (Read the Docs allows 7 GB
for the whole tree). Not handled: memory other extensions keep.
"""

from __future__ import annotations

import ctypes
import gc


def release_models(app) -> None:
    """builder-inited, after the gallery: forget memoised models, collect, return freed heap to the OS."""
    from ..lm.models import _load

    _load.cache_clear()
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):        # not glibc: the allocator keeps its pages
        pass
