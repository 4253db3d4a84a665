import re

import numpy as np

from llmbook import capture
from llmbook.block import block_slideshow
from llmbook.capture import Sampling
from llmbook.walkthrough import STEPS, walkthrough
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


def test_block_slideshow_six_substeps_each_checked(small_lm):
    tr = _trace(small_lm, n=0)
    show, checks = block_slideshow(small_lm, tr, layer=1, head=2)
    assert len(show.slides) == 6 and all(s.check for s in show.slides)
    assert all(c.ok(1e-5) for c in checks.values())
    for s in show.slides:
        worst = float(re.search(r"agrees to ([0-9.e+-]+)", s.check).group(1))
        assert worst < 1e-4, s.label
    morph = show.slides[1].figures[0]
    assert [f.name.split(" ")[0] for f in morph.frames][:2] == ["Q·Kᵀ", "÷"]
    probs = np.array(morph.frames[-1].data[0].z, dtype=float)
    np.testing.assert_allclose(np.nan_to_num(probs), tr.attn[1, 2], atol=1e-4)   # last frame = the attention
