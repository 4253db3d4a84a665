"""The two models the book studies, described once (CONTRACTS §2).

A :class:`ModelSpec` holds everything needed to build the model without the hub:
the `transformers` config, how prompts are framed (BOS, chat template) and the
dtype weights are loaded in. Nothing here touches the network or torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# TinyLlama-1.1B-Chat-v1.0's own chat template (Zephyr style). The reader-facing
# framing is `<|user|>\n{msg}</s>\n<|assistant|>\n`; BOS is prepended separately.
TINYLLAMA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + eos_token + '\n' }}"
    "{% elif message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + eos_token + '\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\n' + message['content'] + eos_token + '\n' }}"
    "{% endif %}"
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
    "{% endfor %}"
)


@dataclass(frozen=True)
class ModelSpec:
    name: str                 # short name used across the book: "distilgpt2" | "tinyllama"
    hub_id: str               # Hugging Face repository of the published weights
    arch: str                 # "gpt2" | "llama": selects capture points and verification maths
    config: dict = field(repr=False, hash=False, compare=False)  # kwargs of the transformers config class
    add_bos: bool = False     # prepend the BOS id to every prompt
    chat_template: str | None = None
    dtype: str = "float32"    # dtype the weights are loaded in (see load_model)
    context_len: int = 1024

    @property
    def n_layers(self) -> int:
        return self.config["n_layer"] if self.arch == "gpt2" else self.config["num_hidden_layers"]


DISTILGPT2 = ModelSpec(
    name="distilgpt2",
    hub_id="distilbert/distilgpt2",
    arch="gpt2",
    config=dict(
        vocab_size=50257, n_positions=1024, n_embd=768, n_layer=6, n_head=12, n_inner=None,
        activation_function="gelu_new", layer_norm_epsilon=1e-5, tie_word_embeddings=True,
        bos_token_id=50256, eos_token_id=50256,
    ),
    context_len=1024,
)

TINYLLAMA = ModelSpec(
    name="tinyllama",
    hub_id="TinyLlama/TinyLlama-1.1B-Chat-v1.0",
    arch="llama",
    config=dict(
        vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
        num_attention_heads=32, num_key_value_heads=4, hidden_act="silu",
        max_position_embeddings=2048, rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
    ),
    add_bos=True,
    chat_template=TINYLLAMA_CHAT_TEMPLATE,
    context_len=2048,
)

SPECS = {s.name: s for s in (DISTILGPT2, TINYLLAMA)}


def get_spec(name: str) -> ModelSpec:
    """Look a model up by its short name; unknown names list the known ones."""
    try:
        return SPECS[name]
    except KeyError:
        known = ", ".join(sorted(SPECS))
        raise ValueError(f"unknown model {name!r}: llmbook knows {known}") from None
