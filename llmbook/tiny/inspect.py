"""Every intermediate of the tiny model, and generation with a KV cache, for the chapters.

:func:`intermediates` walks the model's own modules and parameters one step at a
time and keeps each result; its last entry is checked against ``model(ids)`` so a
figure can never show numbers the model did not compute. :func:`generate` runs
the loop one token at a time, with or without a KV cache, timing each step.
Not handled: batches, sequences longer than the context (the caller truncates).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from .model import TinyTransformer


@torch.no_grad()
def intermediates(model: TinyTransformer, ids) -> dict[str, np.ndarray]:
    """Named arrays for one sequence; per layer i the names start with ``layers.{i}.``."""
    ids = torch.as_tensor(list(ids), dtype=torch.long)
    T, c = len(ids), model.config
    H, dh = c.n_heads, c.head_dim
    out = {"tok": model.tok_emb[ids], "pos": model.pos_emb[:T]}          # [T, d] each
    x = out["x0"] = out["tok"] + out["pos"]
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    for i, block in enumerate(model.layers):
        p = f"layers.{i}."
        h = block.ln1(x)
        qkv = h @ block.attn.w_qkv                                        # [T, 3d]
        q, k, v = (t.reshape(T, H, dh).transpose(0, 1) for t in qkv.split(c.d_model, -1))  # [H, T, dh]
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)                  # [H, T, T]
        probs = scores.masked_fill(mask, float("-inf")).softmax(-1)
        heads = (probs @ v).transpose(0, 1).reshape(T, c.d_model)         # [T, d]
        attn_out = heads @ block.attn.w_out
        mid = x + attn_out
        pre = block.ln2(mid) @ block.ffn.w1                               # [T, d_ff]
        act = F.gelu(pre, approximate="tanh")
        ffn_out = act @ block.ffn.w2
        x = mid + ffn_out
        out.update({p + "ln1": h, p + "qkv": qkv, p + "q": q, p + "k": k, p + "v": v,
                    p + "scores": scores, p + "probs": probs, p + "heads": heads,
                    p + "attn_out": attn_out, p + "mid": mid, p + "ln2": block.ln2(mid),
                    p + "ffn_pre": pre, p + "ffn_act": act, p + "ffn_out": ffn_out, p + "out": x})
    out["final"] = model.ln_f(x)
    out["logits"] = out["final"] @ model.tok_emb.T                        # [T, V]
    check = model(ids)
    if not torch.allclose(out["logits"], check, atol=1e-5):
        raise AssertionError("step-by-step logits differ from model(ids)")
    return {k: v.numpy() for k, v in out.items()}


def next_token_probs(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """Softmax of logits / temperature (temperature 0: all mass on the argmax)."""
    z = np.asarray(logits, np.float64)
    if temperature == 0:
        p = np.zeros_like(z)
        p[z.argmax()] = 1.0
        return p
    z = z / temperature
    if top_k:
        z = np.where(z < np.sort(z)[-top_k], -np.inf, z)
    z = np.exp(z - z.max())
    return z / z.sum()


@torch.no_grad()
def generate(model: TinyTransformer, ids, n: int, temperature: float = 0.0, top_k: int | None = None,
             seed: int = 0, use_cache: bool = True) -> list[dict]:
    """One dict per generated token: id, the model's top candidates (temperature 1),
    the probability the token had under the sampling settings, attention rows,
    cache size and time.

    With ``use_cache`` each step feeds only the new token and attends over stored
    keys/values; without, it recomputes the whole sequence. Greedy output is the
    same either way (a test checks it); the time per step is not.
    """
    ids = list(ids)
    c = model.config
    if not ids:
        raise ValueError("generate() needs at least one prompt token")
    if len(ids) + n > c.context_len:
        raise ValueError(f"{len(ids)} prompt tokens + {n} new exceed the context of {c.context_len}")
    rng = np.random.default_rng(seed)
    cache: list[tuple[torch.Tensor, torch.Tensor]] = [(torch.empty(c.n_heads, 0, c.head_dim),) * 2
                                                       for _ in model.layers]
    steps, fed = [], 0
    for _ in range(n):
        start = time.perf_counter()
        if use_cache:
            logits, attn = _step_cached(model, ids[fed:], fed, cache)
            fed = len(ids)
        else:
            logits, attn = _step_full(model, ids)
        seconds = time.perf_counter() - start
        model_p = next_token_probs(logits, 1.0)                  # the model's own distribution
        p = next_token_probs(logits, temperature, top_k)         # the one sampled from
        token = int(p.argmax()) if temperature == 0 else int(rng.choice(len(p), p=p))
        top = np.argsort(-model_p)[:10]
        steps.append({"token": token, "top_ids": top.tolist(), "top_probs": model_p[top].tolist(),
                      "p_sampled": float(p[token]),
                      "attn": attn, "cache_len": len(ids), "seconds": seconds,
                      "cache_floats": 2 * c.n_layers * c.d_model * len(ids) if use_cache else 0})
        ids.append(token)
    return steps


def _step_full(model, ids):
    inter = intermediates(model, ids)
    attn = np.stack([inter[f"layers.{i}.probs"][:, -1] for i in range(model.config.n_layers)])
    return inter["logits"][-1], attn                                          # [V], [L, H, S]


def _step_cached(model, new_ids, start, cache):
    """Feed ``new_ids`` at positions start.. ; extend each layer's (K, V) cache in place."""
    c = model.config
    T = len(new_ids)
    x = model.tok_emb[torch.tensor(new_ids)] + model.pos_emb[start:start + T]   # [T, d]
    rows = []
    for i, block in enumerate(model.layers):
        q, k, v = (t.reshape(T, c.n_heads, c.head_dim).transpose(0, 1)
                   for t in (block.ln1(x) @ block.attn.w_qkv).split(c.d_model, -1))
        K, V = (torch.cat([cache[i][0], k], 1), torch.cat([cache[i][1], v], 1))   # [H, S, dh]
        cache[i] = (K, V)
        scores = q @ K.transpose(-1, -2) / math.sqrt(c.head_dim)                  # [H, T, S]
        S = K.shape[1]
        mask = torch.arange(S)[None, :] > torch.arange(start, start + T)[:, None]
        probs = scores.masked_fill(mask, float("-inf")).softmax(-1)
        x = x + (probs @ V).transpose(0, 1).reshape(T, c.d_model) @ block.attn.w_out
        x = x + block.ffn(block.ln2(x))
        rows.append(probs[:, -1].numpy())
    logits = model.ln_f(x[-1]) @ model.tok_emb.T
    return logits.numpy(), np.stack(rows)
