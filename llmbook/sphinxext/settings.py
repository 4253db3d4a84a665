"""``llmbook_conf``: the extension's one settings dict, and where its folders are.

Paths are relative to the folder of ``conf.py``. Every key has a default, so a
``conf.py`` sets only what differs.
"""

from __future__ import annotations

from pathlib import Path

DEFAULTS = {
    "static_sources": "../_static",          # the site's own files; the widget's ES modules in tinylm/
    "generated": "_generated",               # files the build makes: generated/static joins html_static_path
    "tiny_pages": ("part2/", "try/"),        # pages that load the tiny model's published files
    "gallery_dir": "auto_examples",          # where sphinx-gallery writes (for the staleness stamp)
    "live_page": "try/live",                 # the live-prompt page (its scripts and parity reference)
    "live_weights_url":                      # where that page downloads distilgpt2 (?weights= overrides)
        "https://huggingface.co/distilbert/distilgpt2/resolve/main/model.safetensors",
    "llama_page": "try/llama",               # the live TinyLlama page (its scripts and parity reference)
    "llama_weights_url":                     # where that page downloads TinyLlama (?weights= overrides)
        "https://huggingface.co/TinyLlama/TinyLlama-1.1B-Chat-v1.0/resolve/main/model.safetensors",
}


def settings(config) -> dict:
    """The merged settings; unknown keys are refused, naming the known ones."""
    given = dict(config.llmbook_conf or {})
    unknown = set(given) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"llmbook_conf: unknown key(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    return {**DEFAULTS, **given}


def path(app, key: str) -> Path:
    """A folder setting as an absolute path (relative to conf.py's folder)."""
    return (Path(app.confdir) / settings(app.config)[key]).resolve()
