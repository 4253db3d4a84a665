"""Quick author builds: a few chapters, or no gallery, chosen from the environment.

- ``LLMBOOK_ONLY=part1/verify[,…]``: build just these chapters, the landing page and the
  glossary (chapters link their terms to it);
  links to the pages left out are not warnings in such a build.
- ``LLMBOOK_GALLERY=0``: leave sphinx-gallery out (``conf.py`` asks :func:`gallery_enabled`).

Not handled: globs in ``LLMBOOK_ONLY`` (name each chapter).
"""

from __future__ import annotations

import os
from pathlib import Path

ALWAYS = ["index", "glossary"]     # kept in a partial build
QUIET_WHEN_PARTIAL = ["toc.excluded", "toc.not_readable", "ref.doc", "ref.ref", "myst.xref_missing"]


def only_chapters() -> list[str]:
    """The chapters named by ``LLMBOOK_ONLY`` (docnames, no suffix); empty for a full build."""
    return [d.strip().removesuffix(".md") for d in os.environ.get("LLMBOOK_ONLY", "").split(",") if d.strip()]


def gallery_enabled() -> bool:
    """False for ``LLMBOOK_GALLERY=0`` and for a partial build."""
    return os.environ.get("LLMBOOK_GALLERY") != "0" and not only_chapters()


def exclude_other_chapters(app, config) -> None:
    """config-inited: with ``LLMBOOK_ONLY``, every other chapter and the gallery's pages are excluded."""
    only = only_chapters()
    if not only:
        return
    src = Path(app.srcdir)
    others = [str(p.relative_to(src)) for p in src.rglob("*.md")
              if "_build" not in p.parts and str(p.relative_to(src).with_suffix("")) not in [*only, *ALWAYS]]
    config.exclude_patterns = [*config.exclude_patterns, *others, "auto_examples", "sg_execution_times.rst"]
    config.suppress_warnings = [*config.suppress_warnings, *QUIET_WHEN_PARTIAL]
