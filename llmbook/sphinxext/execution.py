"""When chapters and gallery scripts run again: exactly when the package changed.

jupyter-cache keys a notebook on its cells' source only, so a chapter whose cells
did not change would keep outputs computed by an older ``llmbook``. The execution
cache therefore lives in a folder named after a hash of the package's source, and
the gallery re-runs its scripts when the hash differs from the one it last ran on.
Not handled: changes in installed libraries (torch, transformers): ``make clean``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..lm.provenance import package_source_digest
from .settings import settings

STAMP = ".llmbook-source-digest"


def _cache_root(app) -> Path:
    return Path(app.outdir).parent / ".jupyter_cache"


def key_execution_cache(app, config) -> None:
    """config-inited: ``nb_execution_cache_path`` = ``_build/.jupyter_cache/<package hash>`` unless set."""
    if not config.nb_execution_cache_path:
        config.nb_execution_cache_path = str(_cache_root(app) / package_source_digest())


def prune_old_caches(app) -> None:
    """builder-inited: execution caches of earlier package versions are never read again."""
    current = Path(app.config.nb_execution_cache_path)
    root = _cache_root(app)
    if current.parent == root and root.is_dir():
        for old in root.iterdir():
            if old != current:
                shutil.rmtree(old, ignore_errors=True)


def _stamp(app) -> Path:
    return Path(app.srcdir) / settings(app.config)["gallery_dir"] / STAMP


def rerun_stale_gallery(app) -> None:
    """builder-inited: sphinx-gallery re-runs every script when the package changed since its last run.

    Set after the HTML builder has hashed its configuration (``.buildinfo``), not on config-inited:
    the flag flips back once the scripts have run, and a hashed flip made the next, unchanged build
    rewrite every page."""
    conf = getattr(app.config, "sphinx_gallery_conf", None)
    if conf is None:
        return
    stamp = _stamp(app)
    conf["run_stale_examples"] = not stamp.is_file() or stamp.read_text().strip() != package_source_digest()


def stamp_gallery(app, exception) -> None:
    """build-finished: remember the package hash the gallery's outputs were made with."""
    if exception is None and _stamp(app).parent.is_dir() and "sphinx_gallery.gen_gallery" in app.extensions:
        _stamp(app).write_text(package_source_digest())


