"""The site's scripts: served from the site itself, and only on the pages that use them.

- plotly.js is copied once from the installed ``plotly`` package into the generated
  static folder (no CDN, no require.js) and added to pages that draw a figure;
- the slideshow, explorer, widget and live-page scripts go only to pages whose HTML has
  their markers (``llmbook-slideshow``, ``llmbook-explorer``, ``id="tinylm-widget"``,
  ``id="llmbook-live"``, ``id="llmbook-llama"``);
- sphinx-gallery's timing page loads jQuery and DataTables from CDNs: its table is kept,
  the scripts are dropped.

Not handled: pages that build a figure in JavaScript without one of the markers.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .settings import path

# marker in a page's body -> scripts (relative to the static folder) and their priority
PAGE_SCRIPTS = (
    (("Plotly.newPlot", "llmbook-explorer"), ("plotly/plotly.min.js",), 100),
    (("llmbook-slideshow",), ("slideshow.js",), 600),                 # after the page's own figures
    (("llmbook-explorer",), ("explorer.js",), 600),
    (('id="tinylm-widget"',), ("tinylm/widget-data.js", "tinylm/widget.js", "tinylm/widget/widget-boot.js"), 600),
    (('id="llmbook-live"',), ("tinylm/gpt2-tables.js", "tinylm/tokenizers/tokenizers.js", "tinylm/live-data.js", "tinylm/live.js",
                              "tinylm/live/live-boot.js"), 600),
    (('id="llmbook-llama"',), ("tinylm/llama-tables.js", "tinylm/tokenizers/tokenizers.js", "tinylm/llama-data.js",
                               "tinylm/llama-live.js", "tinylm/live/llama-boot.js"), 600),
)
_CDN_TABLE_SCRIPTS = re.compile(r"\n  \.\. raw:: html\n.*?\n(  \.\. list-table::)", re.S)


def generated_static(app) -> Path:
    return path(app, "generated") / "static"


def write_if_changed(target: Path, data: bytes) -> None:
    """Write only when the bytes differ, so an unchanged build copies nothing new."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_bytes() != data:
        target.write_bytes(data)


def copy_plotly_js(app, config) -> None:
    """config-inited: the generated static folder joins ``html_static_path``, with plotly.min.js in it."""
    import plotly

    static = generated_static(app)
    src = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    dst = static / "plotly" / "plotly.min.js"
    if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    if str(static) not in map(str, config.html_static_path):
        config.html_static_path = [*config.html_static_path, str(static)]


def add_page_scripts(app, pagename, templatename, context, doctree) -> None:
    """html-page-context: each script only where the page's HTML shows it is needed."""
    body = context.get("body", "")
    for markers, scripts, priority in PAGE_SCRIPTS:
        if any(m in body for m in markers):
            for script in scripts:
                app.add_js_file(script, priority=priority)


def offline_execution_times(app, docname, source) -> None:
    """source-read: sphinx-gallery's timing pages keep their table, without the CDN scripts."""
    if docname.endswith("sg_execution_times"):
        source[0] = _CDN_TABLE_SCRIPTS.sub(r"\n\1", source[0])
