import numpy as np
import pytest

from llmbook import capture, load_model
from llmbook.lm.verify import (gelu_tanh, rope, verify_all, verify_attention_head, verify_block,
                            verify_ffn, verify_lm_head)
from tests.conftest import PROMPTS


def test_every_check_agrees_on_small_models(small_lm):
    tr = capture(small_lm, PROMPTS[small_lm.name])
    for layer in range(2):
        for head in range(4):
            checks = verify_all(small_lm, tr, layer, head)
            assert len(checks) == 8
            bad = {k: c for k, c in checks.items() if not (c.ok(1e-5) and c.max_abs_diff < 1e-5)}
            assert not bad, bad
    assert verify_lm_head(small_lm, tr)["top_token_matches"]


def test_verification_catches_a_wrong_number(small_lm):
    """The verifier is not a tautology: corrupt one captured value and it notices."""
    tr = capture(small_lm, PROMPTS[small_lm.name])
    tr.arrays["attn"] = tr.attn.copy()
    tr.arrays["attn"][1, 2, 4, 1] += 1e-3
    assert not verify_attention_head(small_lm, tr, 1, 2)["probs"].ok(1e-5)
    assert verify_attention_head(small_lm, tr, 1, 3)["probs"].ok(1e-5)
    tr.arrays["residual"] = tr.residual.copy()
    tr.arrays["residual"][2, 0, 5] *= 1.01
    assert not verify_block(small_lm, tr, 1)["resid_out"].ok(1e-5)
    key = "blocks.0.ffn_out"
    tr.arrays[key] = tr.arrays[key] + 1e-4
    assert not verify_ffn(small_lm, tr, 0)["ffn_out"].ok(1e-5)


def test_reference_maths():
    assert gelu_tanh(np.array([0.0]))[0] == 0
    np.testing.assert_allclose(gelu_tanh(np.array([3.0])), [2.9963627], rtol=1e-6)
    x = np.random.default_rng(0).normal(size=(5, 8))
    r = rope(x, 10000.0)
    np.testing.assert_allclose(r[0], x[0])                       # position 0: no rotation
    np.testing.assert_allclose(np.linalg.norm(r, axis=1), np.linalg.norm(x, axis=1))
    # relative positions: <rope(q)_m, rope(k)_n> depends on m - n only
    q, k = np.tile(x[:1], (5, 1)), np.tile(x[1:2], (5, 1))
    rq, rk = rope(q, 10000.0), rope(k, 10000.0)
    assert np.isclose(rq[3] @ rk[1], rq[4] @ rk[2])


@pytest.mark.slow
@pytest.mark.parametrize("name,layer", [("distilgpt2", 3), ("tinyllama", 11)])
def test_full_size_models_verify(name, layer):
    lm = load_model(name, "standin")
    tr = capture(lm, PROMPTS[name], layers=[layer], lens=False)
    for head in (0, lm.model.config.num_attention_heads - 1):
        checks = verify_all(lm, tr, layer, head)
        assert all(c.ok(1e-5) for c in checks.values()), checks


def test_substep_checks_agree_and_catch_a_wrong_activation(small_lm):
    from llmbook.lm.verify import verify_substeps

    tr = capture(small_lm, PROMPTS[small_lm.name])
    checks = verify_substeps(small_lm, tr, 1, 3)
    expected = {"q", "k", "scores", "probs", "head_out", "contract", "activation"}
    assert expected <= set(checks)
    if small_lm.spec.arch == "llama":
        assert {"q_pre_rope", "k_pre_rope", "expand (gate)", "expand (up)"} <= set(checks)
    assert all(c.ok(1e-5) for c in checks.values()), checks
    act = "ffn_act" if small_lm.spec.arch == "gpt2" else "ffn_hidden"
    tr.arrays[f"blocks.1.{act}"] = tr.arrays[f"blocks.1.{act}"] * 1.001
    broken = verify_substeps(small_lm, tr, 1, 3)
    assert not broken["activation"].ok(1e-5) and broken["q"].ok(1e-5)
