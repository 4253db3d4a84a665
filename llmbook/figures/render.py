"""Plotly output that renders offline in the book (and in a plain script's HTML file).

Importing this module registers and selects the plotly renderer ``"llmbook"``.
Each figure is emitted as two mime types:

- ``text/html``: a ``<div>`` plus ``Plotly.newPlot`` that expects ``window.Plotly``
  (the book serves ``plotly.min.js`` once from its own ``_static``; no CDN, no
  require.js). myst-nb and sphinx-gallery use this one.
- ``application/vnd.plotly.v1+json``: what JupyterLab renders natively, so the
  same chapter still works when a reader opens it as a notebook.

Div ids are derived from the figure's content, so two builds of the same figure
give byte-identical HTML. Not handled: ipywidgets (FigureWidget) output.
"""

from __future__ import annotations

import hashlib

import plotly.io as pio
from plotly.io._base_renderers import MimetypeRenderer

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


class BookRenderer(MimetypeRenderer):
    """text/html for static sites + plotly's own mime type for Jupyter."""

    def to_mimebundle(self, fig_dict):
        return {"text/html": figure_html(fig_dict),
                "application/vnd.plotly.v1+json": {"data": fig_dict.get("data", []),
                                                   "layout": fig_dict.get("layout", {}),
                                                   "config": PLOTLY_CONFIG}}


def figure_html(fig, alt: str | None = None) -> str:
    """A figure as book HTML: ``<div class="llmbook-plotly">`` + ``Plotly.newPlot``.

    alt: a text alternative for screen readers (default: ``layout.meta["alt"]``, which
    :func:`with_alt` sets), given as a visually hidden paragraph the figure is
    ``aria-describedby``; the plot itself stays interactive (no ``role="img"``).
    """
    import html as _html

    fig_dict = fig if isinstance(fig, dict) else fig.to_dict()
    meta = fig_dict.get("layout", {}).get("meta")
    alt = alt or (meta.get("alt") if isinstance(meta, dict) else None)
    blob = pio.to_json(fig_dict, validate=False, pretty=False).encode()   # numpy-aware, every value
    div_id = "fig-" + hashlib.sha256(blob).hexdigest()[:12]
    body = pio.to_html(fig_dict, include_plotlyjs=False, full_html=False, div_id=div_id,
                       config=PLOTLY_CONFIG, validate=False, auto_play=False)  # readers press Play
    if not alt:
        return f'<div class="llmbook-plotly">{body}</div>'
    return (f'<p class="visually-hidden" id="{div_id}-alt">{_html.escape(alt)}</p>'
            f'<div class="llmbook-plotly" aria-describedby="{div_id}-alt">{body}</div>')


def with_alt(fig, alt: str):
    """Attach a text alternative to a figure (read by :func:`figure_html`)."""
    fig.update_layout(meta={"alt": alt})
    return fig


def use_book_renderer() -> None:
    pio.renderers["llmbook"] = BookRenderer()
    pio.renderers.default = "llmbook"


use_book_renderer()


def show(fig, name: str):
    """Finish a gallery figure: in the book it is returned (and rendered inline);
    run as a plain script it is also written to ``<name>.html`` (plotly.js inlined,
    so the file opens offline) in ``LLMBOOK_FIGURES_DIR`` or the current folder.
    """
    import os
    import sys
    from pathlib import Path

    in_build = "sphinx_gallery" in sys.modules or "ipykernel" in sys.modules
    if not in_build:
        path = Path(os.environ.get("LLMBOOK_FIGURES_DIR", ".")) / f"{name}.html"
        fig.write_html(path, include_plotlyjs=True, full_html=True, config=PLOTLY_CONFIG)
        print(f"figure written to {path.resolve()}")
    return fig
