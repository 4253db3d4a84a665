import hashlib

import pytest

from llmbook.lm.specs import DISTILGPT2, TINYLLAMA, get_spec
from llmbook.lm.tokenizers import (PACKAGED_LLAMA_TOKENIZER, TokenizerUnavailable, display_tokens,
                                   encode_prompt, format_chat, llama_tokenizer, llama_tokenizer_file,
                                   offline_tokenizer)


def test_gpt2_ids_match_the_published_tokenizer():
    tok = offline_tokenizer(DISTILGPT2)
    assert len(tok) == 50257
    assert encode_prompt(DISTILGPT2, tok, "January, February, March,") == [21339, 11, 3945, 11, 2805, 11]
    assert encode_prompt(DISTILGPT2, tok, " April") == [3035]


def test_llama_ids_match_the_published_tokenizer():
    tok = offline_tokenizer(TINYLLAMA)
    assert len(tok) == 32000
    assert encode_prompt(TINYLLAMA, tok, "Name three primary colors.") == [1, 4408, 2211, 7601, 11955, 29889]


def test_tinyllama_chat_template_frames_the_prompt():
    tok = offline_tokenizer(TINYLLAMA)
    text = format_chat(TINYLLAMA, tok, "Name three primary colors.")
    assert text == "<|user|>\nName three primary colors.</s>\n<|assistant|>\n"
    ids = encode_prompt(TINYLLAMA, tok, "Name three primary colors.", chat=True)
    assert ids[0] == 1 and ids.count(2) == 1          # BOS once, the user turn's </s> once
    # after the newline "Name" starts a line, so it has no leading "▁" (1170, not 4408)
    assert tok.convert_ids_to_tokens(ids[7:12]) == ["Name", "▁three", "▁primary", "▁colors", "."]


def test_display_tokens_show_spaces_and_newlines():
    tok = offline_tokenizer(TINYLLAMA)
    ids = encode_prompt(TINYLLAMA, tok, "Hi\nthere you")
    assert display_tokens(tok, ids) == ["<s>", " Hi", "\n", "there", " you"]
    gpt2 = offline_tokenizer(DISTILGPT2)
    assert display_tokens(gpt2, [3945]) == [" February"]


@pytest.mark.parametrize("text", ["今天天气很好", "I love 🍕!", "é\u0301"])
def test_unicode_round_trips(text):
    for spec in (DISTILGPT2, TINYLLAMA):
        tok = offline_tokenizer(spec)
        ids = encode_prompt(spec, tok, text)
        assert tok.decode(ids, skip_special_tokens=True).strip() == text


@pytest.mark.parametrize("prompt", ["", "   \n"])
def test_empty_prompt_is_refused(prompt):
    with pytest.raises(ValueError, match="empty"):
        encode_prompt(DISTILGPT2, offline_tokenizer(DISTILGPT2), prompt)


def test_prompt_longer_than_context_is_refused():
    with pytest.raises(ValueError, match="reads at most 1024"):
        encode_prompt(DISTILGPT2, offline_tokenizer(DISTILGPT2), "word " * 1100)


def test_a_variable_naming_no_file_says_so(monkeypatch, offline_hub, tmp_path):
    monkeypatch.setenv("LLMBOOK_LLAMA_TOKENIZER", str(tmp_path / "nope.model"))
    with pytest.raises(TokenizerUnavailable, match="does not name a file"):
        llama_tokenizer(TINYLLAMA.hub_id)


def test_with_no_variable_and_no_hub_the_packaged_tokenizer_is_used(monkeypatch, offline_hub):
    monkeypatch.delenv("LLMBOOK_LLAMA_TOKENIZER", raising=False)
    assert llama_tokenizer_file(TINYLLAMA.hub_id) == PACKAGED_LLAMA_TOKENIZER
    digest = hashlib.sha256(PACKAGED_LLAMA_TOKENIZER.read_bytes()).hexdigest()
    assert digest == "9e556afd44213b6bd1be2b850ebbbd98f5481437a8021afaf58ee7fb1818d347"
    tok = llama_tokenizer(TINYLLAMA.hub_id)
    assert encode_prompt(TINYLLAMA, tok, "Name three primary colors.") == [1, 4408, 2211, 7601, 11955, 29889]


@pytest.fixture
def tokenizer_hub(monkeypatch, offline_hub):
    """The offline HF cache, holding both repositories' files but the weights (seconds to write)."""
    import os
    from pathlib import Path

    from llmbook.testing.hub import write_fake_hub

    monkeypatch.delenv("LLMBOOK_LLAMA_TOKENIZER", raising=False)
    write_fake_hub(Path(os.environ["HF_HOME"]), weights=False)
    return Path(os.environ["HF_HOME"])


def test_the_hubs_tokenizer_wins_over_the_packaged_one(tokenizer_hub):
    path = llama_tokenizer_file(TINYLLAMA.hub_id)
    assert "models--TinyLlama--TinyLlama-1.1B-Chat-v1.0" in str(path) and path.name == "tokenizer.model"


@pytest.mark.parametrize("chat", [False, True])
def test_the_hubs_tokenizer_and_the_packaged_one_give_the_same_ids(tokenizer_hub, chat, monkeypatch):
    """What Read the Docs loads (AutoTokenizer on the hub's files) = what a machine with no hub loads."""
    from transformers import AutoTokenizer

    hub = AutoTokenizer.from_pretrained(llama_tokenizer_file(TINYLLAMA.hub_id).parent)
    monkeypatch.setenv("LLMBOOK_LLAMA_TOKENIZER", str(PACKAGED_LLAMA_TOKENIZER))
    packaged = llama_tokenizer(TINYLLAMA.hub_id)
    for prompt in ("Name three primary colors.", "Hi\nthere you", "今天天气很好 🍕", "  leading spaces"):
        assert encode_prompt(TINYLLAMA, hub, prompt, chat=chat) == encode_prompt(TINYLLAMA, packaged, prompt, chat=chat)


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="distilgpt2, tinyllama"):
        get_spec("gpt5")


@pytest.mark.parametrize("text, pieces", [(" hello", ["▁", "▁hello"]), ("a  b", ["▁a", "▁", "▁b"]),
                                          ("<s>hi", ["▁<", "s", ">", "hi"])])
def test_llama_encodes_as_sentencepiece_does(text, pieces):
    """The issue's examples: a converted fast tokenizer gives ▁hello, ▁a ▁▁ b and BOS here."""
    tok = offline_tokenizer(TINYLLAMA)
    assert tok.tokenize(text) == pieces
    assert encode_prompt(TINYLLAMA, tok, text)[1:] == tok.convert_tokens_to_ids(pieces)


def test_chat_markers_are_special_and_typed_markers_are_text():
    tok = offline_tokenizer(TINYLLAMA)
    ids = encode_prompt(TINYLLAMA, tok, "Name three primary colors.", chat=True)
    # each stretch of template text is encoded on its own, as sentencepiece (Llama-2's reference
    # code, the hub's legacy tokenizer.json) does: "▁" (29871) starts the one after </s>
    assert ids[11:15] == [29889, 2, 29871, 13]
    typed = encode_prompt(TINYLLAMA, tok, "a</s><s><|assistant|>", chat=True)
    assert typed.count(2) == 1 and typed.count(1) == 1
    assert tok.apply_chat_template([{"role": "user", "content": "Name three primary colors."}],
                                   add_generation_prompt=True) == ids[1:]


def test_trace_keys_cover_the_tokenizer(monkeypatch, tmp_path):
    from llmbook.lm import store
    from llmbook.lm.tokenizers import tokenizer_identity

    assert tokenizer_identity(TINYLLAMA).startswith("sentencepiece ")
    assert tokenizer_identity(DISTILGPT2).startswith("tokenizers ")
    before = store.trace_key("tinyllama", "standin:seed=0", "float32", "hi")
    other = tmp_path / "other.model"
    other.write_bytes(PACKAGED_LLAMA_TOKENIZER.read_bytes() + b"\0")     # another file, same path rules
    monkeypatch.setenv("LLMBOOK_LLAMA_TOKENIZER", str(other))
    assert store.trace_key("tinyllama", "standin:seed=0", "float32", "hi") != before
