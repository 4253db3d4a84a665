"""Stop a build in seconds when it cannot succeed, before the BPE, training or any capture.

The models a build needs are the ones its pages and gallery scripts name (``"distilgpt2"``,
``"tinyllama"`` in their source); :func:`llmbook.lm.preflight.missing_pieces` checks their
tokenizers and the weights policy's answer. Everything missing is listed in one message.
Not handled: a page that loads a model without naming it (list it in a comment).
"""

from __future__ import annotations

from pathlib import Path

from sphinx.errors import ConfigError

from ..lm.preflight import missing_pieces
from ..lm.specs import SPECS
from .quick import gallery_enabled, only_chapters


def models_named(app, config) -> list[str]:
    """The models named in the pages this build reads (and in the gallery's scripts, when it runs)."""
    src = Path(app.srcdir)
    only = only_chapters()
    pages = [p for p in src.rglob("*.md") if "_build" not in p.parts and "auto_examples" not in p.parts
             and (not only or str(p.relative_to(src).with_suffix("")) in [*only, "index"])]
    sources = [p.read_text(errors="replace") for p in pages]
    conf = getattr(config, "sphinx_gallery_conf", None) or {}
    if gallery_enabled() and conf.get("examples_dirs"):
        sources += [p.read_text() for p in (src / conf["examples_dirs"]).rglob("*.py")]
    return [name for name in SPECS if any(f'"{name}' in text or f"'{name}" in text for text in sources)]


def check_inputs(app, config) -> None:
    """config-inited: refuse to start, listing every missing tokenizer and weights file."""
    problems = missing_pieces(models_named(app, config))
    if problems:
        raise ConfigError("this book cannot be built here; missing:\n" + "\n".join(f"  - {p}" for p in problems))
