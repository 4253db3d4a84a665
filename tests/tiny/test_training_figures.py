"""The chapter helpers in llmbook.tiny.training_figures, on a small random model (no book artifacts)."""

import numpy as np
import pytest

from llmbook.tiny import TinyConfig, TinyTransformer
from llmbook.tiny import training_figures as tfx
from llmbook.tiny.inspect import intermediates


@pytest.fixture(scope="module")
def setup():
    model = TinyTransformer(TinyConfig(vocab_size=40, context_len=16, d_model=16, n_heads=2, n_layers=2), seed=1)
    ids = [3, 7, 1, 9, 4, 4, 2]
    return model, ids, intermediates(model, ids)


def test_ffn_does_not_mix_positions_but_attention_does(setup):
    model, _, inter = setup
    mix = tfx.mixing_test(model, inter, 1)
    assert mix["ffn_diff"] < 1e-5
    assert mix["attn_diff"] > 1e-4


def test_ffn_without_gelu_is_one_matrix(setup):
    model, _, inter = setup
    lin = tfx.linear_collapse(model, inter, 0)
    assert lin["merged_shape"] == "[16, 16]" and lin["merged_rank"] <= 16
    assert lin["linear_diff"] < 1e-9 and lin["linear_additivity_gap"] < 1e-9
    assert lin["additivity_gap"] > 1e-3


def test_layernorm_steps_normalise(setup):
    model, ids, inter = setup
    ln = tfx.layernorm_steps(model, inter, 1, len(ids) - 1)
    # the std is sqrt(var / (var + eps)): just under 1 for a small random stream
    assert abs(ln["z_mean"]) < 1e-6 and 0.95 < ln["z_std"] <= 1
    assert len(ln["rows"]) == 4


def test_example_window_targets_are_inputs_shifted():
    data = np.arange(100, dtype=np.uint16)
    x, y = tfx.example_window(data, 8, seed=3)
    assert len(x) == len(y) == 8 and x[1:] == y[:-1] and y[-1] == x[-1] + 1


def test_surprise_matches_loss_and_gradient_check(setup):
    model, ids, _ = setup
    s = tfx.surprise(model, ids[:-1], ids[1:])
    assert s["mean"] == pytest.approx(s["loss"], abs=1e-5)
    g = tfx.gradient_check(model, ids[:-1], ids[1:])
    assert g["backprop"] == pytest.approx(g["numeric"], rel=1e-5, abs=1e-9)
    assert g["n_grads"] == sum(p.numel() for p in model.parameters())


def test_unseen_token_drift_on_fake_snapshots():
    rng = np.random.default_rng(0)
    first = rng.normal(0, 0.02, (10, 4))
    last = first.copy()
    last[[7, 8, 9]] += np.array([1.0, -1.0, 0.5, 0.0])     # unseen tokens 7..9 move together
    snaps = {0: {"tok_emb": first}, 5: {"tok_emb": last}}
    d = tfx.unseen_token_drift(snaps, np.array([0, 1, 2, 3, 4, 5, 6]), 10)
    assert d["ids"] == [7, 8, 9] and d["n"] == 3 and d["n_first128"] == 3
    assert d["cos_to_mean"] > 0.99 and d["row_cos_last"] > 0.99 and d["steps"] == [0, 5]


def test_top_p_work_counts_and_stop():
    p = np.array([0.05, 0.5, 0.3, 0.15])
    assert tfx.top_p_set(p, 0.5).tolist() == [1]
    assert tfx.top_p_set(p, 0.9).tolist() == [1, 2, 3]
    assert tfx.top_p_set(p, 1.0).tolist() == [1, 2, 3, 0]
    w = tfx.work_counts(3, 4)
    assert w == {"full": 3 + 4 + 5 + 6, "cached": 3 + 3, "pairs_full": 6 + 10 + 15 + 21, "pairs_cached": 6 + 4 + 5 + 6}
    assert tfx.first_stop(["a", "ab", "ab\n\n", "ab\n\nc"], "\n\n") == 2
    assert tfx.first_stop(["a"], "\n\n") is None


def test_top_unit_and_init_logits(setup):
    model, ids, inter = setup
    data = np.array(ids * 10)
    t = tfx.top_unit(model, inter, 1, data, n_windows=2, min_count=1, k=3)
    assert t["prompt_acts"][int(np.argmax(t["prompt_acts"]))] == pytest.approx(inter["layers.1.ffn_act"].max())
    assert len(t["top_ids"]) == 3 and t["n_positions"] == 2 * 16
    init = tfx.init_logits(model, 1, ids[:-1], ids[1:])
    assert init["std"] > 0 and init["loss"] > 0


def test_absorbed_bytes_and_longest_repeat():
    vocab = [b"q", b"u", b"a", b"qu", b"z"]
    assert tfx.absorbed_bytes([0, 4], np.array([3, 1, 3, 2]), vocab) == {0: 3}
    assert tfx.longest_repeat("of his chil, of his count") == "of his c"
    assert tfx.longest_repeat("abcab") == "ab"
    assert tfx.longest_repeat("abc") == ""
