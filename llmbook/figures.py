"""Plotly output that renders offline in the book, and honest labels for figures.

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


def weights_notice(trace_or_lm) -> str:
    """MyST admonition for the top of a page: stand-in or real, and from where."""
    prov = getattr(trace_or_lm, "provenance", None)
    standin = trace_or_lm.is_standin
    label = prov["weights_label"] if prov else trace_or_lm.weights_label
    name = prov["model"] if prov else trace_or_lm.name
    if standin:
        return (":::{admonition} Stand-in weights\n:class: warning\n\n"
                f"The published **{name}** weights were not available when this page was built, so "
                f"its figures come from {label}. The tokenizer, the shapes and every step of the "
                "computation are the real model's; the values are random, so the predictions "
                "are meaningless. Build with the real weights (see the README) to see the real ones.\n:::")
    return f":::{{admonition}} Real weights\n:class: note\n\nThe figures on this page come from {label}.\n:::"


def verification_table(checks: dict, rel_tol: float = 1e-5) -> str:
    """Markdown table of :mod:`llmbook.verify` results, one row per comparison."""
    rows = ["| recomputed from the weights | max abs difference | relative | agrees |",
            "|---|---:|---:|:---:|"]
    for name, c in checks.items():
        rows.append(f"| {name} | {c.max_abs_diff:.1e} | {c.rel:.1e} | {'✓ yes' if c.ok(rel_tol) else '✗ NO'} |")
    return "\n".join(rows)


def provenance_table(trace) -> str:
    """Markdown table of a trace's provenance (model, weights, dtype, versions…)."""
    rows = ["| | |", "|---|---|"]
    for key, value in trace.provenance.items():
        if isinstance(value, float):
            value = f"{value:.3g}"
        rows.append(f"| {key} | `{value}` |")
    return "\n".join(rows)


def book_layout(fig, title: str, height: int):
    """The book's figure frame: title, height, tight margins, transparent for light/dark themes."""
    fig.update_layout(title={"text": title, "x": 0, "xanchor": "left"}, height=height,
                      margin=dict(l=10, r=10, t=70, b=10), paper_bgcolor="rgba(0,0,0,0)",
                      plot_bgcolor="rgba(0,0,0,0)", font={"size": 12})
    return fig


def heatmap(z, x=None, y=None, name: str = "", zmax: float | None = None, colorscale="RdBu",
            zmid: float | None = 0, zmin: float | None = None, showscale: bool = True, decimals: int = 4):
    """A book heatmap trace: rounded values, ±inf shown as gaps, symmetric range when ``zmax`` alone is given."""
    import numpy as np
    import plotly.graph_objects as go

    z = np.asarray(z, dtype=np.float64)
    z = np.where(np.isfinite(z), np.round(z, decimals), np.nan)
    if zmax is not None and zmin is None and zmid == 0:
        zmin = -zmax
    return go.Heatmap(z=z, x=x, y=y, colorscale=colorscale, zmid=zmid, zmin=zmin, zmax=zmax,
                      showscale=showscale, colorbar={"len": 0.8, "thickness": 12}, hoverongaps=False,
                      hovertemplate="%{y} · %{x}: %{z:.4g}<extra>" + name + "</extra>")


def animate(fig, frame_names: list[str], labels: list[str] | None = None, duration: int = 600,
            prefix: str = "", room: int = 0, active: int = 0) -> None:
    """Play/Pause buttons and a slider over ``fig.frames`` (nothing plays until pressed).

    room: extra pixels below the plot (for long or rotated x tick labels).
    """
    jump = lambda name: [[name], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate",  # noqa: E731
                                  "transition": {"duration": 0}}]
    play = {"frame": {"duration": duration, "redraw": True}, "fromcurrent": True,
            "transition": {"duration": min(300, duration // 2)}}
    stop = {"frame": {"duration": 0}, "mode": "immediate", "transition": {"duration": 0}}
    fig.update_layout(
        margin={"b": 110 + room},
        updatemenus=[{"type": "buttons", "direction": "left", "x": 0, "y": 0, "xanchor": "left",
                      "yanchor": "top", "pad": {"t": 45 + room, "r": 10}, "showactive": False,
                      "buttons": [{"label": "▶ Play", "method": "animate", "args": [None, play]},
                                  {"label": "❚❚ Pause", "method": "animate", "args": [[None], stop]}]}],
        sliders=[{"active": active, "x": 0.26, "len": 0.74, "y": 0, "yanchor": "top", "pad": {"t": 40 + room},
                  "currentvalue": {"prefix": prefix, "xanchor": "right", "font": {"size": 12}},
                  "steps": [{"label": lab, "method": "animate", "args": jump(n)}
                            for n, lab in zip(frame_names, labels or frame_names)]}])


def token_labels(tokens: list[str]) -> list[str]:
    """Token strings made visible on an axis: spaces as ␣, newlines as ↵, position prefix."""
    return [f"{i}:{t.replace(' ', '␣').replace(chr(10), '↵')}" for i, t in enumerate(tokens)]


def attention_heatmap(trace, layer: int, head: int):
    """Plotly heatmap of one head's attention probabilities [T, T] (rows: queries)."""
    import plotly.graph_objects as go

    labels = token_labels(trace.tokens)
    probs = trace.attn[layer, head]                                   # [T, T]
    fig = go.Figure(go.Heatmap(
        z=probs.round(4), x=labels, y=labels, colorscale="Blues", zmin=0, zmax=1,
        hovertemplate="query %{y}<br>key %{x}<br>p = %{z:.3f}<extra></extra>",
        colorbar={"title": "p"}))
    fig.update_layout(title=f"{trace.model_name}: layer {layer}, head {head} attention",
                      xaxis_title="key (attended to)", yaxis_title="query (attending)",
                      yaxis_autorange="reversed", height=460, margin=dict(l=10, r=10, t=50, b=10),
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    top = probs.argmax(-1)
    return with_alt(fig, f"Heatmap of layer {layer}, head {head}'s attention over {len(labels)} tokens; "
                         "each row's largest weight: " + ", ".join(f"{labels[i]} → {labels[j]}" for i, j in enumerate(top)))


def logit_lens_figure(trace, position: int = -1, k: int = 5):
    """Bar-per-layer view of the lens: the top-k candidates after each layer at one position."""
    import plotly.graph_objects as go

    ids, probs = trace.lens_top_ids[:, position, :k], trace.lens_top_probs[:, position, :k]  # [L+1, k]
    n = ids.shape[0]
    names = ["embeddings"] + [f"after block {i}" for i in range(n - 1)]
    final = trace.lens_final_prob[:, position]                       # [L+1]
    text = [", ".join(f"{trace.token_str(int(t))!r} {p:.2g}" for t, p in zip(row_ids, row_p))
            for row_ids, row_p in zip(ids, probs)]
    fig = go.Figure(go.Bar(x=final, y=names, orientation="h", text=text, textposition="auto",
                           hovertemplate="%{y}<br>top-5: %{text}<extra></extra>",
                           marker_color="#4c72b0"))
    fig.update_layout(title="Logit lens: probability of the final answer after each layer",
                      xaxis_title="probability of the final top token", yaxis_autorange="reversed",
                      height=60 + 34 * n, margin=dict(l=10, r=10, t=50, b=10),
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    return with_alt(fig, "Logit lens, one bar per layer: " + "; ".join(
        f"{name}: {p:.2g}" for name, p in zip(names, final)))



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


def standin_note(lm_or_trace) -> str:
    """One line for a script's output: which weights produced these numbers."""
    label = getattr(lm_or_trace, "weights_label", None) or lm_or_trace.provenance["weights_label"]
    if lm_or_trace.is_standin:
        return f"NOTE: {label}: shapes and mechanics are real, the values are random."
    return f"Weights: {label}."
