"""The book's figure vocabulary: one frame, one heatmap, one animation control.

Every chapter and gallery script draws with these, so figures look alike and their
animation controls sit below the plot, clear of titles and tick labels (the margin
grows with ``room``). Not handled: subplot-specific margins (callers add ``room``).
"""

from __future__ import annotations

from .labels import plotly_text

AXIS_TITLE_ROOM = 30      # pixels an x-axis title takes below its tick labels
CHAR_PX = 7               # width of one character of a 12 px tick label, about


def _room_below(fig) -> int:
    """Pixels the x axis needs under the plot: its title, and long category labels.

    Category labels over four characters are turned to -45° here (plotly would pick an
    angle by width), so the room they take is the same on a phone and on a desktop.
    Frames count too: an animation's categories may change from frame to frame.
    """
    room = AXIS_TITLE_ROOM if any(ax.title.text for ax in fig.select_xaxes()) else 0
    traces = [*fig.data, *(t for frame in fig.frames for t in frame.data)]
    longest = max((len(v) for t in traces if getattr(t, "x", None) is not None
                   for v in t.x if isinstance(v, str)), default=0)
    if longest > 4:
        fig.update_xaxes(tickangle=-45)
        room += int(longest * CHAR_PX * 0.71)
    return room


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
    """Play/Pause buttons and a slider over ``fig.frames``, below the plot (nothing plays until pressed).

    The controls sit under the x axis's tick labels and title (:func:`_room_below`), so they
    cover neither. room: extra pixels a caller knows its labels need (numeric ticks turned by
    hand, annotations below the plot). Not handled: legends placed below the plot.
    """
    room += _room_below(fig)
    play = {"frame": {"duration": duration, "redraw": True}, "fromcurrent": True,
            "transition": {"duration": min(300, duration // 2)}}
    stop = {"frame": {"duration": 0}, "mode": "immediate", "transition": {"duration": 0}}
    _grow_bottom(fig, 150 + room)
    fig.update_layout(
        updatemenus=[{"type": "buttons", "direction": "left", "x": 0, "y": 0, "xanchor": "left",
                      "yanchor": "top", "pad": {"t": 45 + room, "r": 10}, "showactive": False,
                      "buttons": [{"label": "▶ Play", "method": "animate", "args": [None, play]},
                                  {"label": "❚❚ Pause", "method": "animate", "args": [[None], stop]}]}],
        # the slider on its own row under the buttons: side by side they collide on a phone
        sliders=[_slider(frame_names, labels, prefix, active, top=80 + room, value_at="right")])


def scrub(fig, frame_names: list[str], labels: list[str] | None = None, prefix: str = "",
          room: int = 0, active: int = 0) -> None:
    """A slider alone over ``fig.frames`` (no Play button), placed as :func:`animate` places it."""
    room += _room_below(fig)
    _grow_bottom(fig, 80 + room)
    fig.update_layout(sliders=[_slider(frame_names, labels, prefix, active, top=40 + room, value_at="left")])


def _grow_bottom(fig, bottom: int) -> None:
    """Set the bottom margin, growing a fixed-height figure by as much: the plot keeps its size."""
    before = fig.layout.margin.b or 0
    if fig.layout.height and bottom > before:
        fig.update_layout(height=fig.layout.height + bottom - before)
    fig.update_layout(margin={"b": bottom})


def _slider(frame_names, labels, prefix: str, active: int, top: int, value_at: str) -> dict:
    """A full-width slider ``top`` pixels under the plot, one step per frame, jumping without transition."""
    jump = {"frame": {"duration": 0, "redraw": True}, "mode": "immediate", "transition": {"duration": 0}}
    return {"active": active, "x": 0, "len": 1, "y": 0, "yanchor": "top", "pad": {"t": top},
            "currentvalue": {"prefix": prefix, "xanchor": value_at, "font": {"size": 12}},
            "steps": [{"label": lab, "method": "animate", "args": [[n], jump]}
                      for n, lab in zip(frame_names, labels or frame_names)]}


def token_labels(tokens: list[str]) -> list[str]:
    """Token strings made visible on an axis: spaces as ␣, newlines as ↵, a position prefix (so a
    repeated token keeps its own row: plotly merges equal category labels), escaped for plotly."""
    return [f"{i}:{plotly_text(t.replace(' ', '␣').replace(chr(10), '↵'))}" for i, t in enumerate(tokens)]
