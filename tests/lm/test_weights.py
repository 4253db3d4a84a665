import time

import numpy as np
import pytest
import torch

from llmbook.lm.specs import DISTILGPT2, TINYLLAMA
from llmbook.lm.weights import choose_weights, fill_standin_, hub_reachable


def test_policies_resolve_without_loading(monkeypatch, offline_hub):
    assert choose_weights(DISTILGPT2, "standin").identity == "standin:seed=0"
    assert choose_weights(DISTILGPT2, "real").kind == "real"
    assert choose_weights(DISTILGPT2, "auto").kind == "standin"      # nothing reachable
    monkeypatch.setenv("LLMBOOK_WEIGHTS", "standin")
    assert choose_weights(DISTILGPT2).kind == "standin"
    monkeypatch.setenv("READTHEDOCS", "True")
    monkeypatch.delenv("LLMBOOK_WEIGHTS")
    assert choose_weights(DISTILGPT2, "auto").kind == "real"         # RTD builds the real book


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="real, standin, auto"):
        choose_weights(DISTILGPT2, "fake")


def test_unreachable_hub_is_decided_in_seconds(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")          # discard port: refused
    start = time.perf_counter()
    assert hub_reachable(timeout=3) is False
    assert time.perf_counter() - start < 3.5


def test_a_local_folder_counts_as_real_weights(tmp_path, offline_hub):
    (tmp_path / "config.json").write_text("{}")
    assert choose_weights(DISTILGPT2, "auto", source=str(tmp_path)).identity == f"real:{tmp_path}"


class _Tiny(torch.nn.Module):
    def __init__(self, order):
        super().__init__()
        for name in order:
            setattr(self, name, torch.nn.Linear(300, 200))
        self.norm = torch.nn.LayerNorm(200)


def test_standin_values_depend_on_seed_and_name_not_order():
    a, b, c = _Tiny(["x", "y"]), _Tiny(["y", "x"]), _Tiny(["x", "y"])
    fill_standin_(a, seed=0)
    fill_standin_(b, seed=0)
    fill_standin_(c, seed=1)
    assert torch.equal(a.x.weight, b.x.weight) and torch.equal(a.y.weight, b.y.weight)
    assert not torch.equal(a.x.weight, c.x.weight)
    assert not torch.equal(a.x.weight, a.y.weight)
    assert torch.all(a.x.bias == 0) and torch.all(a.norm.weight == 1) and torch.all(a.norm.bias == 0)
    w = a.x.weight.detach().numpy()
    assert abs(w.std() - 0.02) < 0.001 and abs(w.mean()) < 0.001
    assert np.abs(w).max() <= 0.02 * np.sqrt(3) + 1e-7


def test_standin_fill_in_bfloat16():
    m = _Tiny(["x"]).to(torch.bfloat16)
    fill_standin_(m)
    ref = _Tiny(["x"])
    fill_standin_(ref)
    assert torch.equal(m.x.weight, ref.x.weight.to(torch.bfloat16))


def test_specs_hold_the_contract_architectures():
    from llmbook.lm.models import _config

    g = _config(DISTILGPT2, {})
    assert (g.n_layer, g.n_head, g.n_embd, g.vocab_size, g.n_positions) == (6, 12, 768, 50257, 1024)
    assert g.tie_word_embeddings and g.activation_function == "gelu_new"
    t = _config(TINYLLAMA, {})
    assert (t.num_hidden_layers, t.num_attention_heads, t.num_key_value_heads) == (22, 32, 4)
    assert (t.hidden_size, t.intermediate_size, t.vocab_size) == (2048, 5632, 32000)
    assert t.rope_parameters["rope_theta"] == 10000.0 and t.rms_norm_eps == 1e-5
    assert not t.tie_word_embeddings
