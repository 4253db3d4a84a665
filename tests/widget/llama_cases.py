"""Llama checkpoints and prompts for the in-page Llama engine's tests, with PyTorch's answers.

``llama-check.mjs`` runs a case (prompts as ids) through ``_static/tinylm/engines/llama.js`` under
Node; :func:`reference` is what ``transformers``' LlamaForCausalLM computes in float32 (eager
attention) from the same bfloat16 file; :func:`max_deltas` measures the gap.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import torch

BOUND = 1e-4          # max |Δ| on logits (the issue's) and on every intermediate compared
SMALL = {"vocab_size": 32000, "hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 3,
         "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "max_position_embeddings": 512,
         "rope_theta": 10000.0, "rms_norm_eps": 1e-5}
ENGINE_CONFIG = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                 "num_key_value_heads", "head_dim", "rope_theta", "rms_norm_eps", "max_position_embeddings")


TEXTS = ["Name three primary colors.", "Emoji 🦙🔥 and CJK 漢字かな한글 in one prompt: 👩‍👩‍👧 ありがとう"]


def case_prompts() -> list[list[int]]:
    """The cases' prompts as TinyLlama's tokenizer gives them: plain, emoji and CJK (byte fallback),
    a chat-templated CJK question, and the lone <s>."""
    from llmbook.lm.specs import get_spec
    from llmbook.lm.tokenizers import encode_prompt, offline_tokenizer

    spec = get_spec("tinyllama")
    tok = offline_tokenizer(spec)
    ids = [encode_prompt(spec, tok, TEXTS[0]), encode_prompt(spec, tok, TEXTS[1]),
           encode_prompt(spec, tok, "你好，羊驼 🦙 能说中文吗？", chat=True), [1]]
    assert ids[0] == [1, 4408, 2211, 7601, 11955, 29889]             # CONTRACTS §2
    assert any(i < 259 for i in ids[1][1:])                          # byte-fallback pieces (emoji) are in play
    return ids


def random_llama(path: Path, config: dict = SMALL, seed: int = 0, dtype=torch.bfloat16) -> Path:
    """A Llama whose every tensor is random (norm weights around 1), saved as the hub saves
    TinyLlama: ``model.``-prefixed names, an untied ``lm_head.weight``, bfloat16; config.json beside it."""
    from safetensors.torch import save_file
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**config, tie_word_embeddings=False))
    tensors = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.2 if p.ndim == 1 else 0.08) + (1.0 if "norm" in name else 0.0))
            tensors[name] = p.detach().to(dtype).contiguous()
    save_file(tensors, str(path), metadata={"format": "pt"})
    LlamaConfig(**config, tie_word_embeddings=False).save_pretrained(path.parent)   # config.json
    return path


def load_reference_model(path: Path):
    """LlamaForCausalLM on ``path`` in float32 (widened from its dtype), eager attention."""
    from transformers import LlamaForCausalLM

    folder = path.parent / (path.stem + "-hf")
    folder.mkdir(exist_ok=True)
    for name, target in (("model.safetensors", path), ("config.json", path.parent / "config.json")):
        (folder / name).unlink(missing_ok=True)
        (folder / name).symlink_to(target.resolve())
    return LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()


def reference(model, prompts: list[list[int]], rope_layer: int = 1) -> list[dict]:
    """Per prompt: all logits [T, V], residual rows entering each layer and leaving the last [L+1, T, d],
    the final norm [T, d], attention [L, H, T, T], one layer's q, k after RoPE ([T, H·hd], [T, KV·hd])
    and its feed-forward output (down_proj's, [T, d]), and the logit lens of the residual entering layer 1, row 0 [V]."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    layers, out = model.model.layers, []
    with torch.no_grad():
        for ids in prompts:
            leaving, down = [], []
            hooks = [layers[-1].register_forward_hook(lambda mod, i, o: leaving.append(o[0] if isinstance(o, tuple) else o)),
                     layers[rope_layer].mlp.register_forward_hook(lambda mod, i, o: down.append(o[0]))]
            try:
                r = model(torch.tensor([ids]), output_hidden_states=True, output_attentions=True)
            finally:
                for hook in hooks:
                    hook.remove()
            residual = [h[0] for h in r.hidden_states[:-1]] + [leaving[0][0]]
            attn = layers[rope_layer].self_attn
            h = layers[rope_layer].input_layernorm(r.hidden_states[rope_layer])
            T, hd = len(ids), attn.head_dim
            q = attn.q_proj(h).view(1, T, -1, hd).transpose(1, 2)
            k = attn.k_proj(h).view(1, T, -1, hd).transpose(1, 2)
            cos, sin = model.model.rotary_emb(h, torch.arange(T)[None])
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            lens = model.lm_head(model.model.norm(r.hidden_states[1][0, :1]))[0]      # the logit lens on layer 1's input, row 0
            out.append({"logits": r.logits[0].numpy(), "residual": torch.stack(residual).numpy(), "lens": lens.numpy(),
                        "norm": r.hidden_states[-1][0].numpy(), "attention": torch.cat(r.attentions).numpy(),
                        "q": q[0].transpose(0, 1).reshape(T, -1).numpy(), "k": k[0].transpose(0, 1).reshape(T, -1).numpy(),
                        "down": down[0].numpy()})
    return out


def case_file(folder: Path, prompts: list[list[int]], chunks=(3,), rope_layer: int = 1, config: bool = True) -> Path:
    path = folder / "case.json"
    path.write_text(json.dumps({"prompts": prompts, "chunks": list(chunks), "rope_layer": rope_layer,
                                "config": json.loads((folder / "config.json").read_text()) if config else None}))
    return path


def f32(b64: str, shape=None) -> np.ndarray:
    a = np.frombuffer(base64.b64decode(b64), dtype=np.float32)
    return a.reshape(shape) if shape is not None else a


def max_deltas(got: dict, ref: list[dict]) -> dict[str, float]:
    """Worst |Δ| over all prompts, per quantity: full-pass logits, each chunking's KV-cached logits,
    residual, final norm, attention, RoPE'd q and k, one layer's down_proj output, the logit lens."""
    assert "error" not in got, got.get("error")
    worst: dict[str, float] = {}

    def note(key, a, b):
        assert a.shape == b.shape, (key, a.shape, b.shape)
        worst[key] = max(worst.get(key, 0.0), float(np.abs(a - b).max()))

    for g, r in zip(got["prompts"], ref, strict=True):
        T, V = r["logits"].shape
        note("logits", f32(g["logits"], (T, V)), r["logits"])
        for chunk, cached in g["cached"].items():
            note(f"logits, KV cache in chunks of {chunk}", f32(cached["logits"], (T, V)), r["logits"])
            note(f"last row, KV cache in chunks of {chunk}, logits 'last'", f32(cached["last"]), r["logits"][-1])
            assert cached["cache_length"] == T
        note("residual", f32(g["residual"], r["residual"].shape), r["residual"])
        note("final norm", f32(g["norm"], r["norm"].shape), r["norm"])
        note("attention", f32(g["attention"], r["attention"].shape), r["attention"])
        note("q after RoPE", f32(g["q"], r["q"].shape), r["q"])
        note("k after RoPE", f32(g["k"], r["k"].shape), r["k"])
        if "lens" in g:
            note("logit lens", f32(g["lens"]), r["lens"])
        note("down_proj output", f32(g["down"], r["down"].shape), r["down"])
    return worst
