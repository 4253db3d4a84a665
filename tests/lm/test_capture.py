import numpy as np
import pytest
import torch

from llmbook import Sampling, capture, load_model
from llmbook.lm.capture import available_fields, cache_bytes
from tests.conftest import PROMPTS, SMALL


def _facts(lm):
    c = lm.model.config
    return c.num_hidden_layers, c.num_attention_heads, c.hidden_size, c.vocab_size


def test_contract_fields_and_shapes(small_lm):
    tr = capture(small_lm, PROMPTS[small_lm.name], max_new_tokens=3)
    L, H, d, V = _facts(small_lm)
    T = len(tr.token_ids)
    assert tr.model_name == small_lm.name and tr.is_standin
    assert tr.residual.shape == (L + 1, T, d) and tr.residual.dtype == np.float32
    assert tr.attn.shape == (L, H, T, T)
    assert tr.logits.shape == (T, V)
    assert len(tr.generated_ids) == 3 and len(tr.tokens) == T
    assert np.allclose(tr.attn.sum(-1), 1, atol=1e-5)
    assert np.all(np.triu(tr.attn, 1) == 0)                            # causal
    assert tr.provenance["logits_max_abs_diff_vs_plain_call"] == 0.0
    assert tr.provenance["scores_softmax_max_abs_diff"] < 1e-6
    assert tr.provenance["weights"] == "standin:seed=0"


def test_embeddings_are_captured_separately_and_sum_to_the_residual():
    lm = load_model("distilgpt2", "standin", config_overrides=SMALL["distilgpt2"])
    tr = capture(lm, PROMPTS["distilgpt2"])
    np.testing.assert_allclose(tr.tok_emb + tr.pos_emb, tr.residual[0], atol=1e-6)
    np.testing.assert_array_equal(tr.tok_emb[0], lm.model.transformer.wte.weight[21339].detach().numpy())


def test_block_pieces_add_up(small_lm):
    tr = capture(small_lm, PROMPTS[small_lm.name])
    for i in range(small_lm.model.config.num_hidden_layers):
        np.testing.assert_allclose(tr.residual[i] + tr.block(i, "attn_out"), tr.block(i, "resid_mid"), atol=1e-6)
        np.testing.assert_allclose(tr.block(i, "resid_mid") + tr.block(i, "ffn_out"), tr.residual[i + 1], atol=1e-6)


def test_llama_gqa_rope_and_swiglu_views():
    lm = load_model("tinyllama", "standin", config_overrides=SMALL["tinyllama"])
    tr = capture(lm, PROMPTS["tinyllama"])
    T = len(tr.token_ids)
    assert tr.block(1, "q").shape == (4, T, 16) and tr.block(1, "k").shape == (2, T, 16)
    assert tr.config["kv_head_of"] == [0, 0, 1, 1]
    # RoPE leaves position 0 unrotated and preserves every vector's length
    np.testing.assert_allclose(tr.block(1, "q")[:, 0], tr.block(1, "q_pre_rope")[:, 0], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(tr.block(1, "q"), axis=-1),
                               np.linalg.norm(tr.block(1, "q_pre_rope"), axis=-1), rtol=1e-5)
    assert not np.allclose(tr.block(1, "q")[:, 3], tr.block(1, "q_pre_rope")[:, 3])
    np.testing.assert_allclose(tr.block(1, "ffn_act") * tr.block(1, "ffn_up"), tr.block(1, "ffn_hidden"), atol=1e-7)


def test_greedy_loop_with_kv_cache_matches_full_recomputation(small_lm):
    tr = capture(small_lm, PROMPTS[small_lm.name], max_new_tokens=5)
    ids = list(tr.token_ids)
    for token in tr.generated_ids:                   # no cache: one full forward per token
        with torch.no_grad():
            logits = small_lm.model(torch.tensor([ids])).logits[0, -1]
        assert int(logits.argmax()) == token
        ids.append(token)


def test_loop_records_the_cache_growing(small_lm):
    tr = capture(small_lm, PROMPTS[small_lm.name], max_new_tokens=4)
    c = tr.config
    per_token = 2 * c["n_layers"] * c["n_kv_heads"] * c["head_dim"] * 4     # K and V, float32
    T = len(tr.token_ids)
    assert [s["cache_bytes"] for s in tr.steps] == [per_token * (T + t) for t in range(4)]
    assert [s["cache_len"] for s in tr.steps] == [T, T + 1, T + 2, T + 3]
    assert tr.arrays["loop.3.attn"].shape == (c["n_layers"], c["n_heads"], T + 3)
    assert all(s["top_ids"][0] == s["token_id"] for s in tr.steps)        # greedy
    assert tr.generated_tokens == [tr.token_str(i) for i in tr.generated_ids]


def test_sampling_is_seeded_and_filters_apply():
    lm = load_model("distilgpt2", "standin", config_overrides=SMALL["distilgpt2"])
    hot = Sampling(temperature=5.0, seed=3)
    a = capture(lm, PROMPTS["distilgpt2"], max_new_tokens=6, sampling=hot)
    b = capture(lm, PROMPTS["distilgpt2"], max_new_tokens=6, sampling=hot)
    c = capture(lm, PROMPTS["distilgpt2"], max_new_tokens=6, sampling=Sampling(temperature=5.0, seed=4))
    assert a.generated_ids == b.generated_ids != c.generated_ids
    k2 = capture(lm, PROMPTS["distilgpt2"], max_new_tokens=1, sampling=Sampling(1.0, top_k=2))
    assert sum(p > 0 for p in k2.steps[0]["top_probs"]) == 2
    p = capture(lm, PROMPTS["distilgpt2"], max_new_tokens=1, sampling=Sampling(1.0, top_p=1e-9))
    assert p.steps[0]["top_probs"][0] == pytest.approx(1.0)             # only the top token survives


@pytest.mark.parametrize("bad", [dict(temperature=-1), dict(top_p=0), dict(top_k=0)])
def test_bad_sampling_settings(bad):
    with pytest.raises(ValueError):
        Sampling(**bad)


def test_filter_keeps_only_what_is_asked():
    lm = load_model("tinyllama", "standin", config_overrides=SMALL["tinyllama"])
    tr = capture(lm, PROMPTS["tinyllama"], keep={"q", "ffn_gate"}, layers=[1], lens=False)
    assert {k for k in tr.arrays if k.startswith("blocks.")} == {"blocks.1.q", "blocks.1.ffn_gate"}
    assert {"residual", "attn", "logits"} <= set(tr.arrays)
    with pytest.raises(KeyError, match="widen capture"):
        tr.block(0, "q")


def test_bad_filters_and_lengths_are_refused():
    lm = load_model("distilgpt2", "standin", config_overrides=SMALL["distilgpt2"])
    with pytest.raises(ValueError, match="unknown field"):
        capture(lm, "hi", keep={"q_pre_rope"})                           # Llama-only field
    with pytest.raises(ValueError, match="out of range"):
        capture(lm, "hi", layers=[2])
    with pytest.raises(ValueError, match="does not fit"):
        capture(lm, "hi", max_new_tokens=1024)
    with pytest.raises(ValueError, match="empty"):
        capture(lm, "")
    assert "q_pre_rope" in available_fields("llama") and "pos_emb" not in available_fields("llama")


def test_cache_bytes_counts_keys_and_values(small_lm):
    from llmbook.lm.capture import _new_cache

    cache = _new_cache(small_lm.model)
    assert cache_bytes(cache) == 0
