"""Wide pages: figure-heavy chapters take the whole content width.

A page opts in with ``layout: wide`` in its front matter. On such a page the theme's
right-hand "Contents" column is folded away (pydata-sphinx-theme's own
``html_theme.sidebar_secondary.remove``) and ``llmbook-wide.css`` lifts the article's
60em cap, so slideshows, explorers and the widget get the width of the window less
the navigation. Narrow screens are unchanged: the theme already uses the full width.
Not handled: other layouts than ``wide`` (an unknown value is a build warning).
"""

from __future__ import annotations

from sphinx.util import logging

LAYOUTS = {"wide"}
WIDE_CSS = "llmbook-wide.css"
logger = logging.getLogger(__name__)


def wide_pages(app, pagename, templatename, context, doctree) -> None:
    """html-page-context: fold the Contents column and widen the article on ``layout: wide`` pages."""
    meta = context.get("meta") or {}
    layout = meta.get("layout")
    if layout is None:
        return
    if layout not in LAYOUTS:
        logger.warning(f"{pagename}: unknown layout {layout!r} (known: {', '.join(sorted(LAYOUTS))})",
                       location=pagename)
        return
    context["meta"] = {**meta, "html_theme.sidebar_secondary.remove": True}
    app.add_css_file(WIDE_CSS, priority=900)
