"""Measurements and small figures for Part II's embeddings and attention chapters.

Every function takes the trained tiny model (or arrays computed from it) and
returns numbers the chapters glue into their prose, or a plotly figure of them;
nothing here invents a value. The experiments run the model's own modules
(``model.layers[0].attn``, ``block.ln1``) so they show what the real weights do.
Not handled: batches; sequences longer than the model's context.
"""

from __future__ import annotations

import math
import re

import numpy as np
import plotly.graph_objects as go
import torch

from .figures import DIVERGING, _layout
from .model import TinyTransformer


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


# --- embeddings -------------------------------------------------------------------------

def nearest(emb: np.ndarray, i: int, k: int = 5) -> list[tuple[int, float]]:
    """The k rows of ``emb`` [V, d] closest to row i by cosine (row i itself left out)."""
    cos = _unit(emb) @ _unit(emb[i])                                     # [V]
    order = [int(j) for j in np.argsort(-cos) if j != i][:k]
    return [(j, float(cos[j])) for j in order]


def readable(label: str) -> str:
    """A token label with raw byte escapes (``\\xd5``) drawn as ⟨d5⟩, as the book's other labels do."""
    return re.sub(r"\\x([0-9a-f]{2})", "⟨\\1⟩", label)


def neighbour_table(emb: np.ndarray, labels, token_ids, k: int = 4) -> str:
    """Markdown table: each token and its k nearest neighbours by cosine."""
    rows = ["| token | nearest tokens (cosine) |", "|---|---|"]
    for i in token_ids:
        near = ", ".join(f"`{readable(labels[j])}` ({c:.2f})" for j, c in nearest(emb, i, k))
        rows.append(f"| `{readable(labels[i])}` | {near} |")
    return "\n".join(rows)


def unseen_rows(snapshots: dict, train_ids: np.ndarray) -> dict:
    """Rows of tok_emb whose token never occurs in the training ids ``train_ids``.

    Such a row is never looked up as an input; with a tied head it still gets a gradient
    at every step, as a wrong answer to push down. ``ids``: those tokens;
    ``norm_first``/``norm_last``: their mean length at the first and last snapshot;
    ``cos_self``: mean cosine of each row with its own starting row; ``cos_mutual``: mean
    cosine between two of them after training.
    """
    steps = list(snapshots)
    V = snapshots[steps[0]]["tok_emb"].shape[0]
    rows = np.flatnonzero(np.bincount(np.asarray(train_ids, dtype=np.int64), minlength=V) == 0)
    a, b = (snapshots[s]["tok_emb"][rows] for s in (steps[0], steps[-1]))   # [n, d]
    ua, ub = _unit(a), _unit(b)
    mutual = ub @ ub.T
    return {"ids": rows.tolist(), "norm_first": float(np.linalg.norm(a, axis=1).mean()),
            "norm_last": float(np.linalg.norm(b, axis=1).mean()),
            "cos_self": float((ua * ub).sum(1).mean()),
            "cos_mutual": float(mutual[np.triu_indices(len(rows), 1)].mean())}


def row_over_training(snapshots: dict, token_id: int) -> go.Figure:
    """One token's row of tok_emb at each saved training step, as a heatmap [steps, d]."""
    steps = list(snapshots)
    rows = np.stack([snapshots[s]["tok_emb"][token_id] for s in steps])  # [S, d]
    lim = float(np.abs(rows).max())
    fig = go.Figure(go.Heatmap(z=rows, y=[f"step {s}" for s in steps], colorscale=DIVERGING,
                               zmin=-lim, zmax=lim,
                               hovertemplate="%{y}, dim %{x}: %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "One row of tok_emb during training", height=150 + 34 * len(steps),
                   xaxis_title="embedding dimension")


def neighbour_cosines(emb: np.ndarray, token_ids) -> float:
    """Mean cosine of each listed token with its single nearest neighbour."""
    return float(np.mean([nearest(emb, i, 1)[0][1] for i in token_ids]))


@torch.no_grad()
def order_blindness(model: TinyTransformer, ids, seed: int = 0) -> dict:
    """Layer 0's attention on LN1(tok_emb[ids]) with positions removed, ids shuffled.

    ``unmasked``: max |attn(shuffled) − shuffled(attn)| without the causal mask;
    ``last``: with the model's causal mask, the last position's output when only the
    earlier tokens are shuffled; ``with_pos``: the same last-position change once the
    position rows are added back; ``scale``: the largest |value| of the output.
    """
    block, T = model.layers[0], len(ids)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(T)
    prefix = np.r_[rng.permutation(T - 1), T - 1]                        # last token stays put
    x = model.tok_emb[torch.as_tensor(list(ids))]                        # [T, d]
    pos = model.pos_emb[:T]
    full = _attention(block, x, causal=False)
    causal = block.attn(block.ln1(x)[None])[0]                           # [T, d]
    causal_p = block.attn(block.ln1(x[prefix])[None])[0]
    with_pos = block.attn(block.ln1(x + pos)[None])[0]
    with_pos_p = block.attn(block.ln1(x[prefix] + pos)[None])[0]
    return {"perm": perm.tolist(), "prefix": prefix.tolist(),
            "unmasked": float((_attention(block, x[perm], causal=False) - full[perm]).abs().max()),
            "last": float((causal_p[-1] - causal[-1]).abs().max()),
            "with_pos": float((with_pos_p[-1] - with_pos[-1]).abs().max()),
            "scale": float(full.abs().max())}


def _attention(block, x: torch.Tensor, causal: bool) -> torch.Tensor:
    """block.attn(block.ln1(x)) for one sequence, with the causal mask optional: [T, d]."""
    T, d = x.shape
    H = block.attn.n_heads
    q, k, v = (t.view(T, H, d // H).transpose(0, 1) for t in (block.ln1(x) @ block.attn.w_qkv).split(d, -1))
    scores = q @ k.transpose(-1, -2) / math.sqrt(d // H)                 # [H, T, T]
    if causal:
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    return (scores.softmax(-1) @ v).transpose(0, 1).reshape(T, d) @ block.attn.w_out


def subspace_share(tok: np.ndarray, pos: np.ndarray, k: int = 8) -> dict:
    """How far apart the token and position tables live in the d-dim space.

    ``pos_in_top``: share of pos_emb's variance in its own top-k principal directions;
    ``tok_in_pos``: share of tok_emb's variance inside those same k directions
    (``baseline`` k/d is what a direction-blind table would have there);
    ``cos``: mean |cosine| between a token row and a position row; ``cos_random``:
    the same for random vectors in d dims, sqrt(2/(pi d)).
    """
    P, E = pos - pos.mean(0), tok - tok.mean(0)
    s, U = np.linalg.svd(P, full_matrices=False)[1:]
    top = U[:k]                                                          # [k, d]
    d = tok.shape[1]
    return {"pos_in_top": float((s[:k] ** 2).sum() / (s ** 2).sum()),
            "tok_in_pos": float(np.linalg.norm(E @ top.T) ** 2 / np.linalg.norm(E) ** 2),
            "baseline": k / d, "cos": float(np.abs(_unit(tok) @ _unit(pos).T).mean()),
            "cos_random": float(np.sqrt(2 / (np.pi * d)))}


def sinusoid_period(i: int, d: int) -> float:
    """Period in positions of the sin/cos pair i (dimensions 2i, 2i+1): 2π·10000^(2i/d)."""
    return float(2 * np.pi * 10000 ** (2 * i / d))


def sinusoid_table(T: int, d: int) -> np.ndarray:
    """The 2017 sinusoidal positions [T, d]: dim 2i = sin(pos·ω_i), dim 2i+1 = cos(pos·ω_i), ω_i = 10000^(−2i/d)."""
    w = 10000.0 ** (-2 * np.arange(d // 2) / d)                           # [d/2]
    ang = np.arange(T)[:, None] * w[None, :]                              # [T, d/2]
    pe = np.empty((T, d))
    pe[:, 0::2], pe[:, 1::2] = np.sin(ang), np.cos(ang)
    return pe


def shift_rotation(k: int, d: int) -> np.ndarray:
    """The [d, d] matrix R_k with PE[pos + k] = PE[pos] @ R_k for every pos: one 2×2 rotation per pair."""
    R = np.zeros((d, d))
    for i in range(d // 2):
        a = k * 10000.0 ** (-2 * i / d)
        # row vector (sin x, cos x) @ [[cos a, -sin a], [sin a, cos a]] = (sin(x+a), cos(x+a))
        R[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    return R


def shift_error(T: int, d: int, k: int) -> float:
    """max |PE[pos + k] − PE[pos] @ R_k| over all positions: ≈ 0, the same R_k at every pos."""
    pe = sinusoid_table(T, d)
    return float(np.abs(pe[k:] - pe[:-k] @ shift_rotation(k, d)).max())


def clocks_figure(T: int, d: int, pairs=(0, 2, 4, 8)) -> go.Figure:
    """sin(pos / 10000^(2i/d)) for a few pairs i: clock hands turning at different speeds."""
    pos = np.arange(T)
    fig = go.Figure([go.Scatter(x=pos, y=np.sin(pos / 10000 ** (2 * i / d)), mode="lines+markers",
                                marker_size=4,
                                name=f"pair {i} = dims {2 * i},{2 * i + 1} (period {sinusoid_period(i, d):.0f})")
                     for i in pairs])
    return _layout(fig, "Sinusoidal positions: the sine of a few pairs", height=380,
                   xaxis_title="position", yaxis_title="value",
                   legend=dict(orientation="h", y=-0.25))


# --- attention ----------------------------------------------------------------------------

def score_rows(inter: dict, layer: int, head: int, query: int) -> list[dict]:
    """For one head and query position: q·k, q·k/√dh and the softmax weight of each earlier key."""
    q = inter[f"layers.{layer}.q"][head, query]                           # [dh]
    k = inter[f"layers.{layer}.k"][head, : query + 1]                     # [t+1, dh]
    dot = k @ q                                                           # [t+1]
    scaled = dot / math.sqrt(len(q))
    w = np.exp(scaled - scaled.max())
    w /= w.sum()
    return [{"key": j, "dot": float(dot[j]), "scaled": float(scaled[j]), "weight": float(w[j])}
            for j in range(query + 1)]


def dot_variance(dims=(4, 16, 64, 256), n: int = 20000, seed: int = 0) -> dict[int, float]:
    """Variance of q·k for q, k with independent N(0, 1) entries, per dimension d (≈ d)."""
    rng = np.random.default_rng(seed)
    return {int(d): float((rng.standard_normal((n, d)) * rng.standard_normal((n, d))).sum(1).var())
            for d in dims}


def softmax_stats(scores: np.ndarray) -> tuple[float, float]:
    """(max weight, entropy in nats) of the causal softmax of one row of scores [t+1]."""
    w = np.exp(scores - scores.max())
    w /= w.sum()
    nz = w[w > 0]
    return float(w.max()), float(-(nz * np.log(nz)).sum())


def head_offsets(probs: np.ndarray) -> list[dict]:
    """Per head of probs [H, T, T]: how far back it reads.

    ``mode``: the most common (query − argmax key) offset, ``count``: in how many of the
    T rows; ``mean``: the attention-weighted distance back, averaged over rows.
    """
    T = probs.shape[-1]
    back = np.arange(T)[:, None] - np.arange(T)[None, :]                 # [T, T]: query − key
    out = []
    for p in probs:
        values, counts = np.unique(np.arange(T) - p.argmax(-1), return_counts=True)
        out.append({"mode": int(values[counts.argmax()]), "count": int(counts.max()),
                    "mean": float((p * np.clip(back, 0, None)).sum(-1).mean())})
    return out


def head_profile(probs: np.ndarray, skip: int = 4) -> list[dict]:
    """Per head of probs [H, T, T]: where its weight goes, averaged over rows skip..T−1.

    The first rows are left out because a query near the start has only itself and a
    few tokens to read. ``self``, ``prev``: mean weight on the query's own position and on
    the one before it; ``further``: on everything 2 or more back (the three sum to 1);
    ``mean``: the attention-weighted distance back, Σ_j w_j·(t − j), averaged over rows.
    """
    T = probs.shape[-1]
    t = np.arange(skip, T)
    back = np.clip(t[:, None] - np.arange(T)[None, :], 0, None)         # [rows, T]
    out = []
    for p in probs[:, skip:]:                                           # [rows, T]
        own, prev = p[np.arange(len(t)), t], p[np.arange(len(t)), t - 1]
        out.append({"self": float(own.mean()), "prev": float(prev.mean()),
                    "further": float((1 - own - prev).mean()), "mean": float((p * back).sum(-1).mean())})
    return out


@torch.no_grad()
def weights_without_positions(model: TinyTransformer, ids, head: int, query: int) -> np.ndarray:
    """Layer 0, one head: the query's causal softmax weights when the rows carry no position: [query+1]."""
    block, T = model.layers[0], len(ids)
    x = model.tok_emb[torch.as_tensor(list(ids))]                        # [T, d] token rows only
    d, H = x.shape[1], block.attn.n_heads
    q, k, _ = (t.view(T, H, d // H)[:, head] for t in (block.ln1(x) @ block.attn.w_qkv).split(d, -1))
    scores = k[: query + 1] @ q[query] / math.sqrt(d // H)               # [query+1]
    return scores.softmax(-1).numpy()


def common_share(section: np.ndarray) -> float:
    """Share of a [T, n] block's squared size that is the row shared by all positions (its mean row)."""
    m = section.mean(0)
    return float(len(section) * (m ** 2).sum() / (section ** 2).sum())


def residual_stats(x0: np.ndarray, update: np.ndarray) -> dict:
    """How much of the input x0 [T, d] is left visible in x0 + update.

    ``norm_x0``/``norm_update``: mean row lengths; ``share``: mean |x0|²/|x0 + update|²;
    ``cos_own``: mean cosine of each row of the sum with its own input row;
    ``cos_other``: the same with the other positions' input rows.
    """
    s = x0 + update
    C = _unit(s) @ _unit(x0).T                                           # [T, T]
    T = len(x0)
    return {"norm_x0": float(np.linalg.norm(x0, axis=1).mean()),
            "norm_update": float(np.linalg.norm(update, axis=1).mean()),
            "share": float(((x0 ** 2).sum(1) / (s ** 2).sum(1)).mean()),
            "cos_own": float(np.trace(C) / T), "cos_other": float((C.sum() - np.trace(C)) / (T * T - T))}


@torch.no_grad()
def mask_leak(model: TinyTransformer, ids, new_last: int) -> dict:
    """Change the last token; how much do layer 0's outputs at the earlier positions move?

    ``causal``: with the model's mask (0: nothing after a position can reach it);
    ``unmasked``: the same attention with the mask removed.
    """
    block = model.layers[0]
    T = len(ids)
    a = torch.as_tensor(list(ids))
    b = a.clone()
    b[-1] = new_last
    x, y = (model.tok_emb[t] + model.pos_emb[:T] for t in (a, b))
    return {name: float((_attention(block, y, c) - _attention(block, x, c))[:-1].abs().max())
            for name, c in (("causal", True), ("unmasked", False))}


def head_mixing(heads: np.ndarray, w_out: np.ndarray, n_heads: int) -> float:
    """Share of each head's output, after w_out, that lands outside that head's own columns.

    Without w_out the share is 0: concatenation leaves head h in columns h·dh..(h+1)·dh−1.
    Averaged over heads, weighted by each head's contribution.
    """
    d = heads.shape[1]                                                    # heads: [T, d] concatenated
    dh = d // n_heads
    outside, total = 0.0, 0.0
    for h in range(n_heads):
        cols = slice(h * dh, (h + 1) * dh)
        contrib = heads[:, cols] @ w_out[cols]                            # [T, d]
        sq = contrib ** 2
        total += float(sq.sum())
        outside += float(sq.sum() - sq[:, cols].sum())
    return outside / total


def score_table(rows: list[dict], tokens) -> str:
    """Markdown table of :func:`score_rows` with the token text of each key."""
    lines = ["| key | token | q·k | ÷ √dh | softmax weight |", "|---:|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['key']} | `{tokens[r['key']]}` | {r['dot']:.2f} | {r['scaled']:.2f} | "
                     f"{r['weight']:.3f} |")
    return "\n".join(lines)
