"""What Part II's tiny model publishes for the in-page widget, as plain data.

:func:`widget_payload` gathers the build's checkpoint (float32, base64), a slice of
the encoded corpus (uint16, base64) and the parity reference: PyTorch's logits for a
fixed prompt on that checkpoint, with the versions that computed them. How it
reaches a page (a script setting ``window.LLMBOOK_TINYLM``, since a ``file://`` page
cannot fetch) is the Sphinx extension's business (:mod:`llmbook.sphinxext.widget`).

Not handled: checkpoints of other formats than CONTRACTS §4.
"""

from __future__ import annotations

import base64
import platform
from pathlib import Path

import numpy as np

from . import bpe
from .artifacts import BOOK_TRAINING, load_book_model, load_history

TRAIN_SLICE = 262_144            # tokens of the training text shipped (of ~1.96 M)
VAL_SLICE = 32_768
PARITY_PROMPT = "ROMEO:\nBut soft, what light through yonder window breaks?"


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def widget_payload(folder: Path) -> dict:
    """The widget's checkpoint, corpus slice and parity reference, JSON-ready."""
    import torch

    model = load_book_model(folder)
    merges = bpe.load_merges(folder / "merges.json")
    history = load_history(folder)
    ids = bpe.encode(PARITY_PROMPT, merges)
    with torch.no_grad():
        logits = model.forward(ids).numpy().astype("<f4")                       # [T, V]
    tensors = {n: {"shape": list(p.shape), "base64": _b64(p.detach().numpy().astype("<f4"))}
               for n, p in model.named_parameters()}
    train = np.load(folder / "train_ids.npy")[:TRAIN_SLICE].astype("<u2")
    val = np.load(folder / "val_ids.npy")[:VAL_SLICE].astype("<u2")
    data = {
        "checkpoint": {"format": "llmbook-tiny/1", "config": model.to_json()["config"], "tensors": tensors,
                       "merges": [list(m) for m in merges]},
        "training": {"steps": BOOK_TRAINING.steps, "batch_size": BOOK_TRAINING.batch_size, "lr": BOOK_TRAINING.lr,
                     "val_loss": history["val_loss"][-1], "train_loss": history["train_loss"][-1],
                     "seconds": history["seconds"], "train_tokens": history["train_tokens"],
                     "val_tokens": history["val_tokens"]},
        "corpus": {"train": _b64(train), "val": _b64(val), "train_tokens": len(train), "val_tokens": len(val)},
        "parity": {"prompt": PARITY_PROMPT, "ids": ids, "logits": _b64(logits),
                   "computed_by": {"torch": torch.__version__, "numpy": np.__version__,
                                   "python": platform.python_version(), "dtype": "float32",
                                   "checkpoint": folder.name}},
    }
    return data
