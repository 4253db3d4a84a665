"""Numbers for Part II's feed-forward, training and inference chapters, measured on the book's model.

Each function runs a small experiment on the trained tiny transformer (or its
training history and snapshots) and returns plain Python values (``float``,
``int``, ``str``, lists of them) that a chapter can glue into its prose.
Nothing here trains or changes the model. Not handled: batches, sequences
longer than the model's context.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from .model import TinyTransformer
from .train import random_windows


# --- feed-forward ------------------------------------------------------------------------

@torch.no_grad()
def mixing_test(model: TinyTransformer, inter: dict, layer: int) -> dict:
    """Does a sublayer's output for a row depend on the other rows?

    Runs the layer's FFN and its attention on the whole [T, d] input and on the
    last row alone; returns the largest difference in the last row's output for each.
    """
    block = model.layers[layer]
    h_ffn = torch.from_numpy(inter[f"layers.{layer}.ln2"])                  # [T, d]
    h_att = torch.from_numpy(inter[f"layers.{layer}.ln1"])                  # [T, d]
    ffn_all, ffn_one = block.ffn(h_ffn)[-1], block.ffn(h_ffn[-1:])[0]       # [d] each
    att_all, att_one = block.attn(h_att[None])[0, -1], block.attn(h_att[-1:][None])[0, 0]
    return {"ffn_diff": float((ffn_all - ffn_one).abs().max()),
            "attn_diff": float((att_all - att_one).abs().max()),
            "attn_norm": float(att_all.norm())}


@torch.no_grad()
def linear_collapse(model: TinyTransformer, inter: dict, layer: int) -> dict:
    """Without GELU, h @ w1 @ w2 is h @ (w1 @ w2): one [d, d] matrix. With GELU it is not linear."""
    w1, w2 = model.layers[layer].ffn.w1.double(), model.layers[layer].ffn.w2.double()
    h = torch.from_numpy(inter[f"layers.{layer}.ln2"]).double()             # [T, d]
    merged = w1 @ w2                                                        # [d, d]
    two_step, one_step = (h @ w1) @ w2, h @ merged                          # [T, d] each
    gelu = torch.nn.functional.gelu
    f = lambda x: gelu(x @ w1, approximate="tanh") @ w2                     # the real FFN, float64
    a, b = h[0], h[-1]
    additivity_gap = float((f(a + b) - f(a) - f(b)).norm() / f(a + b).norm())
    return {"merged_shape": f"[{merged.shape[0]}, {merged.shape[1]}]",
            "merged_rank": int(torch.linalg.matrix_rank(merged)),
            "linear_diff": float((two_step - one_step).abs().max()),
            "additivity_gap": additivity_gap,
            "linear_additivity_gap": float(((a + b) @ merged - a @ merged - b @ merged).norm()
                                           / ((a + b) @ merged).norm())}


def update_ratios(inter: dict, n_layers: int) -> dict:
    """How big is each sublayer's update compared with the stream it is added to? (median over tokens)"""
    out = {}
    for i in range(n_layers):
        p = f"layers.{i}."
        stream_in = np.linalg.norm(inter[p + "mid"], axis=-1)                # [T]
        out[f"ffn{i}"] = float(np.median(np.linalg.norm(inter[p + "ffn_out"], axis=-1) / stream_in))
        x_in = inter["x0"] if i == 0 else inter[f"layers.{i - 1}.out"]
        out[f"attn{i}"] = float(np.median(np.linalg.norm(inter[p + "attn_out"], axis=-1)
                                          / np.linalg.norm(x_in, axis=-1)))
    norms = [inter["x0"]] + [inter[f"layers.{i}.out"] for i in range(n_layers)]
    out["stream_norms"] = [float(np.linalg.norm(x, axis=-1).mean()) for x in norms]
    return out


def layernorm_steps(model: TinyTransformer, inter: dict, layer: int, t: int) -> dict:
    """LN2 of layer ``layer`` on row ``t``, step by step: centre, scale, then weight and bias."""
    x = inter[f"layers.{layer}.mid"][t].astype(np.float64)                  # [d]
    ln = model.layers[layer].ln2
    z = (x - x.mean()) / np.sqrt(x.var() + ln.eps)                           # mean 0, variance 1
    y = z * ln.weight.detach().numpy() + ln.bias.detach().numpy()            # [d]
    assert np.allclose(y, inter[f"layers.{layer}.ln2"][t], atol=1e-4)
    w, b = ln.weight.detach().numpy(), ln.bias.detach().numpy()               # [d], [d]
    return {"x_mean": float(x.mean()), "x_std": float(x.std()), "z_mean": float(z.mean()),
            "z_std": float(z.std()), "y_mean": float(y.mean()), "y_std": float(y.std()),
            "w_min": float(w.min()), "w_max": float(w.max()),
            "b_min": float(b.min()), "b_max": float(b.max()),
            "rows": [(k, float(x[k]), float(z[k]), float(w[k]), float(b[k]), float(y[k])) for k in range(4)]}


@torch.no_grad()
def top_unit(model: TinyTransformer, inter: dict, layer: int, sample_ids: np.ndarray, n_windows: int = 32,
             min_count: int = 5, k: int = 6) -> dict:
    """The hidden unit of layer ``layer`` with the largest activation on the prompt, and what it fires on.

    Returns the unit, its activation at each prompt position, and, over ``n_windows`` evenly spaced
    windows of ``sample_ids``, the ``k`` token ids (seen at least ``min_count`` times) with the highest
    mean activation, that mean, and the share of all sample positions where the unit is above 1.
    """
    from .inspect import intermediates

    act = inter[f"layers.{layer}.ffn_act"]                                   # [T, d_ff]
    unit = int(np.unravel_index(act.argmax(), act.shape)[1])
    T = model.config.context_len
    starts = np.linspace(0, len(sample_ids) - T, n_windows).astype(int)
    ids = np.concatenate([sample_ids[s:s + T] for s in starts])              # [n_windows * T]
    acts = np.concatenate([intermediates(model, sample_ids[s:s + T])[f"layers.{layer}.ffn_act"][:, unit]
                           for s in starts])
    sums, counts = np.bincount(ids, acts), np.bincount(ids)
    mean = np.where(counts >= min_count, sums / np.maximum(counts, 1), -np.inf)
    top = np.argsort(-mean)[:k]
    return {"unit": unit, "prompt_acts": act[:, unit].astype(float).tolist(), "top_ids": top.tolist(),
            "top_means": mean[top].tolist(), "share_on": float((acts > 1).mean()), "n_positions": int(len(ids))}


def init_logits(model: TinyTransformer, seed: int, inputs: list[int], targets: list[int]) -> dict:
    """A freshly initialised copy of ``model`` (same config and init seed as training): logit spread and loss."""
    fresh = TinyTransformer(model.config, seed=seed)
    with torch.no_grad():
        logits = fresh(inputs)                                               # [T, V]
        loss = float(fresh.loss(torch.tensor([inputs]), torch.tensor([targets])))
    return {"std": float(logits.std()), "max_abs": float(logits.abs().max()), "loss": loss}


def absorbed_bytes(unseen: list[int], train_ids: np.ndarray, vocab: list[bytes]) -> dict:
    """Single-byte tokens absent from the training ids although their byte is in the text.

    A byte can be in the text yet never a token on its own when BPE always merged it into a
    longer token (``q`` inside ``qu``). Returns, per such id, the most frequent seen token holding it.
    """
    counts = np.bincount(train_ids, minlength=len(vocab))
    seen = np.argsort(-counts)[:int((counts > 0).sum())]                     # seen ids, most frequent first
    out = {}
    for u in unseen:
        if len(vocab[u]) == 1:
            host = next((int(t) for t in seen if vocab[u] in vocab[t]), None)
            if host is not None:
                out[int(u)] = host
    return out


def longest_repeat(text: str) -> str:
    """The longest substring that occurs at least twice in ``text`` (occurrences may not overlap)."""
    best = ""
    for i in range(len(text)):
        n = len(best) + 1
        while i + n <= len(text) and text.find(text[i:i + n], i + n) >= 0:
            best = text[i:i + n]
            n += 1
    return best


# --- training ----------------------------------------------------------------------------

def example_window(train_ids: np.ndarray, T: int, seed: int = 0) -> tuple[list[int], list[int]]:
    """One training window drawn exactly as training draws them: (inputs, targets), each length T."""
    x, y = random_windows(train_ids, 1, T, torch.Generator().manual_seed(seed))
    return x[0].tolist(), y[0].tolist()


@torch.no_grad()
def surprise(model: TinyTransformer, inputs: list[int], targets: list[int]) -> dict:
    """Per position: the probability the model gave the true next token, and -ln of it."""
    logits = model(inputs)                                                  # [T, V]
    p = logits.softmax(-1)[torch.arange(len(targets)), torch.tensor(targets)].double().numpy()
    nll = -np.log(p)
    return {"p": p.tolist(), "nll": nll.tolist(), "mean": float(nll.mean()),
            "loss": float(model.loss(torch.tensor([inputs]), torch.tensor([targets])))}


def gradient_check(model: TinyTransformer, inputs: list[int], targets: list[int], eps: float = 1e-4) -> dict:
    """Backpropagation's derivative of the loss for one weight against a finite difference (float64 copy)."""
    m = copy.deepcopy(model).double()
    x, y = torch.tensor([inputs]), torch.tensor([targets])
    w = m.ln_f.bias                                                          # [d]: one number to nudge
    m.zero_grad()
    m.loss(x, y).backward()
    k = int(w.grad.abs().argmax())
    with torch.no_grad():
        w[k] += eps
        up = float(m.loss(x, y))
        w[k] -= 2 * eps
        down = float(m.loss(x, y))
        w[k] += eps
    return {"name": f"ln_f.bias[{k}]", "backprop": float(w.grad[k]), "numeric": (up - down) / (2 * eps),
            "n_grads": sum(p.numel() for p in m.parameters())}


def unseen_token_drift(snapshots: dict, train_ids: np.ndarray, vocab_size: int) -> dict:
    """Rows of tok_emb for tokens that never occur in the training ids: how they move over training.

    Returns the count, how many are among the first 128 rows (the heatmap's), the mean cosine
    between each unseen row's total change and the mean change (1 = all the same direction),
    and the mean pairwise cosine of the unseen rows themselves at the first and last snapshot.
    """
    counts = np.bincount(train_ids, minlength=vocab_size)
    unseen = np.flatnonzero(counts == 0)
    steps = list(snapshots)
    first, last = snapshots[steps[0]]["tok_emb"], snapshots[steps[-1]]["tok_emb"]
    drift = last[unseen] - first[unseen]                                     # [U, d]
    mean = drift.mean(0)
    cos_drift = drift @ mean / (np.linalg.norm(drift, axis=1) * np.linalg.norm(mean))
    seen_drift = np.linalg.norm(last[counts > 0] - first[counts > 0], axis=1)
    return {"ids": unseen.tolist(), "n": int(len(unseen)), "n_first128": int((unseen < 128).sum()),
            "cos_to_mean": float(cos_drift.mean()), "cos_min": float(cos_drift.min()),
            "row_cos_first": _mean_pairwise_cos(first[unseen]), "row_cos_last": _mean_pairwise_cos(last[unseen]),
            "drift_norm": float(np.linalg.norm(drift, axis=1).mean()), "seen_drift_norm": float(seen_drift.mean()),
            "steps": steps}


def _mean_pairwise_cos(rows: np.ndarray) -> float:
    u = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    c = u @ u.T
    n = len(rows)
    return float((c.sum() - n) / (n * (n - 1)))


# --- inference ---------------------------------------------------------------------------

def top_p_set(probs: np.ndarray, p: float) -> np.ndarray:
    """Nucleus sampling's kept ids: the most likely tokens, in order, until their mass reaches ``p``."""
    order = np.argsort(-probs)
    n = int(np.searchsorted(np.cumsum(probs[order]), p) + 1)
    return order[:min(n, len(order))]


def work_counts(n_prompt: int, n_new: int) -> dict:
    """Positions pushed through the model, with and without a KV cache, for ``n_new`` steps."""
    full = sum(n_prompt + k for k in range(n_new))                           # step k: the whole sequence
    cached = n_prompt + (n_new - 1)                                          # prefill, then one a step
    pairs_full = sum((n_prompt + k) * (n_prompt + k + 1) // 2 for k in range(n_new))
    pairs_cached = n_prompt * (n_prompt + 1) // 2 + sum(n_prompt + k for k in range(1, n_new))   # step k: one query, n_prompt + k keys
    return {"full": full, "cached": cached, "pairs_full": pairs_full, "pairs_cached": pairs_cached}


def first_stop(texts: list[str], stop: str) -> int | None:
    """Index of the first step whose text-so-far contains ``stop`` (None if it never does)."""
    for k, t in enumerate(texts):
        if stop in t:
            return k
    return None


def step_seconds(model: TinyTransformer, ids, n: int, use_cache: bool, repeats: int = 3) -> list[float]:
    """Per-step wall time of greedy generation, the fastest of ``repeats`` runs for each step.

    The fastest run is the least disturbed by other work on a shared machine.
    """
    from .inspect import generate

    runs = [[s["seconds"] for s in generate(model, ids, n, use_cache=use_cache)] for _ in range(repeats)]
    return np.min(np.asarray(runs), axis=0).tolist()
