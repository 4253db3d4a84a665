"""The live-prompt page's files (``try/live``): its scripts and the build's parity reference.

Before any chapter is read, if the book holds the page named by ``llmbook_conf["live_page"]``,
these files are written to the generated static folder's ``tinylm/``:

=====================  ==========================================================================
``live.js``            the page's ES modules bundled (:mod:`.bundle`): gpt2.js and its engines; the
                       page starts its engine worker (live-worker.js) from this same text
``live-data.js``       where the weights come from, their size, the book's prompt, special tokens
``gpt2-tables.js``     GPT-2's tokenizer tables alone (:mod:`llmbook.part1.tokenizer_tables`)
``live-parity.js``     the book prompt's last-position logits as PyTorch computed them in this
                       build, with the weights they came from (loaded only when the reader
                       asks for the check)
=====================  ==========================================================================

and, when the HTML build is done, ``isolation-sw.js`` (``live/isolation-sw.js``) to the site's root:
the service worker that makes the live pages cross-origin isolated where the host sends no
headers for it, so the CPU engine runs on several threads (:func:`publish_isolation_worker`).

The reference comes from the book's own distilgpt2 trace (:mod:`llmbook.part1.book_traces`),
so it is the real model's when the build has the real weights and the stand-in's otherwise,
and it says which. Not handled: a live page for TinyLlama (the engine reads GPT-2 only).
"""

from __future__ import annotations

import base64
import json

import numpy as np

from .assets import generated_static, write_if_changed
from .bundle import bundle
from .settings import path, settings

MODULES = tuple("engines/" + m for m in ("layout", "simd", "linalg", "pool", "cpu", "kernels", "safetensors",
                                        "gpt2-common", "gpt2-kernels", "gpt2-webgpu", "gpt2", "rng", "decode")) + (
    "tokenizers/bpe", "common/dom", "live/live-math", "live/read-stream", "live/host", "live/live-worker", "live/live-steps", "live/isolation", "live/live")
ISOLATION_SW = "isolation-sw.js"       # at the site's root (a service worker controls pages below its folder only)
WEIGHTS_MB = 353                       # about the published file's size (82 M float32 values), on the button


def has_live_page(app, docnames) -> bool:
    return settings(app.config)["live_page"] in docnames


def publish_live_files(app, env, docnames) -> None:
    """env-before-read-docs: the live page's scripts, data and parity reference."""
    if not has_live_page(app, env.found_docs):
        return
    from ..part1.tokenizer_tables import gpt2_table

    out, sources = generated_static(app) / "tinylm", path(app, "static_sources") / "tinylm"
    write_if_changed(out / "live.js", bundle(sources, MODULES, expose="llmbookLive", source="llmbookLiveSource").encode())
    tables = json.dumps({"gpt2": gpt2_table()}, separators=(",", ":"))
    write_if_changed(out / "gpt2-tables.js", f"window.LLMBOOK_TOKENIZER_TABLES = {tables};\n".encode())
    reference = parity_reference()
    data = {"weights_url": settings(app.config)["live_weights_url"], "weights_mb": WEIGHTS_MB,
            "book_prompt": reference["prompt"], "special_tokens": {"50256": "<|endoftext|>"},
            "parity_script": "../_static/tinylm/live-parity.js",
            "isolation_sw": "../" * settings(app.config)["live_page"].count("/") + ISOLATION_SW}
    write_if_changed(out / "live-data.js", f"window.LLMBOOK_LIVE = {json.dumps(data)};\n".encode())
    write_if_changed(out / "live-parity.js",
                     f"window.LLMBOOK_LIVE_PARITY = {json.dumps(reference, separators=(',', ':'))};\n".encode())


def publish_isolation_worker(app, exception) -> None:
    """build-finished: the isolation service worker at the HTML site's root, beside index.html."""
    if exception is not None or app.builder.format != "html" or not has_live_page(app, app.env.found_docs):
        return
    from pathlib import Path

    source = path(app, "static_sources") / "tinylm" / "live" / ISOLATION_SW
    write_if_changed(Path(app.outdir) / ISOLATION_SW, source.read_bytes())


def parity_reference() -> dict:
    """The book's distilgpt2 prompt: ids, last-position logits (float32, base64), their weights.
    The trace is cached, so the walk-through chapter reuses it; a model loaded for it is let go."""
    from ..lm.models import _load
    from ..part1.book_traces import book_trace

    trace = book_trace("distilgpt2-months")
    _load.cache_clear()                       # the chapters' kernels load their own
    logits = np.ascontiguousarray(trace.arrays["logits"][len(trace.token_ids) - 1], dtype="<f4")
    prov = trace.provenance
    label = ("stand-in weights (seeded, real architecture) in float32" if trace.is_standin
             else f"the real distilgpt2 weights (revision {prov.get('revision') or 'unknown'}) in float32")
    return {"prompt": trace.settings["prompt"], "ids": trace.token_ids, "label": label,
            "is_standin": trace.is_standin, "logits_b64": base64.b64encode(logits.tobytes()).decode()}
