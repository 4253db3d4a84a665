"""The logit lens: read a next-token distribution off the residual stream after each layer.

Each residual ``residual[l]`` goes through the model's *own* final norm and LM head
(the modules themselves, not a copy of their maths), so the last row is exactly the
model's output and the earlier rows show the answer forming. Not handled: tuned
lenses (learned per-layer probes).
"""

from __future__ import annotations

import numpy as np


def final_norm_module(lm):
    m = lm.model
    return m.transformer.ln_f if lm.spec.arch == "gpt2" else m.model.norm


def logit_lens(lm, residual: np.ndarray, k: int = 10) -> dict[str, np.ndarray]:
    """Top-k per layer and position, and each layer's probability of the final answer.

    residual: [L+1, T, d]. Returns ``lens_top_ids`` [L+1, T, k] (int32),
    ``lens_top_probs`` [L+1, T, k] and ``lens_final_prob`` [L+1, T]: the probability
    each layer gives to the token the last layer ranks first at that position.
    """
    import torch

    dtype = next(lm.model.parameters()).dtype
    norm, head = final_norm_module(lm), lm.model.lm_head
    ids, vals, answer = [], [], None
    per_layer = []
    with torch.no_grad():
        for layer in range(residual.shape[0] - 1, -1, -1):       # last first: it fixes the answer
            x = torch.from_numpy(np.ascontiguousarray(residual[layer])).to(dtype)  # [T, d]
            probs = torch.softmax(head(norm(x)).float(), dim=-1)                   # [T, V]
            if answer is None:
                answer = probs.argmax(dim=-1)                                      # [T]
            top = probs.topk(k, dim=-1)
            ids.append(top.indices.to(torch.int32).numpy())
            vals.append(top.values.numpy())
            per_layer.append(probs.gather(-1, answer[:, None])[:, 0].numpy())
    return {"lens_top_ids": np.stack(ids[::-1]),          # one layer's probs in memory at a time
            "lens_top_probs": np.stack(vals[::-1]),
            "lens_final_prob": np.stack(per_layer[::-1])}
