"""
The KV cache, measured
======================

Generating token *n* needs the keys and values of all *n − 1* tokens before it. A
KV cache keeps them, so each step processes one new token; without it, every step
re-runs the whole sequence. This example times both on distilgpt2 as the sequence
grows.

**Run it yourself:** ``pip install llmbook``, then ``python plot_kv_cache.py`` (it
writes its figure as an HTML file beside you; the first run downloads the model from the
Hugging Face hub, or uses a labelled stand-in when the hub cannot be reached).
"""

# %%
# Time one generation step at several lengths
# --------------------------------------------
import time

import plotly.graph_objects as go
import torch
from transformers import DynamicCache

from llmbook import load_model
from llmbook.figures import show, standin_note

lm = load_model("distilgpt2")
print(standin_note(lm))
model = lm.model
ids = torch.tensor([lm.encode("Once upon a time " * 40)[:160]])      # [1, 160]


def with_cache(n: int) -> float:
    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        model(ids[:, :n - 1], cache=cache, use_cache=True)   # the prefix, cached
        start = time.perf_counter()
        model(ids[:, n - 1:n], cache=cache, use_cache=True)  # one new token
    return time.perf_counter() - start


def without_cache(n: int) -> float:
    with torch.no_grad():
        start = time.perf_counter()
        model(ids[:, :n])                                              # everything again
    return time.perf_counter() - start


lengths = [8, 16, 32, 64, 96, 128, 160]
best = lambda f, n: min(f(n) for _ in range(3))                        # noqa: E731
cached = [best(with_cache, n) * 1e3 for n in lengths]
full = [best(without_cache, n) * 1e3 for n in lengths]
for n, a, b in zip(lengths, cached, full):
    print(f"token {n:>3}: {a:6.1f} ms with the cache, {b:6.1f} ms without ({b / a:4.1f}x)")

# %%
# Plot
# ----
fig = go.Figure([go.Scatter(x=lengths, y=full, name="no cache: recompute all", mode="lines+markers"),
                 go.Scatter(x=lengths, y=cached, name="KV cache: one new token", mode="lines+markers")])
fig.update_layout(title="Time to produce the next token", xaxis_title="sequence length",
                  yaxis_title="milliseconds")
show(fig, "kv_cache")
