"""`Trace`: everything one captured pass produced, saved and loaded without pickle.

On disk a trace is one ``.npz`` (numpy arrays, ``allow_pickle=False``) holding the
arrays plus ``__meta__``: UTF-8 JSON with the scalar fields, provenance and a
SHA-256 over every array, checked on load so a truncated or edited file is
refused with a message naming the problem.

Array names: contract fields (``residual``, ``attn``, ``logits``) and global ones
(``tok_emb``, ``final_norm``, ``lens_top_ids``…) as is; per-block detail as
``blocks.{i}.{field}`` (see :mod:`llmbook.hooks`). Not handled: traces of batches,
and files written by a newer format version.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "llmbook-trace/1"
META_KEY = "__meta__"


class TraceError(ValueError):
    """A trace file is missing, truncated, tampered with or of another format."""


@dataclass
class Trace:
    model_name: str
    is_standin: bool
    token_ids: list[int]
    tokens: list[str]
    generated_ids: list[int]
    arrays: dict[str, np.ndarray] = field(repr=False)
    config: dict = field(default_factory=dict)       # n_layers, n_heads, d_model, …
    settings: dict = field(default_factory=dict)     # prompt, chat, sampling, filter
    steps: list[dict] = field(default_factory=list)  # generation loop, one dict per step
    provenance: dict = field(default_factory=dict)
    vocab: dict = field(default_factory=dict)        # "id" -> display string, for every id shown

    # --- the contract's fields ------------------------------------------------
    @property
    def residual(self) -> np.ndarray:   # [L+1, T, d]
        return self.arrays["residual"]

    @property
    def attn(self) -> np.ndarray:       # [L, H, T, T]
        return self.arrays["attn"]

    @property
    def logits(self) -> np.ndarray:     # [T, V]
        return self.arrays["logits"]

    @property
    def probs(self) -> np.ndarray:      # [T, V] softmax of logits, float64 then float32
        z = self.logits.astype(np.float64)
        z = np.exp(z - z.max(axis=-1, keepdims=True))
        return (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)

    @property
    def generated_tokens(self) -> list[str]:
        return [s["token"] for s in self.steps if s.get("token_id") is not None]

    @property
    def cache_bytes_per_token(self) -> int:
        """How much the real KV cache grew between the loop's first two steps."""
        if len(self.steps) < 2:
            raise ValueError("the trace has fewer than two generation steps")
        return self.steps[1]["cache_bytes"] - self.steps[0]["cache_bytes"]

    def token_str(self, token_id: int) -> str:
        """Display string of any id the trace refers to (prompt, lens, alternatives)."""
        return self.vocab[str(int(token_id))]

    def block(self, layer: int, name: str) -> np.ndarray:
        """Per-block detail, e.g. ``tr.block(3, "q")`` -> [H, T, dh]."""
        key = f"blocks.{layer}.{name}"
        if key not in self.arrays:
            kept = sorted({k.split(".")[2] for k in self.arrays if k.startswith(f"blocks.{layer}.")})
            raise KeyError(f"{key} was not captured (layer {layer} keeps: {', '.join(kept) or 'nothing'}); "
                           "widen capture(keep=..., layers=...)")
        return self.arrays[key]

    def __getattr__(self, name: str):
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(name)

    # --- storage ----------------------------------------------------------------
    def meta(self) -> dict:
        return {
            "format": FORMAT, "model_name": self.model_name, "is_standin": self.is_standin,
            "token_ids": self.token_ids, "tokens": self.tokens, "generated_ids": self.generated_ids,
            "config": self.config, "settings": self.settings, "steps": self.steps,
            "provenance": self.provenance, "vocab": self.vocab, "arrays_sha256": arrays_digest(self.arrays),
        }

    def save(self, path) -> Path:
        """Write atomically (temp file + rename): a crash never leaves half a trace."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = np.frombuffer(json.dumps(self.meta(), ensure_ascii=False).encode(), dtype=np.uint8)
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{META_KEY: meta}, **self.arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path) -> "Trace":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise TraceError(f"{path}: no such trace file") from None
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as err:
            raise TraceError(f"{path}: not a readable trace ({type(err).__name__}: {err}); "
                             "the file is truncated or not an llmbook trace") from None
        return cls._from_arrays(path, arrays)

    @classmethod
    def _from_arrays(cls, path: Path, arrays: dict) -> "Trace":
        if META_KEY not in arrays:
            raise TraceError(f"{path}: no {META_KEY} entry; not an llmbook trace")
        try:
            meta = json.loads(arrays.pop(META_KEY).tobytes().decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise TraceError(f"{path}: metadata is not valid JSON ({err})") from None
        if meta.get("format") != FORMAT:
            raise TraceError(f"{path}: format {meta.get('format')!r}, this llmbook reads {FORMAT!r}")
        if arrays_digest(arrays) != meta.get("arrays_sha256"):
            raise TraceError(f"{path}: array contents do not match their recorded SHA-256; "
                             "the file was modified after it was written")
        fields = ("model_name", "is_standin", "token_ids", "tokens", "generated_ids",
                  "config", "settings", "steps", "provenance", "vocab")
        return cls(arrays=arrays, **{k: meta[k] for k in fields})


def arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
