import pytest

from llmbook import capture
from llmbook.lm.capture import Sampling
from llmbook.part1.compare import component_of, component_params, facts_table, kv_bytes_per_token
from tests.conftest import PROMPTS


def test_component_params_cover_every_parameter_once(small_lm):
    counts = component_params(small_lm)
    total = sum(p.numel() for p in small_lm.model.parameters())      # parameters() de-duplicates
    assert sum(counts.values()) == total
    if small_lm.spec.arch == "gpt2":
        assert counts["LM head"] == 0 and counts["position embedding"] > 0
    else:
        assert counts["LM head"] == counts["token embedding"] and counts["position embedding"] == 0


def test_kv_formula_matches_the_real_cache(small_lm):
    tr = capture(small_lm, PROMPTS[small_lm.name], max_new_tokens=3, sampling=Sampling())
    assert tr.cache_bytes_per_token == kv_bytes_per_token(tr.config)
    table = facts_table([(small_lm, tr)])
    assert "measured" in table and ("GQA" in table) == (small_lm.spec.arch == "llama")


def test_unknown_parameter_names_are_refused():
    with pytest.raises(ValueError, match="no component"):
        component_of("model.something_new.weight")
