"""Byte-level BPE (CONTRACTS §5): train, encode, decode, save and load merges.

The vocabulary starts as the 256 byte values. Each training step counts every
adjacent pair (overlapping ones too, as ``zip(ids, ids[1:])`` does), takes the most
frequent (ties: the smallest ``(left, right)``), gives it id ``256 + step`` and
replaces its occurrences left to right, non-overlapping. No pre-tokenization:
merges may span spaces and newlines.

:func:`train` gets the same merges as :func:`train_recount` (the plain algorithm
that recounts every pair after each merge) while touching only the neighbourhood
of each merge: pair counts live in one flat array and are corrected by the pairs
that disappear and appear around the merged positions. Not handled: special
tokens, regex pre-splitting (GPT-2 style), vocabularies beyond 65,535 ids.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

Merges = list[tuple[int, int]]


# --- training ------------------------------------------------------------------

def train(data: bytes, n_merges: int, on_merge=None) -> Merges:
    """Learn ``n_merges`` merges from ``data``.

    ``on_merge(step, pair, counts)`` is called before each merge with the pair
    chosen and the current counts as a read-only ``[V, V]`` array (V = 256 + n_merges).
    """
    _check_train_args(data, n_merges)
    V = 256 + n_merges
    ids = np.frombuffer(data, dtype=np.uint8).astype(np.int32)        # [N]
    counts = np.bincount(_keys(ids, V), minlength=V * V)              # [V*V] pair -> count
    merges: Merges = []
    for step in range(n_merges):
        best = int(counts.argmax())            # first maximum = smallest (left, right)
        if counts[best] == 0:
            break
        a, b = divmod(best, V)
        if on_merge:
            view = counts.reshape(V, V).view()
            view.flags.writeable = False
            on_merge(step, (a, b), view)
        ids = _merge_counting(ids, a, b, 256 + step, counts, V)
        merges.append((a, b))
    return merges


def _keys(ids: np.ndarray, V: int) -> np.ndarray:
    return ids[:-1].astype(np.int64) * V + ids[1:]


def _merge_counting(ids, a, b, new, counts, V):
    """Merge (a, b) -> new in ids and correct ``counts`` for the pairs that changed."""
    pos = _occurrences(ids, a, b)                                      # [M] left positions
    n = len(ids)
    old_pairs = np.unique(np.concatenate([pos - 1, pos, pos + 1]))
    old_pairs = old_pairs[(old_pairs >= 0) & (old_pairs < n - 1)]
    np.subtract.at(counts, ids[old_pairs].astype(np.int64) * V + ids[old_pairs + 1], 1)
    keep = np.ones(n, dtype=bool)
    keep[pos + 1] = False
    ids = ids.copy()
    ids[pos] = new
    ids = ids[keep]                                                    # [N - M]
    new_pos = pos - np.arange(len(pos))                                # where the merges landed
    new_pairs = np.unique(np.concatenate([new_pos - 1, new_pos]))
    new_pairs = new_pairs[(new_pairs >= 0) & (new_pairs < len(ids) - 1)]
    np.add.at(counts, ids[new_pairs].astype(np.int64) * V + ids[new_pairs + 1], 1)
    return ids


def _occurrences(ids: np.ndarray, a: int, b: int) -> np.ndarray:
    """Left positions of non-overlapping (a, b), chosen left to right."""
    pos = np.flatnonzero((ids[:-1] == a) & (ids[1:] == b))
    if a != b or len(pos) < 2:
        return pos
    # in a run "a a a a" the matches are consecutive positions; keep every other one
    run_start = np.r_[True, np.diff(pos) != 1]
    start_index = np.maximum.accumulate(np.where(run_start, np.arange(len(pos)), 0))
    return pos[(np.arange(len(pos)) - start_index) % 2 == 0]


def top_pairs(counts: np.ndarray, k: int) -> list[tuple[int, int, int]]:
    """The k most frequent pairs of a ``[V, V]`` count array as (left, right, count).

    Candidates are found with a threshold that halves until k pairs reach it: a few
    sub-millisecond passes instead of a full partition of V² counts.
    """
    flat, V = counts.reshape(-1), counts.shape[0]
    threshold = int(flat.max()) // 2
    idx = np.flatnonzero(flat > threshold)
    while len(idx) < k and threshold > 0:
        threshold //= 2
        idx = np.flatnonzero(flat > threshold)
    idx = idx[np.lexsort((idx, -flat[idx]))][:k]         # count desc, then (left, right) asc
    return [(int(i // V), int(i % V), int(flat[i])) for i in idx]


def train_recount(data: bytes, n_merges: int) -> Merges:
    """The plain algorithm: recount every pair after every merge (reference and baseline)."""
    _check_train_args(data, n_merges)
    ids = list(data)
    merges: Merges = []
    for step in range(n_merges):
        stats = Counter(zip(ids, ids[1:]))
        if not stats:
            break
        pair = min(stats, key=lambda p: (-stats[p], p))
        ids = _merge_list(ids, pair, 256 + step)
        merges.append(pair)
    return merges


def _merge_list(ids: list[int], pair: tuple[int, int], new: int) -> list[int]:
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _check_train_args(data, n_merges) -> None:
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("train() takes bytes: encode text first, e.g. text.encode('utf-8')")
    if not 0 <= n_merges <= 65535 - 256:
        raise ValueError(f"n_merges must be between 0 and {65535 - 256}, not {n_merges}")


# --- encoding and decoding -------------------------------------------------------

def encode(text: str, merges: Merges) -> list[int]:
    """UTF-8 bytes, then each merge in order over the whole sequence.

    Applying merges in index order is the same as "repeatedly merge the pair with
    the lowest merge index": a merge only creates pairs with the new token, whose
    own merges come later. Lone surrogates are encoded as U+FFFD.
    """
    if not isinstance(text, str):
        raise TypeError(f"encode() takes str, not {type(text).__name__}")
    data = _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")     # as JavaScript's TextEncoder
    ids = np.frombuffer(data, dtype=np.uint8).astype(np.int32)
    for step, (a, b) in enumerate(merges):
        if len(ids) < 2:
            break
        pos = _occurrences(ids, a, b)
        if len(pos):
            keep = np.ones(len(ids), dtype=bool)
            keep[pos + 1] = False
            ids = ids.copy()
            ids[pos] = 256 + step
            ids = ids[keep]
    return ids.tolist()


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def vocab_bytes(merges: Merges) -> list[bytes]:
    """The byte string of every token id: 256 bytes, then each merge's concatenation."""
    table = [bytes([i]) for i in range(256)]
    for a, b in merges:
        table.append(table[a] + table[b])
    return table


def decode(ids, merges: Merges) -> str:
    """Token ids back to text; bytes that are not valid UTF-8 show as U+FFFD."""
    table = vocab_bytes(merges)
    try:
        return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")
    except IndexError:
        bad = [i for i in ids if not 0 <= i < len(table)]
        raise ValueError(f"ids {bad[:5]} are outside this vocabulary of {len(table)}") from None


# --- files -------------------------------------------------------------------------

def save_merges(merges: Merges, path) -> Path:
    path = Path(path)
    path.write_text(json.dumps({"format": "llmbook-bpe/1", "merges": [list(m) for m in merges]}))
    return path


def load_merges(path) -> Merges:
    """Read and validate a merges file (each merge must refer to earlier ids only)."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable merges file ({err})") from None
    merges = obj.get("merges") if isinstance(obj, dict) else obj
    return validate_merges(merges, where=str(path))


def validate_merges(merges, where: str = "merges") -> Merges:
    if not isinstance(merges, list):
        raise ValueError(f"{where}: expected a list of [left, right] pairs")
    out = []
    for step, m in enumerate(merges):
        ok = (isinstance(m, (list, tuple)) and len(m) == 2
              and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 256 + step for x in m))
        if not ok:
            raise ValueError(f"{where}: merge {step} is {m!r}; each merge is [left, right] with "
                             f"ids below {256 + step} (only bytes and earlier merges)")
        out.append((m[0], m[1]))
    return out
