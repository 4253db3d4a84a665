import re

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
