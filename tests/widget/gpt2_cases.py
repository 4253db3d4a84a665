"""GPT-2 checkpoints and prompts for the in-page engine's tests, with PyTorch's answers.

``gpt2-check.mjs`` runs a case (prompts as ids) through ``_static/tinylm/engines/gpt2.js`` under
Node or in Chromium; :func:`reference` is what ``transformers``' GPT2LMHeadModel computes
on the same file; :func:`assert_gpt2_parity` compares them at the issue's bound.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

BOUND = 1e-4          # max |Δ| on logits (the issue's), residual rows and attention rows
SMALL = {"n_layer": 2, "n_embd": 128, "n_head": 2, "vocab_size": 50257, "n_positions": 1024}


def random_checkpoint(path: Path, config: dict = SMALL, seed: int = 0, dtype=torch.float32) -> Path:
    """A GPT-2 whose every tensor is random (biases and LayerNorms too), saved as the hub saves
    GPT-2: no ``transformer.`` prefix, no lm_head (tied), the old causal-mask buffers."""
    from safetensors.torch import save_file
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(**config))
    tensors = {}
    with torch.no_grad():
        for name, p in model.transformer.named_parameters():
            p.copy_(torch.randn_like(p) * (0.5 if p.ndim == 1 else 0.05) + (1.0 if "ln" in name and "weight" in name else 0.0))
            tensors[name] = p.detach().to(dtype).contiguous()
    n = config["n_positions"]
    for i in range(config["n_layer"]):
        tensors[f"h.{i}.attn.bias"] = torch.tril(torch.ones(n, n)).view(1, 1, n, n)
        tensors[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(tensors, str(path), metadata={"format": "pt"})
    return path


def load_reference_model(path: Path, config: dict = SMALL):
    """GPT2LMHeadModel on ``path`` in float32, through from_pretrained's own loader."""
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = path.parent / (path.stem + "-hf")
    folder.mkdir(exist_ok=True)
    (folder / "model.safetensors").unlink(missing_ok=True)
    (folder / "model.safetensors").symlink_to(path.resolve())
    GPT2Config(**config).save_pretrained(folder)
    return GPT2LMHeadModel.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()


def reference(model, prompts: list[list[int]], attention_layers: list[int]) -> list[dict]:
    out = []
    with torch.no_grad():
        for ids in prompts:
            r = model(torch.tensor([ids]), output_hidden_states=True, output_attentions=True)
            hidden = [h[0, -1].numpy() for h in r.hidden_states]
            hidden[-1] = None               # transformers' last hidden state is after ln_f: not the residual
            out.append({"logits_first": r.logits[0, 0].numpy(), "logits_last": r.logits[0, -1].numpy(),
                        "residual_last": hidden,
                        "attention_last": {layer: r.attentions[layer][0, :, -1].numpy() for layer in attention_layers}})
    return out


def case_file(folder: Path, prompts: list[list[int]], chunk: int = 3, attention_layers=(1,)) -> Path:
    path = folder / "case.json"
    path.write_text(json.dumps({"prompts": prompts, "chunk": chunk, "attention_layers": list(attention_layers)}))
    return path


def assert_gpt2_parity(got: dict, ref: list[dict], bound: float = BOUND) -> None:
    """The page's logits (full pass and KV-cached), residual rows and attention rows against ref."""
    assert "error" not in got, got.get("error")
    for i, (g, r) in enumerate(zip(got["prompts"], ref, strict=True)):
        for key in ("logits_first", "logits_last"):
            assert np.abs(np.float32(g[key]) - r[key]).max() <= bound, (i, key)
        assert np.abs(np.float32(g["cached_last"]) - r["logits_last"]).max() <= bound, (i, "KV-cached logits")
        assert g["cache_length"] == g["T"]
        for layer, row in enumerate(r["residual_last"]):
            if row is not None:
                assert np.abs(np.float32(g["residual_last"][layer]) - row).max() <= bound, (i, "residual", layer)
        for layer, rows in r["attention_last"].items():
            assert np.abs(np.float32(g["attention_last"][layer]) - rows).max() <= bound, (i, "attention", layer)
