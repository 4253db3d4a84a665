"""Computations and small tables for Part II's overview, BPE and tokenize pages.

Each function recomputes something from the real merges, training text or
checkpoint and returns plain Python values (ints, strings, lists) that a chapter
glues into its prose or shows as a small Markdown table. Nothing here invents a
number. Not handled: vocabularies that are not byte-level BPE.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from . import bpe
from .figures import _layout


# --- BPE: counting pairs -------------------------------------------------------------

def pair_counts(ids, V: int) -> np.ndarray:
    """Every adjacent pair of ``ids`` counted (overlaps too): ``[V, V]`` int array."""
    ids = np.asarray(ids, dtype=np.int64)                            # [N]
    return np.bincount(ids[:-1] * V + ids[1:], minlength=V * V).reshape(V, V)


def recount_top_pairs(text: str, merges, steps: int = 2, k: int = 3) -> list[list[tuple[int, int, int]]]:
    """For each of the first ``steps`` merges: the top ``k`` pairs counted from scratch.

    The text is encoded with the merges learned before that step (``bpe.encode``),
    then every pair is recounted: an independent check of the training log.
    """
    out = []
    for step in range(steps):
        ids = bpe.encode(text, merges[:step])                        # [N_step]
        out.append(bpe.top_pairs(pair_counts(ids, 256 + step), k))
    return out


def pair_occurrences(text: str, pair: tuple[int, int], before) -> int:
    """How often ``pair`` occurs in ``text`` encoded with the merges ``before``."""
    ids = np.asarray(bpe.encode(text, before))
    return int(((ids[:-1] == pair[0]) & (ids[1:] == pair[1])).sum())


def pair_replacements(text: str, pair: tuple[int, int], before) -> int:
    """How many times a merge of ``pair`` would *replace* it in ``text`` encoded with ``before``.

    Counting sees overlapping pairs (``aaa`` holds ``(a, a)`` twice); replacing walks
    left to right without overlap (``aaa`` -> one new token + ``a``). The two differ
    only for a pair of two equal tokens inside a run of three or more.
    """
    ids = np.asarray(bpe.encode(text, before), dtype=np.int32)
    return int(len(bpe._occurrences(ids, *pair)))


def merge_lengths(merges, n: int = 64) -> dict:
    """Mean length in bytes of the first and last ``n`` merged tokens, and the last ``n``'s 2-byte ones (ids)."""
    table = bpe.vocab_bytes(merges)[256:]
    lengths = [len(b) for b in table]
    last = range(len(merges) - n, len(merges))
    return {"first_mean": float(np.mean(lengths[:n])), "last_mean": float(np.mean(lengths[-n:])),
            "last_short": [256 + i for i in last if lengths[i] == 2]}


# --- tokenize: merges firing one by one ------------------------------------------------

def merge_trace(text: str, merges) -> list[dict]:
    """The merges that change ``text``'s ids, in the order ``encode`` applies them.

    Each entry: ``{"step": merge index, "pair": (a, b), "new": id, "ids": ids after}``.
    The last entry's ids equal ``bpe.encode(text, merges)``.
    """
    ids, out = list(text.encode("utf-8")), []
    for step, pair in enumerate(merges):
        new = bpe._merge_list(ids, pair, 256 + step)
        if new != ids:
            ids = new
            out.append({"step": step, "pair": tuple(pair), "new": 256 + step, "ids": list(ids)})
    return out


def md_token(label: str) -> str:
    """A token label as inline Markdown code that is safe inside a table cell."""
    return "`" + label.replace("|", "¦").replace("`", "ˋ") + "`"


def md_tokens(ids, labels) -> str:
    return " ".join(md_token(labels[i]) for i in ids)


def trace_table(text: str, merges, labels) -> str:
    """A Markdown table: the bytes, then one row per merge that fires."""
    start = list(text.encode("utf-8"))
    rows = ["| merge index | pair merged | tokens after it | count |", "|---:|---|---|---:|",
            f"| (bytes) | | {md_tokens(start, labels)} | {len(start)} |"]
    for t in merge_trace(text, merges):
        a, b = t["pair"]
        rows.append(f"| {t['step']} | {md_token(labels[a])} + {md_token(labels[b])} → {t['new']} | "
                    f"{md_tokens(t['ids'], labels)} | {len(t['ids'])} |")
    return "\n".join(rows)


def space_tokens(labels, n_base: int = 256) -> dict[str, list[int]]:
    """Merged tokens (ids ≥ 256) by where a space sits: ``end``, ``start``, ``inside`` (not at an end)."""
    out = {"end": [], "start": [], "inside": []}
    for i, s in enumerate(labels[n_base:], start=n_base):
        if s.endswith("␣"):
            out["end"].append(i)
        if s.startswith("␣"):
            out["start"].append(i)
        if "␣" in s[1:-1]:
            out["inside"].append(i)
    return out


# --- overview: parameters and the data flow ----------------------------------------------

def param_groups(model) -> dict[str, int]:
    """Parameter counts by where they live: embeddings, each block, the final LayerNorm."""
    groups: dict[str, int] = {}
    for name, p in model.named_parameters():
        if name.startswith("layers."):
            key = "block " + name.split(".")[1]
        else:
            key = {"tok_emb": "token embedding", "pos_emb": "position embedding"}.get(name, "final LayerNorm")
        groups[key] = groups.get(key, 0) + p.numel()
    return groups


def flow_steps(inter: dict, config) -> list[tuple[str, list[int]]]:
    """(box name, shape of what it produced) for one forward pass, from ``intermediates``."""
    c = config
    T = int(inter["x0"].shape[0])
    steps = [("token ids", [T]), ("tok_emb[ids] + pos_emb[:T]", list(inter["x0"].shape))]
    for i in range(c.n_layers):
        steps += [(f"layer {i}: LN → multi-head attention → + residual", list(inter[f"layers.{i}.mid"].shape)),
                  (f"layer {i}: LN → FFN ({c.d_model}→{c.d_ff}→{c.d_model}) → + residual",
                   list(inter[f"layers.{i}.out"].shape))]
    steps += [("LN_f", list(inter["final"].shape)), ("@ tok_embᵀ (tied head) → logits", list(inter["logits"].shape)),
              ("softmax → next-token probabilities", list(inter["logits"].shape))]
    return steps


def flow_figure(steps: list[tuple[str, list[int]]], title: str) -> go.Figure:
    """The boxes of :func:`flow_steps`, top to bottom, each with its output shape."""
    fig = go.Figure()
    for k, (name, shape) in enumerate(steps):
        y = -k
        fig.add_shape(type="rect", x0=0, x1=10, y0=y - 0.38, y1=y + 0.38, line_color="#2a5a9c",
                      fillcolor="rgba(76,114,176,0.12)")
        fig.add_annotation(x=5, y=y + 0.1, text=f"<b>{k + 1}. {html.escape(name)}</b>", showarrow=False)
        fig.add_annotation(x=5, y=y - 0.2, text=str(shape), showarrow=False, font={"size": 11, "color": "#888"})
        if k:
            fig.add_annotation(x=5, y=y + 0.38, ax=5, ay=y + 0.62, xref="x", yref="y", axref="x", ayref="y",
                               showarrow=True, arrowhead=2, text="")
    fig.update_xaxes(visible=False, range=[-1, 11])
    fig.update_yaxes(visible=False, range=[-len(steps) + 0.4, 0.6])
    return _layout(fig, html.escape(title), height=70 * len(steps) + 60)


def top_next(logits_last: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
    """The k most likely next ids after the last position, with softmax probabilities."""
    z = np.asarray(logits_last, np.float64)
    p = np.exp(z - z.max())
    p /= p.sum()
    top = np.argsort(-p)[:k]
    return [(int(i), float(p[i])) for i in top]
