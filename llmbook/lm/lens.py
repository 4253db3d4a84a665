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


def logit_lens(lm, residual: np.ndarray, k: int = 10, answer: np.ndarray | None = None,
               chunk_rows: int = 256) -> dict[str, np.ndarray]:
    """Top-k per layer and position, and each layer's probability of the final answer.

    residual: [L+1, T, d]. ``answer`` [T]: the token the model finally ranks first
    at each position (default: read off the last layer). Rows of all layers go
    through the head together, ``chunk_rows`` at a time: the head's weights are
    read once per chunk, not once per layer, and memory stays bounded.
    Returns ``lens_top_ids`` [L+1, T, k] (int32), ``lens_top_probs`` [L+1, T, k],
    ``lens_final_prob`` [L+1, T].
    """
    import torch

    n, T, d = residual.shape
    dtype = next(lm.model.parameters()).dtype
    norm, head = final_norm_module(lm), lm.model.lm_head
    rows = torch.from_numpy(np.ascontiguousarray(residual).reshape(n * T, d)).to(dtype)  # [(L+1)*T, d]
    with torch.no_grad():
        if answer is None:
            answer = head(norm(rows[-T:])).argmax(-1).numpy()
        want = torch.from_numpy(np.tile(np.asarray(answer), n))[:, None]               # [(L+1)*T, 1]
        ids, vals, final = [], [], []
        for start in range(0, n * T, chunk_rows):
            probs = torch.softmax(head(norm(rows[start:start + chunk_rows])).float(), dim=-1)
            top = probs.topk(k, dim=-1)
            ids.append(top.indices.to(torch.int32))
            vals.append(top.values)
            final.append(probs.gather(-1, want[start:start + chunk_rows])[:, 0])
    return {"lens_top_ids": torch.cat(ids).reshape(n, T, k).numpy(),
            "lens_top_probs": torch.cat(vals).reshape(n, T, k).numpy(),
            "lens_final_prob": torch.cat(final).reshape(n, T).numpy()}
