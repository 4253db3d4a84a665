"""Shared figure helpers for every page and gallery script (the "pages" layer's base).

- :mod:`.render`: plotly output that renders offline (importing it selects the
  ``"llmbook"`` renderer), and :func:`show` for gallery scripts;
- :mod:`.plots`: the book's frame, heatmap and animation controls;
- :mod:`.labels`: stand-in/real notices, verification and provenance tables;
- :mod:`.slideshow`: step-by-step slides as plain HTML.
"""

from .labels import plotly_text, prob, provenance_table, standin_note, verification_table, weights_notice
from .plots import animate, book_layout, heatmap, scrub, token_labels
from .render import PLOTLY_CONFIG, figure_html, show, use_book_renderer, with_alt

__all__ = ["PLOTLY_CONFIG", "animate", "book_layout", "figure_html", "heatmap", "plotly_text", "prob", "provenance_table",
           "scrub", "show", "standin_note", "token_labels", "use_book_renderer", "verification_table",
           "weights_notice", "with_alt"]
