"""A content-addressed cache of traces, so a build re-captures only what changed.

A trace's key hashes what decides its contents: model, weights identity (real
source or stand-in seed), the tokenizer (its files' digest and the encoding library's
version), dtype, prompt, chat framing, generation and filter
settings, and the capture code's version. Lookup order:

1. ``LLMBOOK_TRACES``: a read-only folder of precomputed traces (a maintainer with
   the real weights makes it with ``llmbook capture --book --out DIR``);
2. the cache folder (``$LLMBOOK_CACHE/traces``, default ``~/.cache/llmbook/traces``);
3. capture now, and save into the cache.

A corrupt or tampered cache entry is reported, deleted and recomputed. Not
handled: eviction (delete the folder to reclaim space), concurrent writers of the
same key (last rename wins; both wrote the same content).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

from .cache import cache_root
from .capture import Sampling, capture
from .models import DTYPES, load_model
from .provenance import capture_code_version
from .specs import get_spec
from .tokenizers import TokenizerUnavailable, check_prompt, tokenizer_identity
from .trace import Trace, TraceError
from .weights import STANDIN_SEED, choose_weights

TRACES_ENV = "LLMBOOK_TRACES"


def cache_dir() -> Path:
    return cache_root() / "traces"


def trace_key(model: str, weights_identity: str, dtype: str, prompt: str, **settings) -> str:
    payload = {"model": model, "weights": weights_identity, "dtype": dtype, "prompt": prompt,
               "settings": settings, "code": capture_code_version(), "tokenizer": _tokenizer(model)}
    blob = json.dumps(payload, sort_keys=True, default=_jsonable).encode()
    return f"{model}-{hashlib.sha256(blob).hexdigest()[:24]}"


def _tokenizer(model: str) -> str:
    """The tokenizer's files and library version: ids change with them, so keys do too."""
    try:
        return tokenizer_identity(get_spec(model))
    except TokenizerUnavailable as err:
        return f"unavailable: {err}"


def _jsonable(obj):
    if isinstance(obj, (set, frozenset, tuple)):
        return sorted(obj)
    if isinstance(obj, Sampling):
        return obj.__dict__
    raise TypeError(f"cannot key on {type(obj).__name__}")


def get_trace(model: str, prompt: str, *, weights: str | None = None, source: str | None = None,
              dtype: str | None = None, seed: int = STANDIN_SEED, into=None, **settings) -> Trace:
    """The trace of ``capture(load_model(model, ...), prompt, **settings)``, cached.

    Deciding real vs stand-in does not load the model, so a cache hit costs one
    file read. ``into``: a folder to (also) write the trace to, under its key.
    """
    spec = get_spec(model)
    check_prompt(prompt)                     # before anything slow is loaded
    dtype = dtype or spec.dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    choice = choose_weights(spec, weights, source, seed)
    key = trace_key(model, choice.identity, dtype, prompt, **settings)
    tr = _lookup(key)
    if tr is None:
        lm = load_model(model, choice.kind, source=source, dtype=dtype, seed=seed)
        tr = capture(lm, prompt, **settings)
        tr.save(cache_dir() / f"{key}.npz")
    if into is not None:
        tr.save(Path(into) / f"{key}.npz")
    return tr


def _lookup(key: str) -> Trace | None:
    shipped = os.environ.get(TRACES_ENV)
    if shipped and (Path(shipped) / f"{key}.npz").is_file():
        return Trace.load(Path(shipped) / f"{key}.npz")   # a broken shipped trace is an error
    path = cache_dir() / f"{key}.npz"
    if not path.is_file():
        return None
    try:
        return Trace.load(path)
    except TraceError as err:
        warnings.warn(f"discarding a corrupt cached trace, recomputing: {err}", stacklevel=3)
        path.unlink(missing_ok=True)
        return None
