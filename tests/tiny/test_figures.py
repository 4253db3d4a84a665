"""Part II's figures (llmbook.tiny.figures) on a small random model: labels, colour scales, layout."""

from __future__ import annotations

import numpy as np
import pytest

from llmbook.tiny import TinyConfig, TinyTransformer
from llmbook.tiny import figures as tf
from llmbook.tiny.inspect import intermediates

IDS = [65, 66, 65, 67, 65]                       # a repeated token, as "Romeo, Romeo" repeats
TOKENS = ["<s>", "a&b", "<s>", "c", "<s>"]


@pytest.fixture(scope="module")
def small():
    model = TinyTransformer(TinyConfig(vocab_size=300, context_len=16, d_model=16, n_heads=4, n_layers=1))
    return model, intermediates(model, IDS)


def _figures(model, inter):
    snaps = {s: {n: np.random.default_rng(s).standard_normal((6, 6)) for n in tf.WEIGHTS} for s in (0, 10)}
    steps = [{"cache_len": 3 + r, "attn": np.random.default_rng(r).random((1, 4, 3 + r))} for r in range(3)]
    return {"lookup": tf.lookup_figure(model, IDS, TOKENS), "positions": tf.positions_figure(model),
            "sum": tf.embedding_sum_animation(inter, TOKENS), "qkv": tf.qkv_figure(inter, 0, 4, TOKENS),
            "attention": tf.attention_figure(inter, 0, TOKENS), "ffn": tf.ffn_shapes_figure(inter, 0, TOKENS),
            "concat": tf.concat_out_figure(inter, 0, TOKENS, 4), "weights": tf.weights_over_training(snaps),
            "cache": tf.cache_attention_figure(steps, [f"{k}:{t}" for k, t in enumerate(TOKENS)])}


def test_axis_labels_are_unique_and_escaped():
    labels = tf.axis_labels(TOKENS)
    assert len(set(labels)) == len(TOKENS)
    assert labels[0] == "0:&lt;s&gt;" and labels[1] == "1:a&amp;b"


def test_repeated_tokens_keep_their_own_rows(small):
    for name, fig in _figures(*small).items():
        for t in fig.data:
            for axis in ("x", "y"):
                v = getattr(t, axis, None)
                if v is not None and len(v) and isinstance(v[0], str):
                    assert len(set(v)) == len(v), (name, axis, v)
                    assert not any("<s>" in s for s in v), (name, axis, v)     # escaped


def test_every_heatmap_has_a_colour_scale(small):
    for name, fig in _figures(*small).items():
        for t in fig.data:
            if t.type != "heatmap":
                continue
            if t.coloraxis:
                assert fig.layout[t.coloraxis].showscale is not False, name
            else:
                assert t.showscale is not False, name


def test_attention_buttons_sit_between_title_and_plot(small):
    fig = _figures(*small)["attention"]
    menu = fig.layout.updatemenus[0]
    assert (menu.y, menu.yanchor) == (1, "bottom") and menu.pad.b >= 20          # above the subplot titles
    assert fig.layout.title.yref == "container" and fig.layout.title.yanchor == "top"
    assert fig.layout.margin.t >= menu.pad.b + 30 + 30                          # + a button + the title


def test_temperature_frames_scale_their_own_axis(small):
    _, inter = small
    fig = tf.temperature_figure(inter["logits"][-1], [f"<{i}>" for i in range(300)])
    for frame in fig.frames:
        top = max(frame.data[0].y)
        low, high = frame.layout.yaxis.range
        assert low == 0 and top <= high <= 1.2 * top, (frame.name, top, high)
    assert all(x.startswith("&lt;") for x in fig.data[0].x)
