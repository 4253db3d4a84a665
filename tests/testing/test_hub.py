"""The fake hub looks like the real one to huggingface_hub and transformers."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from llmbook import load_model
from llmbook.testing.hub import revision_of, write_fake_hub
from tests.conftest import PROMPTS


@pytest.fixture
def hub_env(monkeypatch, offline_hub):
    """The offline HF cache's home (tests/conftest.py), with no tokenizer variable."""
    import os
    from pathlib import Path

    monkeypatch.delenv("LLMBOOK_LLAMA_TOKENIZER", raising=False)
    return Path(os.environ["HF_HOME"])


def test_the_cache_has_the_hubs_layout_without_weights(hub_env):
    revs = write_fake_hub(hub_env, weights=False)
    repo = hub_env / "hub" / "models--TinyLlama--TinyLlama-1.1B-Chat-v1.0"
    assert (repo / "refs" / "main").read_text() == revs["tinyllama"] == revision_of("tinyllama")
    snap = repo / "snapshots" / revs["tinyllama"]
    assert {p.name for p in snap.iterdir()} == {"config.json", "generation_config.json", "tokenizer.model",
                                                 "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}
    assert all(p.is_symlink() and p.resolve().parent == repo / "blobs" for p in snap.iterdir())
    config = json.loads((snap / "config.json").read_text())
    assert config["rope_theta"] == 10000.0 and config["torch_dtype"] == "bfloat16" and "rope_parameters" not in config
    assert "<|assistant|>" in json.loads((snap / "tokenizer_config.json").read_text())["chat_template"]


@pytest.mark.slow
def test_distilgpt2_loads_through_from_pretrained_with_its_revision(hub_env):
    revs = write_fake_hub(hub_env, models=("distilgpt2",))
    snap = hub_env / "hub" / "models--distilbert--distilgpt2" / "snapshots" / revs["distilgpt2"]
    with safe_open(snap / "model.safetensors", "pt") as f:
        names = set(f.keys())
        assert f.get_slice("wte.weight").get_dtype() == "F32"
    assert "h.0.attn.bias" in names and "h.5.attn.masked_bias" in names
    assert not any(n.startswith(("transformer.", "lm_head")) for n in names)

    real = load_model("distilgpt2", "real")
    standin = load_model("distilgpt2", "standin")
    assert not real.is_standin and real.revision == revs["distilgpt2"]
    assert real.revision[:10] in real.weights_label
    ids = real.encode(PROMPTS["distilgpt2"])
    assert ids == [21339, 11, 3945, 11, 2805, 11]                 # the hub's tokenizer files
    with torch.no_grad():                                          # float32 on disk: bit for bit
        assert torch.equal(real.model(torch.tensor([ids])).logits, standin.model(torch.tensor([ids])).logits)


def test_tinyllamas_tokenizer_files_are_the_published_ones(hub_env):
    """Read the Docs meets these files: transformers loads them, llmbook still encodes as sentencepiece."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from transformers import AutoTokenizer

    from llmbook.lm.specs import TINYLLAMA
    from llmbook.lm.tokenizers import encode_prompt, exact, format_chat, offline_tokenizer
    from llmbook.testing.hub import TINYLLAMA_PUBLISHED_TEMPLATE

    revs = write_fake_hub(hub_env, models=("tinyllama",), weights=False)
    snap = hub_env / "hub" / "models--TinyLlama--TinyLlama-1.1B-Chat-v1.0" / "snapshots" / revs["tinyllama"]
    config = json.loads((snap / "tokenizer_config.json").read_text())
    assert config["chat_template"] == TINYLLAMA_PUBLISHED_TEMPLATE and config["legacy"] is False
    assert config["add_bos_token"] is True and config["pad_token"] == "</s>"
    special = json.loads((snap / "special_tokens_map.json").read_text())
    assert special["bos_token"]["content"] == "<s>" and special["pad_token"] == "</s>"
    pipeline = json.loads((snap / "tokenizer.json").read_text())
    assert pipeline["normalizer"]["normalizers"][0] == {"type": "Prepend", "prepend": "▁"}
    assert pipeline["pre_tokenizer"] is None and len(pipeline["model"]["vocab"]) == 32000

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)   # as transformers renders
    text = env.from_string(TINYLLAMA_PUBLISHED_TEMPLATE).render(
        messages=[{"role": "user", "content": "hi"}], add_generation_prompt=True, eos_token="</s>")
    assert text == "<|user|>\nhi</s>\n<|assistant|>\n"

    hub = AutoTokenizer.from_pretrained(snap)
    assert hub.encode(" hello", add_special_tokens=False) == [22172]          # transformers' reading of the files
    hub = exact(hub, snap / "tokenizer.model")
    packaged = offline_tokenizer(TINYLLAMA)
    assert format_chat(TINYLLAMA, hub, "hi") == text
    for prompt in (" hello", "a  b", "<s>Name three primary colors.</s>"):
        for chat in (False, True):
            assert encode_prompt(TINYLLAMA, hub, prompt, chat=chat) == encode_prompt(TINYLLAMA, packaged, prompt,
                                                                                     chat=chat)
