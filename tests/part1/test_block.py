import re

import numpy as np

from llmbook import capture
from llmbook.part1.block import block_slideshow
from tests.conftest import PROMPTS


def test_block_slideshow_six_substeps_each_checked(small_lm):
    tr = capture(small_lm, PROMPTS[small_lm.name])
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


def test_rope_rotate_makes_scores_depend_on_the_gap_only():
    from llmbook.part1.block import rope_rotate

    rng = np.random.default_rng(0)
    q, k = rng.normal(size=64), rng.normal(size=64)
    dots = [rope_rotate(q, 7 + s) @ rope_rotate(k, 2 + s) for s in (0, 3, 500)]
    np.testing.assert_allclose(dots, dots[0], rtol=1e-9)
    assert abs(rope_rotate(q, 9) @ rope_rotate(k, 2) - dots[0]) > 1e-6
    np.testing.assert_allclose(np.linalg.norm(rope_rotate(q, 123)), np.linalg.norm(q))
