"""What the book builds once for Part II and the widget, cached by content.

:func:`book_artifacts` learns the BPE merges on the Shakespeare corpus, encodes the
train/validation text, trains the tiny transformer and writes everything to a
folder named after a hash of what decides it (corpus, settings, the source of
the BPE, corpus and tiny-model code). An unchanged build finds the folder and
trains nothing; ``llmbook train-tiny`` reproduces it with a progress bar.

Files: ``merges.json``, ``bpe_log.json`` (each merge with the top remaining pair
counts), ``train_ids.npy``/``val_ids.npy`` (uint16), ``checkpoint.json`` (CONTRACTS
§4, merges included), ``history.json`` and ``snapshots.npz`` (weights during
training). Processes sharing one cache (the book build and the hosted build beside it
in CI, test workers) take turns on a lock file beside the folder: one trains, the others
wait and find its folder. Not handled: a cache on a file system without POSIX locks, or
Windows (each process then trains, writing the same content; the folder is renamed into
place atomically).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..lm.cache import cache_root, exclusive
from ..lm.provenance import source_digest
from . import bpe
from .corpus import corpus
from .model import TinyConfig, TinyTransformer
from .train import TrainConfig, train, unigram_loss

N_MERGES = 512
BOOK_MODEL = TinyConfig(vocab_size=256 + N_MERGES, context_len=64, d_model=64, n_heads=4, n_layers=2)
BOOK_TRAINING = TrainConfig(steps=2000, batch_size=32, lr=3e-3, eval_every=100, eval_batches=8,
                            snapshot_steps=(0, 25, 100, 400))
TOP_PAIRS = 10
SOURCES = ("bpe.py", "corpus.py", "model.py", "train.py", "artifacts.py")   # in this folder


def artifacts_key(model: TinyConfig = BOOK_MODEL, training: TrainConfig = BOOK_TRAINING) -> str:
    text = corpus()
    blob = json.dumps({"model": asdict(model), "training": asdict(training), "merges": N_MERGES,
                       "corpus": hashlib.sha256((text["train"] + "\0" + text["val"]).encode()).hexdigest(),
                       "code": source_digest(Path(__file__).parent / s for s in SOURCES)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def book_artifacts(progress: bool = False) -> Path:
    """The folder of Part II's artifacts, building it first if needed (or waiting for the
    process that is building it on the same cache)."""
    folder = cache_root() / "tiny" / artifacts_key()
    if (folder / "history.json").is_file():
        return folder
    waiting = "waiting for another process building the tiny model" if progress else None
    with exclusive(folder.with_name(folder.name + ".lock"), waiting):
        if (folder / "history.json").is_file():          # built by the process this one waited for
            return folder
        tmp = folder.with_name(folder.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        _build(tmp, progress)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    return folder


def _build(out: Path, progress: bool) -> None:
    text = corpus()
    start = time.perf_counter()
    log = []
    merges = bpe.train(text["train"].encode("utf-8"), N_MERGES,
                       on_merge=lambda step, pair, counts: log.append(
                           {"pair": list(pair), "count": int(counts[pair]),
                            "top": [list(t) for t in bpe.top_pairs(counts, TOP_PAIRS)]}))
    bpe_seconds = time.perf_counter() - start
    bpe.save_merges(merges, out / "merges.json")
    (out / "bpe_log.json").write_text(json.dumps(log))
    train_ids = np.asarray(bpe.encode(text["train"], merges), dtype=np.uint16)
    val_ids = np.asarray(bpe.encode(text["val"], merges), dtype=np.uint16)
    np.save(out / "train_ids.npy", train_ids)
    np.save(out / "val_ids.npy", val_ids)
    model = TinyTransformer(BOOK_MODEL, seed=BOOK_TRAINING.seed)
    hist = train(model, train_ids, val_ids, BOOK_TRAINING, progress=progress)
    model.save(out / "checkpoint.json", merges=merges)
    np.savez_compressed(out / "snapshots.npz",
                        **{f"{step}/{name}": a for step, t in hist.snapshots.items() for name, a in t.items()})
    summary = hist.summary() | {
        "bpe_seconds": bpe_seconds, "unigram_loss": unigram_loss(train_ids, val_ids, BOOK_MODEL.vocab_size),
        "uniform_loss": float(np.log(BOOK_MODEL.vocab_size)), "train_tokens": len(train_ids),
        "val_tokens": len(val_ids), "train_bytes": len(text["train"].encode()),
        "model": asdict(BOOK_MODEL), "training": asdict(BOOK_TRAINING),
        "parameters": sum(p.numel() for p in model.parameters())}
    (out / "history.json").write_text(json.dumps(summary))


def load_book_model(folder: Path | None = None) -> TinyTransformer:
    folder = folder or book_artifacts()
    return TinyTransformer.from_json(folder / "checkpoint.json")


def load_history(folder: Path | None = None) -> dict:
    return json.loads(((folder or book_artifacts()) / "history.json").read_text())


def load_snapshots(folder: Path | None = None) -> dict[int, dict[str, np.ndarray]]:
    with np.load((folder or book_artifacts()) / "snapshots.npz", allow_pickle=False) as z:
        out: dict[int, dict[str, np.ndarray]] = {}
        for key in z.files:
            step, name = key.split("/", 1)
            out.setdefault(int(step), {})[name] = z[key]
    return dict(sorted(out.items()))
