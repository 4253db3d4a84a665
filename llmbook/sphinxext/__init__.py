"""The book's Sphinx glue, as an extension: ``extensions = [..., "llmbook.sphinxext"]``.

``book/conf.py`` says *what* the book is (its settings, one ``llmbook_conf`` dict for
this extension); this package does *how*. Each step is one named function on one
Sphinx event:

=====================  ==========================================  ===================
event                  step                                        function
=====================  ==========================================  ===================
config-inited          ``LLMBOOK_ONLY``: leave other chapters out  quick.exclude_other_chapters
config-inited          the generated static folder, plotly.js      assets.copy_plotly_js
config-inited          tokenizers and weights there, or stop now   preflight.check_inputs
config-inited          execution cache keyed on the package        execution.key_execution_cache
config-inited          real weights mapped from files, not copied  memory.map_weights
builder-inited         the gallery re-runs when the package moved  execution.rerun_stale_gallery
builder-inited         drop execution caches of older packages     execution.prune_old_caches
builder-inited         free the gallery's models before chapters   memory.release_models
env-before-read-docs   the tiny model's files, for pages using it  widget.publish_tiny_files
env-before-read-docs   the live page's scripts and parity data     live.publish_live_files
env-before-read-docs   the live TinyLlama page's, likewise         llama_live.publish_llama_files
source-read            no CDN on sphinx-gallery's timing page      assets.offline_execution_times
html-page-context      scripts only on the pages that use them     assets.add_page_scripts
html-page-context      ``layout: wide`` pages take the full width   layout.wide_pages
build-finished         remember which package the gallery ran on   execution.stamp_gallery
build-finished         the live pages' isolation service worker    live.publish_isolation_worker
=====================  ==========================================  ===================

Not handled: parallel builds (``-j``) of the widget files; other builders than HTML
(the steps are harmless there, but nothing is published).
"""

from __future__ import annotations

from .._version import __version__
from . import assets, execution, layout, live, llama_live, memory, preflight, quick, widget
from .settings import DEFAULTS


def setup(app):
    app.add_config_value("llmbook_conf", DEFAULTS, "env", types=[dict])
    app.connect("config-inited", quick.exclude_other_chapters, priority=5)
    app.connect("config-inited", execution.key_execution_cache, priority=5)
    app.connect("config-inited", memory.map_weights, priority=5)   # before sphinx-gallery's (10)
    app.connect("config-inited", assets.copy_plotly_js, priority=100)          # before html_static_path is checked (800)
    app.connect("config-inited", preflight.check_inputs, priority=900)
    app.connect("builder-inited", execution.rerun_stale_gallery, priority=5)     # before sphinx-gallery runs (500)
    app.connect("builder-inited", execution.prune_old_caches)
    app.connect("builder-inited", memory.release_models, priority=900)        # after sphinx-gallery (500)
    app.connect("env-before-read-docs", widget.publish_tiny_files)
    app.connect("env-before-read-docs", live.publish_live_files)
    app.connect("env-before-read-docs", llama_live.publish_llama_files)
    app.connect("source-read", assets.offline_execution_times)
    app.connect("html-page-context", assets.add_page_scripts)
    app.connect("html-page-context", layout.wide_pages)
    app.connect("build-finished", execution.stamp_gallery)
    app.connect("build-finished", live.publish_isolation_worker)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
