"""llmbook: real forward passes of distilgpt2 and TinyLlama, every intermediate captured.

    from llmbook import load_model, capture, Trace
    lm = load_model("distilgpt2", weights="standin")
    tr = capture(lm, "January, February, March,", max_new_tokens=3)
"""

import os

# Large CPU tensors on transparent huge pages: halves the page-fault cost of
# allocating TinyLlama's 4.4 GB (must be set before torch is imported; an explicit
# setting in the environment wins).
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from ._version import __version__  # noqa: E402

from .lm.capture import Sampling, capture  # noqa: E402
from .lm.models import LoadedModel, load_model  # noqa: E402
from .lm.trace import Trace, TraceError  # noqa: E402

__all__ = ["load_model", "capture", "Trace", "TraceError", "Sampling", "LoadedModel", "__version__"]
