"""The book's settings. How the build does its work is in ``llmbook.sphinxext``.

Chapters are MyST-NB Markdown executed through jupyter-cache; the gallery is
sphinx-gallery over ``../gallery``; plotly figures use llmbook's offline renderer.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this process and the chapters' kernels import llmbook from this checkout
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])

import llmbook  # noqa: E402
import llmbook.figures  # noqa: E402,F401  (selects the plotly renderer for gallery scripts)
from llmbook.sphinxext.quick import gallery_enabled  # noqa: E402
from sphinx_gallery.sorting import ExplicitOrder  # noqa: E402

project = "llmbook"
author = "the llmbook authors"
copyright = "2026, the llmbook authors"
release = llmbook.__version__

extensions = ["myst_nb", "sphinx_design", "sphinx_copybutton", "sphinx-mathjax-offline", "llmbook.sphinxext"]
if gallery_enabled():            # LLMBOOK_GALLERY=0 or LLMBOOK_ONLY=… leave it out
    extensions.append("sphinx_gallery.gen_gallery")

llmbook_conf = {"static_sources": "../_static", "generated": "_generated", "tiny_pages": ["part2/", "try/"]}

exclude_patterns = [
    "_build", "_generated", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints",
    # sphinx-gallery's by-products are never Sphinx sources (myst-nb would run the .ipynb again)
    *(f"auto_examples/**.{ext}" for ext in ("ipynb", "py", "zip", "md5", "json", "pickle")),
]

# --- myst-nb: executed chapters (the cache folder is keyed on llmbook's source) ----
nb_execution_mode = "cache"
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

# --- sphinx-gallery --------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../gallery",
    "gallery_dirs": "auto_examples",
    "subsection_order": ExplicitOrder([f"../gallery/{d}" for d in ("tokens", "inside", "generation", "training")]),
    "filename_pattern": r"/plot_",
    "capture_repr": ("_repr_html_", "__repr__"),
    "download_all_examples": True,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "abort_on_example_error": True,
    "show_memory": False,
}

# --- HTML ----------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "llmbook"
html_static_path = ["../_static"]
html_css_files = ["llmbook.css"]
html_js_files = ["a11y.js"]            # fixes for the theme's markup (see the file)
html_theme_options = {"home_page_in_toc": True, "show_navbar_depth": 1, "use_download_button": True,
                      "navigation_with_keys": True}
html_favicon = "../_static/favicon.svg"
html_context = {"default_mode": "auto"}   # follow the reader's light/dark preference
html_last_updated_fmt = None
html_copy_source = False
suppress_warnings = ["mystnb.unknown_mime_type"]   # plotly's Jupyter mime type sits beside text/html
