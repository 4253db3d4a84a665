"""`capture`: run a prompt through the real model and keep every intermediate.

The prompt pass runs the unmodified `transformers` model with forward hooks
(:mod:`llmbook.hooks`); nothing is re-implemented except two derived views that
the hooks cannot see directly, both computed with the model's own pieces:

- per-head Q/K/V: reshapes of the projections' outputs (Llama's post-RoPE Q/K via
  the model module's own ``apply_rotary_pos_emb`` on the cos/sin it was given);
- attention scores before softmax: Q·Kᵀ·(module.scaling) with the causal mask,
  whose softmax is checked against the captured probabilities
  (``provenance["scores_softmax_max_abs_diff"]``).

The generation loop then feeds one token at a time through the KV cache.
Not handled: batches, beam search, repetition penalties, stop strings.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from .hooks import BLOCK_POINTS, GLOBAL_POINTS, Recorder
from .lens import logit_lens
from .provenance import provenance
from .trace import Trace

# user-facing per-head fields -> the hook fields they are built from (all views of a
# block's Q/K/V are built together, so each needs every projection)
_QKV_HOOKS = {"gpt2": ("qkv",), "llama": ("q_pre_rope", "k_pre_rope", "v", "rope")}
DERIVED = {
    "gpt2": dict.fromkeys(("q", "k", "v", "scores"), _QKV_HOOKS["gpt2"]),
    "llama": dict.fromkeys(("q", "k", "v", "scores", "q_pre_rope", "k_pre_rope"), _QKV_HOOKS["llama"]),
}
HIDDEN_HOOK_FIELDS = {"qkv", "rope", "resid_in", "resid_out"}  # used, never stored as is


@dataclass(frozen=True)
class Sampling:
    """How the loop picks tokens. temperature 0 means greedy (argmax)."""

    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int = 0

    def __post_init__(self):
        if self.temperature < 0 or not np.isfinite(self.temperature):
            raise ValueError(f"temperature must be a finite number >= 0, not {self.temperature}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], not {self.top_p}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, not {self.top_k}")


def available_fields(arch: str) -> set[str]:
    block = set(BLOCK_POINTS[arch]) | set(DERIVED[arch])
    return (block | set(GLOBAL_POINTS[arch])) - HIDDEN_HOOK_FIELDS


def capture(lm, prompt: str, *, chat: bool | None = None, max_new_tokens: int = 0,
            sampling: Sampling | None = None, keep=None, layers=None, lens: bool = True,
            check: bool = True, alternatives: int = 10) -> Trace:
    """Capture one prompt pass (+ an optional generation loop) of ``lm``.

    keep: field names to keep (default all, see :func:`available_fields`); the
    contract's ``residual``, ``attn`` and ``logits`` are always kept. layers: which
    blocks keep per-block detail (default all). check: also run a plain, hook-free
    ``model(ids)`` and record the max |difference| of its logits.
    """
    import torch

    spec, sampling = lm.spec, sampling or Sampling()
    chat = bool(spec.chat_template) if chat is None else chat
    ids = lm.encode(prompt, chat=chat)
    if max_new_tokens < 0 or len(ids) + max_new_tokens > spec.context_len:
        raise ValueError(f"max_new_tokens={max_new_tokens} does not fit: the prompt has "
                         f"{len(ids)} tokens and {spec.name}'s context is {spec.context_len}")
    n_layers = lm.model.config.num_hidden_layers
    fields, layer_set = _resolve_filter(spec.arch, keep, layers, n_layers)
    hook_fields = _hook_fields(spec.arch, fields)

    cache = _new_cache(lm.model)
    x = torch.tensor([ids])
    t0 = time.perf_counter()
    with torch.no_grad(), Recorder(lm.model, spec.arch, hook_fields, layer_set, n_layers) as rec:
        out = lm.model(input_ids=x, cache=cache, use_cache=True)
    prompt_seconds = time.perf_counter() - t0
    arrays = _assemble(lm, rec.seen, fields, layer_set, n_layers)
    extra = {"prompt_pass_seconds": round(prompt_seconds, 4)}
    extra.update(_scores_check(arrays))
    if lens:
        arrays.update(logit_lens(lm, arrays["residual"], k=alternatives,
                                 answer=arrays["logits"].argmax(-1)))
    if check:
        extra["logits_max_abs_diff_vs_plain_call"] = _plain_call_diff(lm, x, arrays["logits"])
    steps, generated, loop_attn = _generate(lm, out.logits[0, -1], cache, len(ids),
                                            max_new_tokens, sampling, alternatives)
    arrays.update(loop_attn)
    shown = set(ids) | set(generated) | {i for s in steps for i in s["top_ids"]}
    if "lens_top_ids" in arrays:
        shown |= set(np.unique(arrays["lens_top_ids"]).tolist())
    return Trace(
        model_name=spec.name, is_standin=lm.is_standin, token_ids=ids, tokens=lm.tokens(ids),
        generated_ids=generated, arrays=arrays, config=model_facts(lm),
        settings={"prompt": prompt, "chat": chat, "max_new_tokens": max_new_tokens,
                  "sampling": asdict(sampling), "keep": sorted(fields),
                  "layers": sorted(layer_set), "lens": lens, "alternatives": alternatives},
        steps=steps, provenance=provenance(lm, **extra),
        vocab={str(i): t for i, t in zip(sorted(shown), lm.tokens(sorted(shown)))},
    )


def model_facts(lm) -> dict:
    """Shapes a figure needs, read from the loaded model's config."""
    c = lm.model.config
    n_heads = c.num_attention_heads
    n_kv = getattr(c, "num_key_value_heads", None) or n_heads
    d = c.hidden_size
    d_ff = getattr(c, "intermediate_size", None) or getattr(c, "n_inner", None) or 4 * d
    return {"arch": lm.spec.arch, "n_layers": c.num_hidden_layers, "n_heads": n_heads,
            "n_kv_heads": n_kv, "d_model": d, "head_dim": d // n_heads, "d_ff": d_ff,
            "vocab_size": c.vocab_size, "context_len": lm.spec.context_len,
            "kv_head_of": [h // (n_heads // n_kv) for h in range(n_heads)]}


def _resolve_filter(arch, keep, layers, n_layers):
    known = available_fields(arch)
    fields = known if keep is None else set(keep)
    unknown = fields - known
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)} for {arch}; known: {sorted(known)}")
    layer_set = set(range(n_layers)) if layers is None else {int(i) for i in layers}
    bad = [i for i in layer_set if not 0 <= i < n_layers]
    if bad:
        raise ValueError(f"layers {sorted(bad)} out of range: the model has {n_layers} (0..{n_layers - 1})")
    return fields, layer_set


def _hook_fields(arch, fields):
    out = set(fields) | {"logits"}
    for f in fields:
        out |= set(DERIVED[arch].get(f, ()))
    return out


def _new_cache(model):
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


def _np(t):
    return t.detach().float().numpy()


def _heads(t, n: int):
    """[T, n*dh] -> [n, T, dh]"""
    T = t.shape[0]
    return t.reshape(T, n, -1).permute(1, 0, 2)


def _assemble(lm, seen, fields, layer_set, n_layers) -> dict[str, np.ndarray]:
    """Turn the hooks' tensors into named float32 arrays (batch dimension dropped)."""
    s = {k: (v if isinstance(v, tuple) else v[0]) for k, v in seen.items()}
    arrays = {f: _np(s[f]) for f in GLOBAL_POINTS[lm.spec.arch] if f in fields or f == "logits"}
    arrays["residual"] = np.stack([_np(s[f"blocks.{i}.resid_in"]) for i in range(n_layers)]
                                  + [_np(s[f"blocks.{n_layers - 1}.resid_out"])])   # [L+1, T, d]
    arrays["attn"] = np.stack([_np(s[f"blocks.{i}.attn"]) for i in range(n_layers)])  # [L, H, T, T]
    for i in sorted(layer_set):
        block = {k.split(".", 2)[2]: v for k, v in s.items() if k.startswith(f"blocks.{i}.")}
        for name, value in _block_views(lm, i, block, fields).items():
            arrays[f"blocks.{i}.{name}"] = _np(value)
    return arrays


def _block_views(lm, layer, block, fields):
    """Per-block arrays: hook outputs as is, plus per-head Q/K/V and scores."""
    views = {f: v for f, v in block.items() if f in fields and f not in HIDDEN_HOOK_FIELDS
             and f not in ("attn", "q_pre_rope", "k_pre_rope", "v")}
    if not fields & {"q", "k", "v", "scores", "q_pre_rope", "k_pre_rope"}:
        return views
    q, k, v, extra = (_qkv_gpt2 if lm.spec.arch == "gpt2" else _qkv_llama)(lm, layer, block)
    heads = {"q": q, "k": k, "v": v, **extra}
    if "scores" in fields:
        heads["scores"] = _masked_scores(lm, layer, q, k)
    return {**views, **{n: t for n, t in heads.items() if n in fields}}


def _qkv_gpt2(lm, layer, block):
    H = lm.model.config.num_attention_heads
    q, k, v = block["qkv"].chunk(3, dim=-1)            # [T, d] each: Q | K | V
    return _heads(q, H), _heads(k, H), _heads(v, H), {}


def _qkv_llama(lm, layer, block):
    c = lm.model.config
    H, Hkv = c.num_attention_heads, c.num_key_value_heads
    q0, k0 = _heads(block["q_pre_rope"], H), _heads(block["k_pre_rope"], Hkv)   # [H, T, dh]
    cos, sin = block["rope"]                                                     # [1, T, dh]
    rope = sys.modules[type(lm.model).__module__].apply_rotary_pos_emb            # the model's own
    q, k = rope(q0[None], k0[None], cos, sin)
    return q[0], k[0], _heads(block["v"], Hkv), {"q_pre_rope": q0, "k_pre_rope": k0}


def _masked_scores(lm, layer, q, k):
    """[H, T, T] Q·Kᵀ·scaling, -inf above the diagonal (GQA: each query head's KV head)."""
    import torch

    attn_module = lm.model.get_submodule(_attn_path(lm, layer))
    n_rep = q.shape[0] // k.shape[0]
    k = k.repeat_interleave(n_rep, dim=0)               # query head h reads KV head h // n_rep
    scores = (q.float() @ k.float().transpose(-1, -2)) * attn_module.scaling
    T = scores.shape[-1]
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    return scores.masked_fill(mask, float("-inf"))


def _attn_path(lm, layer):
    return f"transformer.h.{layer}.attn" if lm.spec.arch == "gpt2" else f"model.layers.{layer}.self_attn"


def _scores_check(arrays) -> dict:
    keys = [k for k in arrays if k.endswith(".scores")]
    if not keys:
        return {}
    worst = 0.0
    for key in keys:
        layer = int(key.split(".")[1])
        s = arrays[key].astype(np.float64)
        p = np.exp(s - s.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        worst = max(worst, float(np.abs(p - arrays["attn"][layer]).max()))
    return {"scores_softmax_max_abs_diff": worst}


def _plain_call_diff(lm, x, captured_logits) -> float:
    import torch

    with torch.no_grad():
        plain = lm.model(input_ids=x).logits[0].float().numpy()
    return float(np.abs(plain - captured_logits).max())


def cache_bytes(cache) -> int:
    return sum(t.numel() * t.element_size() for layer in cache.layers
               for t in (layer.keys, layer.values) if t is not None and t.numel())


def _generate(lm, last_logits, cache, prompt_len, n, sampling, alternatives):
    """The loop: pick a token, feed it through the KV cache, repeat.

    Returns per-step dicts, generated ids, and ``loop.{t}.attn`` [L, H, S]: each
    step's attention row of the new token over the S cached positions.
    """
    import torch

    gen = torch.Generator().manual_seed(sampling.seed)
    steps, generated, loop_attn = [], [], {}
    logits, seconds, eos = last_logits, 0.0, lm.tokenizer.eos_token_id
    n_layers = lm.model.config.num_hidden_layers
    for t in range(n):
        probs = _distribution(logits.float(), sampling)
        token = int(probs.argmax()) if sampling.temperature == 0 else int(torch.multinomial(probs, 1, generator=gen))
        top = probs.topk(alternatives)
        steps.append({"step": t, "position": prompt_len + t, "token_id": token,
                      "token": lm.tokens([token])[0], "prob": float(probs[token]),
                      "top_ids": top.indices.tolist(), "top_probs": [float(p) for p in top.values],
                      "cache_len": prompt_len + t, "cache_bytes": cache_bytes(cache),
                      "forward_seconds": round(seconds, 5)})
        generated.append(token)
        if token == eos or t == n - 1:
            break
        t0 = time.perf_counter()
        with torch.no_grad(), Recorder(lm.model, lm.spec.arch, {"attn"}, set(), n_layers) as rec:
            logits = lm.model(input_ids=torch.tensor([[token]]), cache=cache,
                              use_cache=True).logits[0, -1]
        seconds = time.perf_counter() - t0
        loop_attn[f"loop.{t + 1}.attn"] = np.stack(
            [_np(rec.seen[f"blocks.{i}.attn"][0, :, -1]) for i in range(n_layers)])  # [L, H, S]
    return steps, generated, loop_attn


def _distribution(logits, sampling):
    """Next-token probabilities after temperature, top-k and top-p."""
    import torch

    if sampling.temperature == 0:
        return torch.softmax(logits, dim=-1)
    z = logits / sampling.temperature
    if sampling.top_k:
        kth = z.topk(min(sampling.top_k, z.numel())).values[-1]
        z = z.masked_fill(z < kth, float("-inf"))
    if sampling.top_p is not None and sampling.top_p < 1:
        sorted_z, order = z.sort(descending=True)
        cum = torch.softmax(sorted_z, -1).cumsum(-1)
        drop = cum - torch.softmax(sorted_z, -1) >= sampling.top_p   # keep the smallest set reaching p
        z = z.masked_fill(torch.zeros_like(drop).scatter(0, order, drop), float("-inf"))
    return torch.softmax(z, dim=-1)
