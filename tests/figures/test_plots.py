"""The book's animation controls leave room for what the x axis shows."""

from __future__ import annotations

import plotly.graph_objects as go

from llmbook.figures import animate, scrub
from llmbook.figures.plots import AXIS_TITLE_ROOM


def _fig(x, title=None):
    fig = go.Figure(go.Bar(x=x, y=[1] * len(x)), frames=[go.Frame(data=[go.Bar(x=x, y=[2] * len(x))], name="a")])
    if title:
        fig.update_layout(xaxis_title=title)
    return fig


def test_an_axis_title_pushes_the_controls_down():
    plain, titled = _fig(["a", "b"]), _fig(["a", "b"], title="tokens")
    animate(plain, ["a"])
    animate(titled, ["a"])
    assert titled.layout.updatemenus[0].pad.t - plain.layout.updatemenus[0].pad.t == AXIS_TITLE_ROOM
    assert titled.layout.sliders[0].pad.t - plain.layout.sliders[0].pad.t == AXIS_TITLE_ROOM
    assert titled.layout.margin.b > plain.layout.margin.b


def test_long_category_labels_are_turned_and_given_room_frames_included():
    fig = go.Figure(go.Bar(x=["a"], y=[1]),
                    frames=[go.Frame(data=[go.Bar(x=["a much longer label"], y=[1])], name="f")])
    scrub(fig, ["f"])
    assert fig.layout.xaxis.tickangle == -45
    assert fig.layout.sliders[0].pad.t >= 40 + len("a much longer label") * 4
    short = _fig(["ab", "cd"])
    scrub(short, ["a"])
    assert short.layout.xaxis.tickangle is None


def test_the_controls_room_is_added_to_the_figure_not_taken_from_the_plot():
    fig = _fig(["a much longer label"], title="tokens")
    fig.update_layout(height=400, margin={"b": 10})
    animate(fig, ["a"])
    assert fig.layout.height - fig.layout.margin.b == 400 - 10
