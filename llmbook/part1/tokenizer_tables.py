"""Compact tables of GPT-2's and Llama's real tokenizers, for the in-page tokenizer box.

- GPT-2: ids 0..255 are the 256 byte tokens (in GPT-2's own byte order) and id
  256 + r is merge r, so the table is just ``byte_ids`` [256] and the merges as id
  pairs [50000, 2].
- Llama: the pieces by id, and the BPE merges as id pairs (what ``transformers``
  converts the SentencePiece model into: byte fallback, "▁" for spaces).

Not handled: special tokens typed as text (the box tokenizes them as plain text),
Llama's ``legacy`` mode.
"""

from __future__ import annotations

import json

from ..lm.specs import get_spec
from ..lm.tokenizers import offline_tokenizer


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def gpt2_table() -> dict:
    tok = offline_tokenizer(get_spec("distilgpt2"))
    vocab = tok.get_vocab()
    chars = _bytes_to_unicode()
    model = json.loads(tok.backend_tokenizer.to_str())["model"]
    merges = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
    pairs = [[vocab[a], vocab[b]] for a, b in merges]
    assert all(vocab[a + b] == 256 + r for r, (a, b) in enumerate(merges)), "GPT-2 ids are not 256 + rank"
    return {"byte_ids": [vocab[chars[b]] for b in range(256)], "merges": [x for p in pairs for x in p]}


def llama_table() -> dict:
    tok = offline_tokenizer(get_spec("tinyllama"))
    model = json.loads(tok.backend_tokenizer.to_str())["model"]
    vocab = model["vocab"]
    pieces = [""] * len(vocab)
    for piece, i in vocab.items():
        pieces[i] = piece
    merges = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
    return {"pieces": pieces, "merges": [vocab[x] for a, b in merges for x in (a, b)],
            "unk": vocab.get("<unk>", 0)}


def tables_js() -> str:
    """A classic script defining ``window.LLMBOOK_TOKENIZER_TABLES``."""
    data = {"gpt2": gpt2_table(), "llama": llama_table()}
    return f"window.LLMBOOK_TOKENIZER_TABLES = {json.dumps(data, separators=(',', ':'), ensure_ascii=False)};\n"
