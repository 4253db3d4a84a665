"""Recompute captured numbers from the weights with plain numpy (float64).

Nothing here calls `transformers` code: LayerNorm, RMSNorm, GELU (tanh), SiLU,
RoPE and attention are written out from their definitions, the weights are read
by their checkpoint names, and each function returns the max |difference| between
its recomputation and what the capture recorded. The chapters print these numbers;
the tests hold them to tight tolerances.

Each function starts from a *captured* input (the residual entering the block, or
the residual after attention), so an error in one layer does not hide in another.
Not handled: batches, sliding-window attention, rope scaling variants.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def _w(lm, name: str, rows: slice | None = None) -> np.ndarray:
    """A weight by its checkpoint name, as float64 (only ``rows`` of it, when given)."""
    t = lm.model.get_parameter(name).detach()
    return (t if rows is None else t[rows]).double().numpy()


def _prefix(lm, layer: int) -> str:
    return f"transformer.h.{layer}." if lm.spec.arch == "gpt2" else f"model.layers.{layer}."


class Check(NamedTuple):
    """One comparison: recomputed vs captured."""

    max_abs_diff: float    # max |recomputed - captured|; inf when masks (-inf) disagree
    scale: float           # max |captured|: what the difference is relative to

    @property
    def rel(self) -> float:
        return self.max_abs_diff / max(self.scale, 1e-30)

    def ok(self, rel_tol: float = 1e-5) -> bool:
        return self.rel <= rel_tol


def _diff(mine, captured) -> Check:
    a, b = np.asarray(mine, np.float64), np.asarray(captured, np.float64)
    finite = np.isfinite(a) & np.isfinite(b)
    scale = float(np.abs(b[finite]).max()) if finite.any() else 0.0
    if not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return Check(float("inf"), scale)
    return Check(float(np.abs(a[finite] - b[finite]).max()) if finite.any() else 0.0, scale)


# --- the maths, from the definitions -------------------------------------------

def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * w


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def rope(x, theta: float):
    """Rotate [T, dh] by position (Llama's half-split layout: pairs (i, i + dh/2))."""
    T, dh = x.shape
    inv_freq = 1.0 / theta ** (np.arange(0, dh, 2) / dh)          # [dh/2]
    ang = np.arange(T)[:, None] * inv_freq[None]                    # [T, dh/2]
    cos, sin = np.cos(ang), np.sin(ang)
    x1, x2 = x[:, : dh // 2], x[:, dh // 2:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def causal_attention(q, k, v):
    """q, k, v: [T, dh] -> (scores [T, T] masked, probs [T, T], out [T, dh])"""
    T, dh = q.shape
    scores = q @ k.T / np.sqrt(dh)
    scores[np.triu_indices(T, 1)] = -np.inf
    probs = softmax(scores)
    return scores, probs, probs @ v


# --- per-architecture pieces -------------------------------------------------

def _norm1(lm, layer, x):
    p, c = _prefix(lm, layer), lm.model.config
    if lm.spec.arch == "gpt2":
        return layer_norm(x, _w(lm, p + "ln_1.weight"), _w(lm, p + "ln_1.bias"), c.layer_norm_epsilon)
    return rms_norm(x, _w(lm, p + "input_layernorm.weight"), c.rms_norm_eps)


def _norm2(lm, layer, x):
    p, c = _prefix(lm, layer), lm.model.config
    if lm.spec.arch == "gpt2":
        return layer_norm(x, _w(lm, p + "ln_2.weight"), _w(lm, p + "ln_2.bias"), c.layer_norm_epsilon)
    return rms_norm(x, _w(lm, p + "post_attention_layernorm.weight"), c.rms_norm_eps)


def _head_qkv(lm, layer, head, h):
    """One head's q, k, v [T, dh] from the normed input h [T, d] (Llama: after RoPE)."""
    p, c = _prefix(lm, layer), lm.model.config
    d, H = c.hidden_size, c.num_attention_heads
    dh = d // H
    if lm.spec.arch == "gpt2":
        qkv = h @ _w(lm, p + "attn.c_attn.weight") + _w(lm, p + "attn.c_attn.bias")   # [T, 3d]
        cols = lambda sec: qkv[:, sec * d + head * dh: sec * d + (head + 1) * dh]   # noqa: E731
        return cols(0), cols(1), cols(2)
    kv = head // (H // c.num_key_value_heads)                      # GQA: the KV head this head reads
    rows = lambda name, j: _w(lm, p + f"self_attn.{name}.weight", slice(j * dh, (j + 1) * dh))  # noqa: E731
    theta = c.rope_parameters["rope_theta"]
    q = rope(h @ rows("q_proj", head).T, theta)
    k = rope(h @ rows("k_proj", kv).T, theta)
    return q, k, h @ rows("v_proj", kv).T


def _attention_block(lm, layer, h):
    """All heads then the output projection: h [T, d] -> [T, d]."""
    p, H = _prefix(lm, layer), lm.model.config.num_attention_heads
    heads = np.concatenate([causal_attention(*_head_qkv(lm, layer, j, h))[2] for j in range(H)], -1)
    if lm.spec.arch == "gpt2":
        return heads @ _w(lm, p + "attn.c_proj.weight") + _w(lm, p + "attn.c_proj.bias")
    return heads @ _w(lm, p + "self_attn.o_proj.weight").T


def _ffn(lm, layer, h):
    """h [T, d] -> (hidden [T, d_ff] after the nonlinearity, out [T, d])."""
    p = _prefix(lm, layer)
    if lm.spec.arch == "gpt2":
        hidden = gelu_tanh(h @ _w(lm, p + "mlp.c_fc.weight") + _w(lm, p + "mlp.c_fc.bias"))
        return hidden, hidden @ _w(lm, p + "mlp.c_proj.weight") + _w(lm, p + "mlp.c_proj.bias")
    gate = h @ _w(lm, p + "mlp.gate_proj.weight").T
    hidden = silu(gate) * (h @ _w(lm, p + "mlp.up_proj.weight").T)
    return hidden, hidden @ _w(lm, p + "mlp.down_proj.weight").T


# --- the checks the book runs -------------------------------------------------

def verify_attention_head(lm, tr, layer: int, head: int) -> dict[str, Check]:
    """One head: Q (and K), Q·Kᵀ/√dh with the mask, softmax, ·V, against the capture."""
    x = tr.residual[layer].astype(np.float64)                      # [T, d] captured input
    q, k, v = _head_qkv(lm, layer, head, _norm1(lm, layer, x))
    scores, probs, out = causal_attention(q, k, v)
    dh = q.shape[1]
    result = {"probs": _diff(probs, tr.attn[layer, head])}
    checks = {"q": (q, lambda a: a[head]), "scores": (scores, lambda a: a[head]),
              "head_out": (out, lambda a: a[:, head * dh:(head + 1) * dh])}
    for name, (mine, pick) in checks.items():
        key = f"blocks.{layer}.{'heads_out' if name == 'head_out' else name}"
        if key in tr.arrays:
            result[name] = _diff(mine, pick(tr.arrays[key]))
    return result


def verify_ffn(lm, tr, layer: int) -> dict[str, Check]:
    """The feed-forward network from the captured residual after attention."""
    mid = tr.block(layer, "resid_mid").astype(np.float64)          # [T, d]
    hidden, out = _ffn(lm, layer, _norm2(lm, layer, mid))
    hidden_key = "ffn_act" if lm.spec.arch == "gpt2" else "ffn_hidden"
    return {"hidden": _diff(hidden, tr.block(layer, hidden_key)),
            "ffn_out": _diff(out, tr.block(layer, "ffn_out"))}


def verify_block(lm, tr, layer: int) -> dict[str, Check]:
    """A whole block: residual[layer] in, residual[layer + 1] out."""
    x = tr.residual[layer].astype(np.float64)
    mid = x + _attention_block(lm, layer, _norm1(lm, layer, x))
    out = mid + _ffn(lm, layer, _norm2(lm, layer, mid))[1]
    return {"resid_out": _diff(out, tr.residual[layer + 1])}


def verify_lm_head(lm, tr) -> dict:
    """Final norm + LM head on the last position: logits and the top token."""
    c, x = lm.model.config, tr.residual[-1, -1:].astype(np.float64)   # [1, d]
    if lm.spec.arch == "gpt2":
        h = layer_norm(x, _w(lm, "transformer.ln_f.weight"), _w(lm, "transformer.ln_f.bias"),
                       c.layer_norm_epsilon)
    else:
        h = rms_norm(x, _w(lm, "model.norm.weight"), c.rms_norm_eps)
    V = lm.model.config.vocab_size
    logits = np.concatenate([(h @ _w(lm, "lm_head.weight", slice(i, i + 4096)).T)[0]   # tied to wte
                             for i in range(0, V, 4096)])      # 4096 rows at a time: bounded memory
    return {"logits": _diff(logits, tr.logits[-1]), "top_token": int(logits.argmax()),
            "top_token_matches": bool(logits.argmax() == tr.logits[-1].argmax())}


def verify_substeps(lm, tr, layer: int, head: int) -> dict[str, Check]:
    """Each substep of one block, recomputed on its own from the weights (float64).

    Keys, in order: ``q``, ``k`` (Llama: after RoPE, the KV head this head reads),
    ``q_pre_rope``/``k_pre_rope`` (Llama), ``scores`` (scaled, masked), ``probs``,
    ``head_out`` (probs·V), then the FFN: ``expand`` (GPT-2: c_fc; Llama: gate and
    up), ``activation`` (GELU / SiLU(gate)·up, from the captured pre-activations),
    ``contract`` (the FFN's output from the captured hidden units).
    """
    h = _norm1(lm, layer, tr.residual[layer].astype(np.float64))             # [T, d]
    q, k, v = _head_qkv(lm, layer, head, h)                                   # [T, dh] each
    scores, probs, out = causal_attention(q, k, v)
    kv = tr.config["kv_head_of"][head]
    dh = q.shape[1]
    got = lambda name: tr.block(layer, name)                                  # noqa: E731
    checks = {"q": _diff(q, got("q")[head]), "k": _diff(k, got("k")[kv])}
    if lm.spec.arch == "llama":
        p = _prefix(lm, layer)
        rows = lambda name, j: _w(lm, p + f"self_attn.{name}.weight", slice(j * dh, (j + 1) * dh))  # noqa: E731
        checks["q_pre_rope"] = _diff(h @ rows("q_proj", head).T, got("q_pre_rope")[head])
        checks["k_pre_rope"] = _diff(h @ rows("k_proj", kv).T, got("k_pre_rope")[kv])
    checks["scores"] = _diff(scores, got("scores")[head])
    checks["probs"] = _diff(probs, tr.attn[layer, head])
    checks["head_out"] = _diff(out, got("heads_out")[:, head * dh:(head + 1) * dh])
    checks.update(_ffn_substeps(lm, tr, layer))
    return checks


def _ffn_substeps(lm, tr, layer: int) -> dict[str, Check]:
    p, got = _prefix(lm, layer), (lambda name: tr.block(layer, name).astype(np.float64))
    x = _norm2(lm, layer, got("resid_mid"))                                   # [T, d]
    if lm.spec.arch == "gpt2":
        pre = x @ _w(lm, p + "mlp.c_fc.weight") + _w(lm, p + "mlp.c_fc.bias")   # [T, d_ff]
        return {"expand": _diff(pre, got("ffn_pre")),
                "activation": _diff(gelu_tanh(got("ffn_pre")), got("ffn_act")),
                "contract": _diff(got("ffn_act") @ _w(lm, p + "mlp.c_proj.weight") + _w(lm, p + "mlp.c_proj.bias"),
                                  got("ffn_out"))}
    gate, up = x @ _w(lm, p + "mlp.gate_proj.weight").T, x @ _w(lm, p + "mlp.up_proj.weight").T
    return {"expand (gate)": _diff(gate, got("ffn_gate")), "expand (up)": _diff(up, got("ffn_up")),
            "activation": _diff(silu(got("ffn_gate")) * got("ffn_up"), got("ffn_hidden")),
            "contract": _diff(got("ffn_hidden") @ _w(lm, p + "mlp.down_proj.weight").T, got("ffn_out"))}


def verify_all(lm, tr, layer: int, head: int) -> dict[str, Check]:
    """Every check at one layer/head, flattened: what a chapter prints as a table."""
    out = {f"attention head {layer}.{head}: {k}": v for k, v in verify_attention_head(lm, tr, layer, head).items()}
    out.update({f"FFN {layer}: {k}": v for k, v in verify_ffn(lm, tr, layer).items()})
    out.update({f"block {layer}: {k}": v for k, v in verify_block(lm, tr, layer).items()})
    head_check = verify_lm_head(lm, tr)
    out["LM head: logits (last position)"] = head_check["logits"]
    return out
