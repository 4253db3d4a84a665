"""Sphinx configuration of the llmbook book.

Three pieces work together here:

- myst-nb executes the chapters (``*.md`` with ``{code-cell}``) through
  jupyter-cache. jupyter-cache keys only on cell source, so the cache folder is
  named after a hash of the ``llmbook`` package's source: editing the package
  re-executes every chapter, an unchanged tree re-executes nothing.
- sphinx-gallery renders ``../gallery/plot_*.py`` into ``auto_examples/``. Its
  ``.ipynb``/``.py``/``.zip`` outputs are excluded from Sphinx sources so myst-nb
  never parses (or executes) them a second time, and its stale-example check is
  widened to the same package hash.
- plotly figures render through llmbook's "llmbook" renderer (a ``<div>`` plus
  ``Plotly.newPlot``); ``plotly.min.js`` is copied once into ``_static`` from the
  installed plotly package and added only to pages that draw a figure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent
sys.path.insert(0, str(ROOT))  # the chapters' kernels import llmbook from this checkout

import plotly  # noqa: E402
from sphinx_gallery.sorting import ExplicitOrder  # noqa: E402

import llmbook.figures  # noqa: E402,F401  (selects the plotly renderer for gallery scripts)
from llmbook.provenance import package_source_digest  # noqa: E402

project = "llmbook"
author = "the llmbook authors"
copyright = "2026, the llmbook authors"
release = llmbook.__version__

extensions = [
    "myst_nb",
    "sphinx_gallery.gen_gallery",
    "sphinx_design",
    "sphinx_copybutton",
    "sphinx-mathjax-offline",   # MathJax served from _static, not a CDN
]
# LLMBOOK_ONLY=part1/verify[,…]: build just these chapters (and the landing page);
# LLMBOOK_GALLERY=0: skip the gallery. Both are for quick author runs and tests.
ONLY = [d.strip().removesuffix(".md") for d in os.environ.get("LLMBOOK_ONLY", "").split(",") if d.strip()]
if os.environ.get("LLMBOOK_GALLERY") == "0" or ONLY:
    extensions.remove("sphinx_gallery.gen_gallery")

BUILD = BOOK / "_build"
GENERATED = BOOK / "_generated"
exclude_patterns = [
    "_build", "_generated", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints",
    # sphinx-gallery's by-products, in every subsection: never Sphinx sources (myst-nb would
    # parse and execute the .ipynb copies a second time)
    "auto_examples/**.ipynb", "auto_examples/**.py", "auto_examples/**.zip",
    "auto_examples/**.md5", "auto_examples/**.json", "auto_examples/**.pickle",
]

if ONLY:
    exclude_patterns += [str(p.relative_to(BOOK).with_suffix("")) + ".md" for p in BOOK.rglob("*.md")
                         if str(p.relative_to(BOOK).with_suffix("")) not in ONLY + ["index"]]
    exclude_patterns += ["auto_examples", "sg_execution_times.rst"]
    suppress_warnings = ["toc.excluded", "toc.not_readable", "ref.doc", "ref.ref"]  # links to left-out pages

# --- myst-nb ---------------------------------------------------------------------
SOURCE_DIGEST = package_source_digest()
CACHE_ROOT = BUILD / ".jupyter_cache"
nb_execution_mode = "cache"
nb_execution_cache_path = str(CACHE_ROOT / SOURCE_DIGEST)
nb_execution_timeout = 900
nb_execution_raise_on_error = True     # a failing cell fails the build...
nb_execution_show_tb = True            # ...and the log shows the chapter and traceback
nb_execution_excludepatterns = ["auto_examples/**"]
nb_render_markdown_format = "myst"     # Markdown outputs may carry admonitions
nb_ipywidgets_js = {}                  # never require.js or a widgets CDN
nb_merge_streams = True
nb_output_stderr = "remove"            # library progress/warning chatter is not book content
myst_enable_extensions = ["colon_fence", "dollarmath", "amsmath", "deflist", "attrs_block"]
myst_heading_anchors = 3

# --- sphinx-gallery ------------------------------------------------------------
GALLERY_STAMP = BOOK / "auto_examples" / ".llmbook-source-digest"
_stale = not GALLERY_STAMP.is_file() or GALLERY_STAMP.read_text().strip() != SOURCE_DIGEST
sphinx_gallery_conf = {
    "examples_dirs": "../gallery",                 # relative to this file
    "gallery_dirs": "auto_examples",
    "subsection_order": ExplicitOrder([f"../gallery/{d}" for d in ("tokens", "inside", "generation", "training")]),
    "filename_pattern": r"/plot_",
    "capture_repr": ("_repr_html_", "__repr__"),
    "run_stale_examples": _stale,           # package changed: the examples' output may too
    "download_all_examples": True,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "abort_on_example_error": True,
    "show_memory": False,
}

# --- HTML --------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "llmbook"
html_static_path = [str(ROOT / "_static"), str(GENERATED / "static")]
html_css_files = ["llmbook.css"]
html_js_files = ["a11y.js"]          # fixes for the theme's markup (see the file)
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": True,
    "navigation_with_keys": True,
}
html_favicon = str(ROOT / "_static" / "favicon.svg")
html_context = {"default_mode": "auto"}   # follow the reader's light/dark preference
html_last_updated_fmt = None
html_copy_source = False
suppress_warnings = ["mystnb.unknown_mime_type", *globals().get("suppress_warnings", [])]
# (mystnb.unknown_mime_type: plotly's Jupyter mime type sits beside text/html, which is used)


def _copy_plotly_js() -> None:
    """plotly.min.js from the installed plotly package, once, into _static/plotly/."""
    src = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    dst = GENERATED / "static" / "plotly" / "plotly.min.js"
    if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)


_copy_plotly_js()  # before Sphinx checks html_static_path


def _prune_old_caches(app) -> None:
    """Execution caches of earlier package versions are never read again."""
    if CACHE_ROOT.is_dir():
        for old in CACHE_ROOT.iterdir():
            if old.name != SOURCE_DIGEST:
                shutil.rmtree(old, ignore_errors=True)


def _scripts_on_pages_that_use_them(app, pagename, templatename, context, doctree) -> None:
    body = context.get("body", "")
    if "Plotly.newPlot" in body or "llmbook-explorer" in body:
        app.add_js_file("plotly/plotly.min.js", priority=100)
    if "llmbook-slideshow" in body:
        app.add_js_file("slideshow.js", priority=600)        # after the page's own figures
    if "llmbook-explorer" in body:
        app.add_js_file("explorer.js", priority=600)
    if 'id="tinylm-widget"' in body:
        for name in ("widget-data.js", "widget.js", "widget-boot.js"):
            app.add_js_file(f"tinylm/{name}", priority=600)


_CDN_TABLE_SCRIPTS = re.compile(r"\n  \.\. raw:: html\n.*?\n(  \.\. list-table::)", re.S)


def _offline_execution_times(app, docname, source) -> None:
    """sphinx-gallery's timing pages load jQuery/DataTables from CDNs: keep just the table."""
    if docname.endswith("sg_execution_times"):
        source[0] = _CDN_TABLE_SCRIPTS.sub(r"\n\1", source[0])


def _tiny_artifacts(app) -> None:
    """Train Part II's tiny model once (cached by content) and publish what pages load."""
    if ONLY and not any(d.startswith(("part2/", "try/")) for d in ONLY):
        return
    from llmbook.tiny.artifacts import book_artifacts

    folder = book_artifacts(progress=True)
    dst = GENERATED / "static" / "tinylm"
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("merges.json", "checkpoint.json"):
        _write_if_changed(dst / name, (folder / name).read_bytes())
    # file:// pages may not load ES modules or fetch(): classic-script twins for the tokenizer box
    module = (ROOT / "_static" / "tinylm" / "bpe.js").read_text()
    classic = "(() => {\n" + module.replace("export function", "function") + (
        "\nwindow.llmbookBPE = { encode, decode, vocabBytes, tokenText, validateMerges };\n})();\n")
    _write_if_changed(dst / "bpe-classic.js", classic.encode())
    merges = json.loads((folder / "merges.json").read_text())["merges"]
    _write_if_changed(dst / "merges-data.js", f"window.LLMBOOK_BPE_MERGES = {json.dumps(merges)};\n".encode())
    from llmbook.tiny.web import bundle, widget_data   # the in-page transformer (try/widget)

    _write_if_changed(dst / "widget.js", bundle(ROOT / "_static" / "tinylm").encode())
    _write_if_changed(dst / "widget-data.js", widget_data(folder).encode())
    from llmbook.tokenizer_tables import tables_js   # GPT-2's and Llama's tokenizers for the box

    _write_if_changed(dst / "tokenizer-tables.js", tables_js().encode())


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)


def _stamp_gallery(app, exception) -> None:
    if exception is None and GALLERY_STAMP.parent.is_dir():
        GALLERY_STAMP.write_text(SOURCE_DIGEST)


def setup(app):
    os.environ.setdefault("LLMBOOK_BUILD", "1")
    app.connect("builder-inited", _prune_old_caches)
    app.connect("builder-inited", _tiny_artifacts, priority=400)   # before the gallery runs
    app.connect("html-page-context", _scripts_on_pages_that_use_them)
    app.connect("source-read", _offline_execution_times)
    app.connect("build-finished", _stamp_gallery)
