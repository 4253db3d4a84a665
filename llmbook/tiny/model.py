"""The book's tiny decoder-only transformer (CONTRACTS §4), in PyTorch.

One model, two engines: this file and ``_static/tinylm/model.js`` compute the same
numbers from the same JSON weights. Parameter names are the contract's tensor
names (``layers.0.attn.w_qkv``), and every matrix is used as ``x @ W``::

    x      = tok_emb[ids] + pos_emb[:T]
    x      = x + attn(LN1(x)) @ w_out         per layer (causal, multi-head)
    x      = x + gelu_tanh(LN2(x) @ w1) @ w2
    logits = LN_f(x) @ tok_emb.T              LM head tied to the token embedding

Not handled: dropout (the model is small and trained briefly), biases on linear
maps (the contract has none), batches longer than ``context_len``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FORMAT = "llmbook-tiny/1"


@dataclass(frozen=True)
class TinyConfig:
    vocab_size: int = 768
    context_len: int = 64
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int | None = None          # default 4 * d_model

    def __post_init__(self):
        if self.d_ff is None:
            object.__setattr__(self, "d_ff", 4 * self.d_model)
        for name in ("vocab_size", "context_len", "d_model", "n_heads", "n_layers", "d_ff"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"config {name} must be a positive integer, not {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


def tensor_shapes(c: TinyConfig) -> dict[str, tuple[int, ...]]:
    """Every contract tensor name and its shape, in file order."""
    d = c.d_model
    shapes = {"tok_emb": (c.vocab_size, d), "pos_emb": (c.context_len, d)}
    for i in range(c.n_layers):
        p = f"layers.{i}."
        shapes.update({p + "ln1.weight": (d,), p + "ln1.bias": (d,), p + "attn.w_qkv": (d, 3 * d),
                       p + "attn.w_out": (d, d), p + "ln2.weight": (d,), p + "ln2.bias": (d,),
                       p + "ffn.w1": (d, c.d_ff), p + "ffn.w2": (c.d_ff, d)})
    shapes.update({"ln_f.weight": (d,), "ln_f.bias": (d,)})
    return shapes


class Attention(nn.Module):
    def __init__(self, c: TinyConfig):
        super().__init__()
        self.n_heads = c.n_heads
        self.w_qkv = nn.Parameter(torch.empty(c.d_model, 3 * c.d_model))   # [d, 3d]: Q | K | V
        self.w_out = nn.Parameter(torch.empty(c.d_model, c.d_model))       # [d, d]

    def forward(self, h, keep_probs: bool = False):
        B, T, d = h.shape
        q, k, v = (h @ self.w_qkv).split(d, dim=-1)                         # [B, T, d] each
        q, k, v = (t.view(B, T, self.n_heads, -1).transpose(1, 2) for t in (q, k, v))  # [B, H, T, dh]
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])           # [B, H, T, T]
        mask = torch.ones(T, T, dtype=torch.bool, device=h.device).triu(1)
        probs = scores.masked_fill(mask, float("-inf")).softmax(dim=-1)
        self.last_probs = probs.detach() if keep_probs else None
        out = (probs @ v).transpose(1, 2).reshape(B, T, d)                  # heads concatenated
        return out @ self.w_out


class FeedForward(nn.Module):
    def __init__(self, c: TinyConfig):
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(c.d_model, c.d_ff))              # [d, d_ff]
        self.w2 = nn.Parameter(torch.empty(c.d_ff, c.d_model))              # [d_ff, d]

    def forward(self, h):
        return F.gelu(h @ self.w1, approximate="tanh") @ self.w2


class Block(nn.Module):
    def __init__(self, c: TinyConfig):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(c.d_model, eps=1e-5), Attention(c)
        self.ln2, self.ffn = nn.LayerNorm(c.d_model, eps=1e-5), FeedForward(c)

    def forward(self, x, keep_probs: bool = False):
        x = x + self.attn(self.ln1(x), keep_probs)
        return x + self.ffn(self.ln2(x))


class TinyTransformer(nn.Module):
    def __init__(self, config: TinyConfig, seed: int = 0):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Parameter(torch.empty(config.vocab_size, config.d_model))
        self.pos_emb = nn.Parameter(torch.empty(config.context_len, config.d_model))
        self.layers = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model, eps=1e-5)
        self.reset_parameters(seed)

    def reset_parameters(self, seed: int = 0) -> None:
        """Seeded init: N(0, 0.02) matrices, output projections scaled by 1/sqrt(2·layers)."""
        g = torch.Generator().manual_seed(seed)
        out_std = 0.02 / math.sqrt(2 * self.config.n_layers)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if p.ndim == 1:
                    p.fill_(1.0 if name.endswith("weight") else 0.0)
                else:
                    std = out_std if name.endswith(("w_out", "w2")) else 0.02
                    p.normal_(0.0, std, generator=g)

    # --- forward -----------------------------------------------------------------------
    def hidden(self, ids: torch.Tensor, keep_probs: bool = False) -> torch.Tensor:
        """ids [B, T] -> final normed hidden states [B, T, d]."""
        T = ids.shape[-1]
        if T > self.config.context_len:
            raise ValueError(f"{T} tokens exceed the context of {self.config.context_len}")
        x = self.tok_emb[ids] + self.pos_emb[:T]
        for block in self.layers:
            x = block(x, keep_probs)
        return self.ln_f(x)

    def logits(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [B, T] -> logits [B, T, V]"""
        return self.hidden(ids) @ self.tok_emb.T

    def forward(self, ids) -> torch.Tensor:
        """A 1-D sequence of ints (list, numpy array or tensor) -> logits [T, V]."""
        ids = torch.as_tensor(np.asarray(ids) if not torch.is_tensor(ids) else ids, dtype=torch.long)
        if ids.ndim != 1:
            raise ValueError(f"forward() takes one sequence of ids, got shape {tuple(ids.shape)}")
        if len(ids) and (ids.min() < 0 or ids.max() >= self.config.vocab_size):
            raise ValueError(f"ids must be in [0, {self.config.vocab_size})")
        return self.logits(ids[None])[0]

    def loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy over [B, T] inputs and targets."""
        logits = self.logits(inputs)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    # --- weights file ----------------------------------------------------------------
    def to_json(self, merges=None) -> dict:
        """The contract's JSON object (float32 values, row-major)."""
        tensors = {name: {"shape": list(p.shape), "data": _floats(p)} for name, p in self.named_parameters()}
        obj = {"format": FORMAT, "config": asdict(self.config), "tensors": tensors}
        if merges is not None:
            obj["merges"] = [list(m) for m in merges]
        return obj

    def save(self, path, merges=None) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_json(merges), separators=(",", ":")))
        return path

    @classmethod
    def from_json(cls, source) -> "TinyTransformer":
        """Load a dict, a JSON string or a path; every problem is named in a ValueError."""
        obj = _read_json(source)
        config = _parse_config(obj)
        model = cls(config)
        tensors = obj.get("tensors")
        if not isinstance(tensors, dict):
            raise ValueError("weights file has no 'tensors' object")
        expected = tensor_shapes(config)
        missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
        if missing or extra:
            raise ValueError(f"weights file tensors do not match the config: missing {missing[:5]}, "
                             f"unexpected {extra[:5]}")
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, shape in expected.items():
                params[name].copy_(torch.from_numpy(_parse_tensor(name, tensors[name], shape)))
        if obj.get("merges") is not None:
            from .bpe import validate_merges

            model.merges = validate_merges(obj["merges"], where="weights file merges")
        return model


def _floats(p: torch.Tensor) -> list[float]:
    """float32 values as the shortest decimals that read back to the same float32."""
    return [float(s) for s in np.char.mod("%.9g", p.detach().float().reshape(-1).numpy())]


def _read_json(source) -> dict:
    if isinstance(source, dict):
        obj = source
    else:
        try:
            text = source if isinstance(source, str) and source.lstrip().startswith("{") else Path(source).read_text()
            obj = json.loads(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"not a readable weights file ({type(err).__name__}: {err})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError(f"not an {FORMAT} weights file (format: {obj.get('format') if isinstance(obj, dict) else None!r})")
    return obj


def _parse_config(obj: dict) -> TinyConfig:
    raw = obj.get("config")
    if not isinstance(raw, dict):
        raise ValueError("weights file has no 'config' object")
    fields = ("vocab_size", "context_len", "d_model", "n_heads", "n_layers", "d_ff")
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ValueError(f"unknown config keys {unknown}")
    return TinyConfig(**{k: raw[k] for k in fields if k in raw})


def _parse_tensor(name: str, t, shape) -> np.ndarray:
    if not isinstance(t, dict) or list(t.get("shape", [])) != list(shape):
        got = t.get("shape") if isinstance(t, dict) else t
        raise ValueError(f"tensor {name}: shape {got} does not match the config's {list(shape)}")
    data = t.get("data")
    if not isinstance(data, list) or len(data) != math.prod(shape):
        raise ValueError(f"tensor {name}: expected {math.prod(shape)} numbers, got "
                         f"{len(data) if isinstance(data, list) else type(data).__name__}")
    try:
        arr = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"tensor {name}: values must all be numbers") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"tensor {name}: contains NaN or infinite values")
    return arr.reshape(shape)
