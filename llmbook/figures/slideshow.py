"""A step-by-step slideshow of figures, as one block of HTML for a chapter.

Each :class:`Slide` holds figures (plotly figures or ready HTML), a caption and a
text alternative. Without JavaScript every slide is shown, one under the other
(so the page prints and reads without scripts); ``_static/slideshow.js`` turns
the block into a slideshow with Prev/Next/Play, arrow keys, Home/End and a step
indicator, and honours ``prefers-reduced-motion``.

All text is HTML-escaped here; captions may use ``**bold**`` and ```code```
and nothing else. Not handled: nested slideshows, slides added at run time.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field

from .render import figure_html

_INLINE = [(re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"), (re.compile(r"`(.+?)`"), r"<code>\1</code>")]


def caption_html(text: str) -> str:
    """Escape ``text``, then allow **bold** and `code` (nothing else)."""
    out = html.escape(text, quote=False)
    for pattern, repl in _INLINE:
        out = pattern.sub(repl, out)
    return out


@dataclass
class Slide:
    label: str                     # short step name for the indicator: "Tokenize"
    caption: str                   # two or three sentences: what happens, what the shapes are
    alt: str                       # text alternative for the figure(s)
    figures: list = field(default_factory=list)   # plotly figures or trusted HTML strings
    check: str | None = None       # "recomputed from the weights: agrees to 3e-7"

    def body(self) -> str:
        parts = [f if isinstance(f, str) else figure_html(f) for f in self.figures]
        return "\n".join(parts)


@dataclass
class Slideshow:
    title: str
    slides: list[Slide]

    def slug(self) -> str:
        return "ss-" + hashlib.sha256(self.title.encode()).hexdigest()[:10]

    def _repr_html_(self) -> str:
        sid, n = self.slug(), len(self.slides)
        tabs = "".join(
            f'<li><button type="button" class="ss-tab" data-step="{i}" aria-controls="{sid}-{i}">'
            f'<span class="ss-num">{i + 1}</span> {html.escape(s.label)}</button></li>'
            for i, s in enumerate(self.slides))
        slides = "".join(self._slide(sid, i, n, s) for i, s in enumerate(self.slides))
        return (
            f'<figure class="llmbook-slideshow" id="{sid}" aria-roledescription="slideshow" '
            f'aria-label="{html.escape(self.title, quote=True)}">'
            f'<figcaption class="ss-title">{html.escape(self.title)}</figcaption>'
            f'<ol class="ss-steps" aria-label="steps">{tabs}</ol>'
            f'<div class="ss-controls" hidden>'
            f'<button type="button" class="ss-prev">◀ Prev</button>'
            f'<button type="button" class="ss-play">▶ Play</button>'
            f'<button type="button" class="ss-next">Next ▶</button>'
            f'<span class="ss-status" aria-live="polite">Step 1 of {n}</span></div>'
            f'<div class="ss-stage">{slides}</div></figure>')

    @staticmethod
    def _slide(sid: str, i: int, n: int, s: Slide) -> str:
        check = f'<p class="ss-check">✓ {caption_html(s.check)}</p>' if s.check else ""
        return (
            f'<section class="ss-slide" id="{sid}-{i}" data-step="{i}" data-label="{html.escape(s.label, quote=True)}" aria-roledescription="slide" '
            f'aria-label="Step {i + 1} of {n}: {html.escape(s.label, quote=True)}">'
            f'<h3 class="ss-heading">{i + 1} · {html.escape(s.label)}</h3>'
            f'<p class="ss-alt visually-hidden" id="{sid}-{i}-alt">{html.escape(s.alt)}</p>'
            f'<div class="ss-figures" aria-describedby="{sid}-{i}-alt">{s.body()}</div>'
            f'<p class="ss-caption">{caption_html(s.caption)}</p>{check}</section>')
