"""The "Trusting the numbers" figures: the logit lens's labels stay inside the figure."""

from __future__ import annotations

import types

import numpy as np

from llmbook.part1.trace_plots import OUTSIDE_BELOW, logit_lens_figure


def _trace(final):
    L = len(final)
    words = ["<s>", " February", " March", " April", " the"]
    return types.SimpleNamespace(lens_top_ids=np.tile(np.arange(5), (L, 1, 1)).reshape(L, 1, 5),
                                 lens_top_probs=np.full((L, 1, 5), 0.05),
                                 lens_final_prob=np.asarray(final)[:, None], token_str=lambda i: words[i])


def test_logit_lens_labels_are_short_and_placed_by_bar_length():
    final = [0.001, 0.2, 0.49, 0.5, 0.97]
    bar = logit_lens_figure(_trace(final)).data[0]
    assert list(bar.textposition) == ["inside" if f >= OUTSIDE_BELOW else "outside" for f in final]
    assert all(len(t) <= 40 for t in bar.text)                    # the top-1 only; the top-5 is in the hover
    assert bar.text[0].startswith("top: '&lt;s&gt;'")               # escaped: `<s>` draws as `<s>`


def test_logit_lens_axis_is_a_probability():
    fig = logit_lens_figure(_trace([0.001, 0.3]))
    assert tuple(fig.layout.xaxis.range) == (0, 1)
