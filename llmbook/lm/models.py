"""`load_model`: one entry point for both models, real or stand-in weights.

Not handled: GPUs (the book runs on CPU), batching, models other than the two in
:mod:`llmbook.specs`. Attention is always eager, the only implementation that
materialises attention probabilities.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .mapped import map_standin_, map_weights_, mapping_wanted
from .specs import ModelSpec, get_spec
from .tokenizers import display_tokens, encode_prompt, exact, offline_tokenizer
from .weights import (
    STANDIN_SEED, WeightsChoice, WeightsUnavailable, choose_weights, fill_standin_, hf_cache_dir,
    hub_offline, hub_reachable, unavailable_message,
)

DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class LoadedModel:
    """A model ready to capture: ``lm.model``, ``lm.tokenizer``, ``lm.is_standin``."""

    spec: ModelSpec
    model: object = field(repr=False)
    tokenizer: object = field(repr=False)
    weights: WeightsChoice
    dtype: str
    revision: str | None = None      # hub commit of real weights, when known
    load_seconds: float = 0.0

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_standin(self) -> bool:
        return self.weights.kind == "standin"

    @property
    def head_is_tied(self) -> bool:
        """The LM head is the token embedding itself (same storage), as in GPT-2."""
        emb, head = self.model.get_input_embeddings().weight, self.model.get_output_embeddings().weight
        return emb.data_ptr() == head.data_ptr()

    @property
    def weights_label(self) -> str:
        """Short human label: what a figure caption says about its weights."""
        if self.is_standin:
            return f"stand-in weights ({self.weights.source}, random, real architecture)"
        rev = f"@{self.revision[:10]}" if self.revision else ""
        return f"real weights ({self.weights.source}{rev})"

    def encode(self, prompt: str, chat: bool = False) -> list[int]:
        return encode_prompt(self.spec, self.tokenizer, prompt, chat=chat)

    def tokens(self, ids: list[int]) -> list[str]:
        return display_tokens(self.tokenizer, ids)


def load_model(name: str, weights: str | None = None, *, source: str | None = None,
               dtype: str | None = None, seed: int = STANDIN_SEED,
               config_overrides: dict | None = None, mapped: bool | None = None) -> LoadedModel:
    """Load ``name`` ("distilgpt2" | "tinyllama") with the weights policy of CONTRACTS §2.

    ``source`` is a hub id or a local folder (``save_pretrained`` output) for real
    weights. ``config_overrides`` shrinks a stand-in (tests, quick experiments);
    it is refused for real weights, whose config is the checkpoint's. ``mapped``
    maps real weights from a file instead of copying them (:mod:`.mapped`: less
    anonymous memory, a converted copy in llmbook's cache when the checkpoint's
    dtype differs); default: ``LLMBOOK_MAP_WEIGHTS=1``, which book builds set.
    Results are memoised per process, so chapters may call this freely.
    """
    spec = get_spec(name)
    dtype = dtype or spec.dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    choice = choose_weights(spec, weights, source, seed)
    overrides = tuple(sorted((config_overrides or {}).items()))
    return _load(spec, choice, dtype, seed, overrides, mapping_wanted(mapped))   # keyed on the resolved choice


@lru_cache(maxsize=2)   # two models at once at most: TinyLlama alone is 4.4 GB
def _load(spec: ModelSpec, choice: WeightsChoice, dtype: str, seed: int, overrides, mapped: bool) -> LoadedModel:
    start = time.perf_counter()
    if choice.kind == "standin":
        model, tok, rev = _standin(spec, dtype, seed, dict(overrides), mapped), offline_tokenizer(spec), None
    else:
        if overrides:
            raise ValueError("config_overrides only apply to stand-in weights")
        model, tok, rev = _real(spec, choice.source, dtype, mapped)
    model.eval()
    return LoadedModel(spec, model, tok, choice, dtype, rev, time.perf_counter() - start)


def _config(spec: ModelSpec, overrides: dict):
    from transformers import GPT2Config, LlamaConfig

    cls = GPT2Config if spec.arch == "gpt2" else LlamaConfig
    return cls(**{**spec.config, **overrides}, attn_implementation="eager")


def _model_class(spec: ModelSpec):
    from transformers import GPT2LMHeadModel, LlamaForCausalLM

    return GPT2LMHeadModel if spec.arch == "gpt2" else LlamaForCausalLM


def _standin(spec: ModelSpec, dtype: str, seed: int, overrides: dict, mapped: bool = False):
    """The real architecture, allocated without torch's slow init, then seeded. Full size and
    ``mapped`` (book builds): seeded once into a file in llmbook's cache and mapped from it after."""
    model = _skeleton(spec, _config(spec, overrides), dtype)
    if mapped and not overrides:
        map_standin_(model, spec.name, dtype, _standin_key(spec, seed), lambda m: fill_standin_(m, seed))
    else:
        fill_standin_(model, seed)
    return model


def _standin_key(spec: ModelSpec, seed: int) -> str:
    """What the stand-in's values depend on: the seed, the config, the seeding code, the parameter names."""
    import transformers

    from . import weights

    h = hashlib.sha256(json.dumps([seed, spec.config, transformers.__version__], sort_keys=True).encode())
    h.update(Path(weights.__file__).read_bytes())
    return h.hexdigest()[:16]


def _real(spec: ModelSpec, source: str, dtype: str, mapped: bool = False):
    """The published weights: config and tokenizer through ``from_pretrained``, the tensors
    mapped (:mod:`.mapped`) or streamed (:mod:`.checkpoint`) from the checkpoint's safetensors."""
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils import cached_file

    from .checkpoint import CheckpointError, checkpoint_files, stream_weights_

    where = _hub_kwargs(source)
    try:
        config = AutoConfig.from_pretrained(source, **where)
        revision = snapshot_revision(Path(cached_file(source, "config.json", **where)))
        files = checkpoint_files(source, where)
        tok = AutoTokenizer.from_pretrained(source, **where)
    except Exception as err:  # noqa: BLE001 - every failure here means "no weights"
        raise WeightsUnavailable(unavailable_message(spec, source, err)) from err
    check_architecture(spec, config, source)
    model = _skeleton(spec, config, dtype)
    try:
        if not (mapped and map_weights_(model, files, spec.name, dtype)):
            stream_weights_(model, files)
    except (CheckpointError, OSError) as err:
        raise WeightsUnavailable(unavailable_message(spec, source, err)) from err
    if spec.chat_template and not getattr(tok, "chat_template", None):
        tok.chat_template = spec.chat_template
    # the hub's tokenizer.json, as transformers loads it, is not the training tokenizer: encode
    # text with the checkpoint's own tokenizer.model through sentencepiece (llmbook.lm.tokenizers)
    model_file = _tokenizer_model(source, where) if spec.arch == "llama" else None
    return model, exact(tok, model_file, hub_id=spec.hub_id), revision


def _tokenizer_model(source: str, where: dict) -> str | None:
    """The checkpoint's ``tokenizer.model``; None (llmbook's own file then) when it has none."""
    from transformers.utils import cached_file

    try:
        return cached_file(source, "tokenizer.model", **where)
    except OSError:
        return None


def _skeleton(spec: ModelSpec, config, dtype: str):
    """The model class on ``config``, allocated without initialisation (stand-in or checkpoint fills it)."""
    import torch
    from transformers.initialization import no_init_weights

    config._attn_implementation = "eager"
    with no_init_weights():          # also skips tying: tie explicitly (GPT-2's head is wte)
        model = _model_class(spec)(config)
    model.tie_weights()
    return model.to(getattr(torch, dtype))


def _hub_kwargs(source: str) -> dict:
    """from_pretrained's arguments for where to look: a folder as is; the hub through the cache
    the environment names now, offline when ``HF_HUB_OFFLINE`` says so or the hub is unreachable."""
    if Path(source).is_dir():
        return {}
    return {"cache_dir": str(hf_cache_dir()), "local_files_only": hub_offline() or not hub_reachable()}


def snapshot_revision(path: Path) -> str | None:
    """The hub commit a file came from: ``…/snapshots/<revision>/config.json`` -> revision.

    transformers 5 no longer records ``_commit_hash`` on configs; the HF cache's folder
    names still say it. A plain folder (``save_pretrained`` output) has none.
    """
    return path.parent.name if path.parent.parent.name == "snapshots" else None


def check_architecture(spec: ModelSpec, config, source: str) -> None:
    """Refuse a checkpoint whose shapes are not the spec's, naming every mismatch."""
    expected = _config(spec, {})
    keys = ("model_type", "vocab_size", "hidden_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "intermediate_size")
    wrong = [f"{k}={getattr(config, k, None)!r} (expected {getattr(expected, k, None)!r})"
             for k in keys if getattr(config, k, None) != getattr(expected, k, None)]
    if wrong:
        raise ValueError(f"{source} does not hold a {spec.name} checkpoint: " + ", ".join(wrong))
