"""Part II's files for the pages that load them: the tiny model, its tokenizer, the widget.

Before any chapter is read, if the book holds a page under ``llmbook_conf["tiny_pages"]``,
the tiny model is trained once (cached by content, :func:`llmbook.tiny.artifacts.book_artifacts`)
and these files are written to the generated static folder's ``tinylm/``:

==========================  ===============================================================
``merges.json``             the BPE merges (the tokenizer box fetches it over http)
``checkpoint.json``         the trained weights (CONTRACTS §4)
``merges-data.js``          the merges as a classic script (``file://`` pages cannot fetch)
``bpe-classic.js``          ``bpe.js`` as a classic script, for the tokenizer box
``widget.js``               the widget's ES modules bundled (:mod:`.bundle`)
``widget-data.js``          checkpoint, corpus slice and parity logits (:mod:`llmbook.tiny.export`)
``tokenizer-tables.js``     GPT-2's and Llama's tokenizers for the box (:mod:`llmbook.part1.tokenizer_tables`)
==========================  ===============================================================

A book without such pages (a partial build, the tests' small books) trains nothing.
Not handled: pages elsewhere that load these files (list them in ``tiny_pages``).
"""

from __future__ import annotations

import json

from .assets import generated_static, write_if_changed
from .bundle import bundle
from .settings import path, settings


def needs_tiny_files(app, docnames) -> bool:
    prefixes = tuple(settings(app.config)["tiny_pages"])
    return any(doc.startswith(prefixes) for doc in docnames)


def publish_tiny_files(app, env, docnames) -> None:
    """env-before-read-docs: train (or find) the tiny model and publish what its pages load."""
    if not needs_tiny_files(app, env.found_docs):
        return
    from ..part1.tokenizer_tables import tables_js
    from ..tiny.artifacts import book_artifacts
    from ..tiny.export import widget_payload

    folder = book_artifacts(progress=True)
    out, sources = generated_static(app) / "tinylm", path(app, "static_sources") / "tinylm"
    for name in ("merges.json", "checkpoint.json"):
        write_if_changed(out / name, (folder / name).read_bytes())
    merges = json.loads((folder / "merges.json").read_text())["merges"]
    write_if_changed(out / "merges-data.js", f"window.LLMBOOK_BPE_MERGES = {json.dumps(merges)};\n".encode())
    write_if_changed(out / "bpe-classic.js", classic_bpe((sources / "tokenizers" / "bpe.js").read_text()).encode())
    write_if_changed(out / "widget.js", bundle(sources).encode())
    payload = json.dumps(widget_payload(folder), separators=(",", ":"))
    write_if_changed(out / "widget-data.js", f"window.LLMBOOK_TINYLM = {payload};\n".encode())
    write_if_changed(out / "tokenizer-tables.js", tables_js().encode())


def classic_bpe(module: str) -> str:
    """``bpe.js`` (an ES module) as a classic script defining ``window.llmbookBPE``."""
    return ("(() => {\n" + module.replace("export function", "function")
            + "\nwindow.llmbookBPE = { encode, decode, vocabBytes, tokenText, validateMerges };\n})();\n")
