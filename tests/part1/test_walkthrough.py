import re

import pytest

import numpy as np

from llmbook import capture
from llmbook.lm.capture import Sampling
from llmbook.part1.walkthrough import STEPS, walkthrough
from tests.conftest import PROMPTS


def _trace(lm, n=4):
    return capture(lm, PROMPTS[lm.name], max_new_tokens=n, sampling=Sampling())


def test_walkthrough_has_the_nine_steps_with_numbers_from_the_trace(small_lm):
    tr = _trace(small_lm)
    show = walkthrough(small_lm, tr)
    assert [s.label for s in show.slides] == list(STEPS)
    html = show._repr_html_()
    assert html.count('class="ss-slide"') == 9
    by = {s.label: s for s in show.slides}
    assert f"**{len(tr.token_ids)} tokens**" in by["Tokenize"].caption
    assert f"{tr.steps[0]['token_id']}" in by["Sample"].caption
    per_token = tr.steps[1]["cache_bytes"] - tr.steps[0]["cache_bytes"]
    assert f"{per_token:,} bytes per token" in by["Loop"].caption
    agree = float(re.search(r"agree to ([0-9.e+-]+)", by["Logits"].check).group(1))
    assert agree < 1e-4 and "same top token: yes" in by["Logits"].check
    layers = by["Layers"].figures[0]
    assert len(layers.frames) == tr.config["n_layers"] + 1             # one frame per snapshot
    np.testing.assert_allclose(layers.frames[-1].data[1].x,
                               np.linalg.norm(tr.residual[-1], axis=-1).round(2), atol=0.01)
    if small_lm.spec.arch == "llama":
        assert "RoPE" in by["Embed"].caption and "untied" in by["Logits"].caption
        assert '<span class="special">&lt;|assistant|&gt;</span>' in by["Input"].figures[0]
    else:
        assert "wpe" in by["Embed"].caption and "tied" in by["Logits"].caption


def test_standin_walkthrough_does_not_claim_a_meaningful_answer(small_lm):
    tr = _trace(small_lm, n=2)
    done = walkthrough(small_lm, tr).slides[-1]
    assert tr.is_standin and "random" in done.caption


def test_chips_are_coloured_by_token_id_not_position():
    from llmbook.part1.walkthrough import token_chips

    chips = re.findall(r'class="chip (c\d)', token_chips([",", "a", ",", ","], [11, 12, 11, 11]))
    assert chips[0] == chips[2] == chips[3] != chips[1]


def _plotly_strings(fig):
    for trace in [*fig.data, *(d for fr in fig.frames for d in fr.data)]:
        for axis in ("x", "y", "text"):
            values = getattr(trace, axis, None)
            if values is not None and not isinstance(values, str):
                yield from (v for v in values if isinstance(v, str))


def test_slides_fix_the_figure_faults(small_lm):
    tr = _trace(small_lm, n=5)
    by = {s.label: s for s in walkthrough(small_lm, tr).slides}
    assert "`[" not in by["Tokenize"].caption                          # no shape where a list is meant
    loop = by["Loop"].figures[0]
    assert len(loop.frames) == len(tr.steps) == 5                      # one frame per generation step
    assert "**5 steps**" in by["Loop"].caption
    assert loop.layout.xaxis.title.text and loop.layout.xaxis2.title.text
    layers = by["Layers"].figures[0]
    assert all(fr.data[0].showscale is not False for fr in layers.frames)   # the heatmap has a colour scale
    done = "".join(f for f in by["Done"].figures if isinstance(f, str))
    assert done.count('class="ss-scroll"') == 2 and "max-height" in done
    for slide in by.values():
        for fig in slide.figures:
            if not isinstance(fig, str):
                assert not any("<s>" in s or "</s>" in s for s in _plotly_strings(fig)), slide.label


def test_page_facts_are_plain_numbers_that_agree_with_the_trace(small_lm):
    from llmbook.part1.walkthrough import page_facts

    tr = _trace(small_lm, n=4)
    f = page_facts(small_lm, tr)
    assert f["kv_formula"] == f["kv_per_token"]
    assert 0 <= f["entropy"] <= f["ln_vocab"] + 1e-9
    assert f["positions_cached"] == len(tr.token_ids) + 3 and f["n_steps"] == 4
    assert f["head_tied"] == (small_lm.spec.arch == "gpt2")
    assert 0 <= f["lens_settled"] <= tr.config["n_layers"]
    assert all(type(v) in (int, float, str, bool) for v in f.values())


def test_page_facts_explain_the_final_norm_and_rank_any_token(small_lm):
    from llmbook.part1.walkthrough import page_facts, token_rank

    tr = _trace(small_lm, n=2)
    f = page_facts(small_lm, tr)
    assert tr.is_standin and f["final_gain_is_one"]                   # stand-in gains are all 1
    if small_lm.spec.arch == "gpt2":                                  # LayerNorm, gain 1, bias 0: length √d
        assert abs(f["final_norm_out"] - f["sqrt_d"]) < 1e-2 * f["sqrt_d"]
    assert token_rank(tr, tr.steps[0]["token_id"]) == (1, pytest.approx(tr.steps[0]["prob"], rel=1e-4))
    assert f["uncached_first"] + f["uncached_last"] == 2 * len(tr.token_ids) + 1


def test_standin_walkthrough_names_the_loop_layer_and_transposes_the_head(small_lm):
    by = {s.label: s for s in walkthrough(small_lm, _trace(small_lm, n=2)).slides}
    assert "ᵀ [" in by["Logits"].caption and "standard deviation" in by["Logits"].caption
    assert f"block {small_lm.model.config.num_hidden_layers - 1}" in by["Loop"].caption


def test_logit_lens_axis_zooms_when_every_bar_is_tiny():
    from tests.figures.test_trace_plots import _trace as lens_trace
    from llmbook.part1.trace_plots import logit_lens_figure

    fig = logit_lens_figure(lens_trace([3e-5, 1.4e-4]))
    assert fig.layout.xaxis.range[1] == pytest.approx(2.8e-4)            # twice the longest bar, not 0–1
    assert fig.data[0].textposition[0] == "outside"
