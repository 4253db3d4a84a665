import numpy as np

from llmbook.tiny import TinyConfig, TinyTransformer
from llmbook.tiny import attention_figures as af
from llmbook.tiny.inspect import intermediates

CFG = TinyConfig(vocab_size=300, context_len=24, d_model=24, n_heads=3, n_layers=2)
IDS = [1, 7, 9, 200, 5, 44, 3]


def test_attention_without_positions_is_blind_to_order():
    blind = af.order_blindness(TinyTransformer(CFG, seed=1), IDS, seed=2)
    assert blind["unmasked"] < 1e-5 and blind["last"] < 1e-5
    assert blind["with_pos"] > 1e-4


def test_mask_stops_the_last_token_reaching_earlier_positions():
    leak = af.mask_leak(TinyTransformer(CFG, seed=1), IDS, new_last=11)
    assert leak["causal"] == 0.0 and leak["unmasked"] > 0


def test_score_rows_match_the_model_and_sum_to_one():
    inter = intermediates(TinyTransformer(CFG, seed=1), IDS)
    rows = af.score_rows(inter, 1, 2, 4)
    w = np.array([r["weight"] for r in rows])
    np.testing.assert_allclose(w, inter["layers.1.probs"][2, 4, :5], atol=1e-5)
    assert abs(w.sum() - 1) < 1e-6


def test_nearest_leaves_out_the_row_itself_and_dot_variance_grows_with_d():
    emb = np.eye(4) + 0.1
    assert [j for j, _ in af.nearest(emb, 0, 3)] != [0] and 0 not in [j for j, _ in af.nearest(emb, 0, 3)]
    var = af.dot_variance((4, 64), n=5000)
    assert 3 < var[4] < 5 and 55 < var[64] < 73


def test_head_mixing_is_zero_for_identity_w_out():
    heads = np.random.default_rng(0).standard_normal((5, 6))
    assert af.head_mixing(heads, np.eye(6), 3) == 0.0
    assert 0 < af.head_mixing(heads, np.ones((6, 6)), 3) < 1


def test_readable_draws_raw_bytes_as_hex_chips():
    assert af.readable("\\xd5") == "⟨d5⟩" and af.readable("␣the␣") == "␣the␣"


def test_sinusoid_shift_is_one_rotation_for_every_position():
    assert af.shift_error(64, 16, 3) < 1e-9
    assert np.allclose(af.sinusoid_table(5, 8)[:, 1::2][0], 1)


def test_head_profile_shares_sum_to_one_and_distances_are_weighted():
    probs = intermediates(TinyTransformer(CFG, seed=1), IDS)["layers.0.probs"]
    for p in af.head_profile(probs, skip=2):
        assert abs(p["self"] + p["prev"] + p["further"] - 1) < 1e-5 and p["mean"] >= p["prev"]
    eye = np.eye(6)[None]
    assert af.head_profile(eye, skip=1)[0] == {"self": 1.0, "prev": 0.0, "further": 0.0, "mean": 0.0}


def test_repeated_tokens_get_equal_weight_without_positions():
    w = af.weights_without_positions(TinyTransformer(CFG, seed=1), [5, 9, 5, 7], head=1, query=3)
    assert abs(w[0] - w[2]) < 1e-6 and abs(w.sum() - 1) < 1e-6


def test_common_share_and_residual_stats():
    assert abs(af.common_share(np.ones((4, 3))) - 1) < 1e-12
    x0 = np.random.default_rng(0).standard_normal((5, 8))
    st = af.residual_stats(x0, np.zeros_like(x0))
    assert abs(st["share"] - 1) < 1e-9 and abs(st["cos_own"] - 1) < 1e-9 and st["norm_update"] == 0


def test_unseen_rows_are_the_tokens_missing_from_training():
    rng = np.random.default_rng(0)
    snaps = {0: {"tok_emb": rng.standard_normal((6, 4))}, 9: {"tok_emb": rng.standard_normal((6, 4))}}
    un = af.unseen_rows(snaps, np.array([0, 1, 1, 3, 5]))
    assert un["ids"] == [2, 4] and -1 <= un["cos_mutual"] <= 1
