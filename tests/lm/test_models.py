import time

import pytest
import torch

from llmbook import load_model
from llmbook.lm.weights import WeightsUnavailable
from tests.conftest import PROMPTS, SMALL


def test_standin_is_labelled_and_deterministic():
    a = load_model("distilgpt2", "standin", config_overrides=SMALL["distilgpt2"])
    b = load_model("distilgpt2", "standin", config_overrides=SMALL["distilgpt2"], seed=1)
    assert a.is_standin and "stand-in" in a.weights_label
    assert a.model.config._attn_implementation == "eager"
    assert not torch.equal(a.model.transformer.wte.weight, b.model.transformer.wte.weight)
    # GPT-2's LM head is tied to the token embedding, Llama's is not
    assert a.model.lm_head.weight.data_ptr() == a.model.transformer.wte.weight.data_ptr()
    llama = load_model("tinyllama", "standin", config_overrides=SMALL["tinyllama"])
    assert llama.model.lm_head.weight.data_ptr() != llama.model.model.embed_tokens.weight.data_ptr()


def test_real_weights_fail_fast_with_a_how_to(offline_hub):
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailable, match="huggingface-cli download distilbert/distilgpt2"):
        load_model("distilgpt2", "real")
    assert time.perf_counter() - start < 10


def test_config_overrides_are_refused_for_real_weights(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="only apply to stand-in"):
        load_model("distilgpt2", "real", source=str(tmp_path), config_overrides={"n_layer": 1})


def test_unknown_dtype_is_refused():
    with pytest.raises(ValueError, match="dtype"):
        load_model("distilgpt2", "standin", dtype="float8")


def _save(lm, folder):
    lm.model.save_pretrained(folder)
    lm.tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.mark.slow
def test_real_path_loads_a_saved_checkpoint(tmp_path, offline_hub):
    """save_pretrained -> the same from_pretrained path the hub uses, offline."""
    standin = load_model("distilgpt2", "standin")
    folder = _save(standin, tmp_path / "ckpt")
    real = load_model("distilgpt2", "real", source=folder)
    assert not real.is_standin and real.weights.source == folder
    ids = torch.tensor([real.encode(PROMPTS["distilgpt2"])])
    assert ids.tolist() == [[21339, 11, 3945, 11, 2805, 11]]
    with torch.no_grad():
        assert torch.equal(real.model(ids).logits, standin.model(ids).logits)


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path, offline_hub):
    small = load_model("distilgpt2", "standin", config_overrides=SMALL["distilgpt2"])
    folder = _save(small, tmp_path / "small")
    with pytest.raises(ValueError, match=r"does not hold a distilgpt2 checkpoint: .*hidden_size=64 \(expected 768\)"):
        load_model("distilgpt2", "real", source=folder)
    with pytest.raises(ValueError, match="model_type='gpt2'"):
        load_model("tinyllama", "real", source=folder)
