import numpy as np
import pytest

from llmbook.tiny import TinyConfig, TinyTransformer
from llmbook.tiny.inspect import generate, intermediates, next_token_probs

CFG = TinyConfig(vocab_size=300, context_len=24, d_model=24, n_heads=3, n_layers=2)


def test_intermediates_add_up_to_the_model_output():
    model = TinyTransformer(CFG, seed=3)
    ids = [1, 7, 7, 200, 5]
    inter = intermediates(model, ids)
    np.testing.assert_allclose(inter["logits"], model(ids).detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(inter["x0"], inter["tok"] + inter["pos"])
    for i in range(2):
        np.testing.assert_allclose(inter[f"layers.{i}.mid"] + inter[f"layers.{i}.ffn_out"],
                                   inter[f"layers.{i}.out"], atol=1e-6)
        assert inter[f"layers.{i}.probs"].shape == (3, 5, 5)


def test_kv_cache_gives_the_same_tokens_and_attention():
    model = TinyTransformer(CFG, seed=4)
    cached = generate(model, [3, 4, 5], 8, use_cache=True)
    full = generate(model, [3, 4, 5], 8, use_cache=False)
    assert [s["token"] for s in cached] == [s["token"] for s in full]
    for a, b in zip(cached, full):
        np.testing.assert_allclose(a["attn"], b["attn"], atol=1e-5)
        assert a["attn"].shape == (2, 3, a["cache_len"])
    assert [s["cache_len"] for s in cached] == list(range(3, 11))


def test_sampling_is_seeded_and_temperature_shapes_the_distribution():
    model = TinyTransformer(CFG, seed=5)
    a = generate(model, [1], 10, temperature=1.0, seed=7)
    b = generate(model, [1], 10, temperature=1.0, seed=7)
    assert [s["token"] for s in a] == [s["token"] for s in b]
    logits = np.array([2.0, 1.0, 0.0])
    cold, hot = next_token_probs(logits, 0.5), next_token_probs(logits, 2.0)
    assert cold[0] > next_token_probs(logits, 1.0)[0] > hot[0]
    assert next_token_probs(logits, 0).tolist() == [1.0, 0.0, 0.0]
    assert next_token_probs(logits, 1.0, top_k=2)[2] == 0


def test_generate_refuses_what_does_not_fit():
    model = TinyTransformer(CFG)
    with pytest.raises(ValueError, match="exceed the context"):
        generate(model, [1] * 20, 10)
    with pytest.raises(ValueError, match="at least one"):
        generate(model, [], 3)
