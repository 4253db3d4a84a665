"""
Positions: sinusoidal, learned, and RoPE
========================================

Attention has no built-in sense of order. GPT-2 *adds* a learned vector per
position; the original Transformer added fixed sines and cosines; Llama *rotates*
queries and keys by an angle that grows with the position (RoPE). This example
shows all three from the models' own definitions.

**Run it yourself:** ``pip install llmbook``, then ``python plot_positions.py`` (it
writes its figure as an HTML file beside you; the first run downloads the model from the
Hugging Face hub, or uses a labelled stand-in when the hub cannot be reached).
"""

# %%
# Learned vs sinusoidal
# ---------------------
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from llmbook import load_model
from llmbook.figures import show, standin_note
from llmbook.tiny.figures import sinusoidal

lm = load_model("distilgpt2")
print(standin_note(lm))
learned = lm.model.transformer.wpe.weight.detach().numpy()[:64, :128]       # [64 positions, 128 dims]
fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                    subplot_titles=("distilgpt2 learned (first 128 dims)", "sinusoidal"))
# two different ranges, so two colour bars, each beside its own panel
left_bar = {"x": fig.layout.xaxis.domain[1] + 0.01, "thickness": 10, "len": 0.9}
fig.add_trace(go.Heatmap(z=learned, colorscale="RdBu_r", zmid=0, colorbar=left_bar), row=1, col=1)
fig.add_trace(go.Heatmap(z=sinusoidal(64, 128), colorscale="RdBu_r", zmid=0, colorbar={"thickness": 10, "len": 0.9}),
              row=1, col=2)
fig.update_yaxes(autorange="reversed", title_text="position", row=1, col=1)
fig.update_layout(title="Position embeddings, added to the token embeddings")
show(fig, "positions")

# %%
# RoPE: each pair of dimensions turns at its own speed
# ------------------------------------------------------
# TinyLlama's head dimension is 64, so 32 pairs; pair i turns by
# position / theta^(2i/64) radians, theta = 10000 (from the model's config).
theta, dh = 10000.0, 64
inv_freq = 1.0 / theta ** (np.arange(0, dh, 2) / dh)
positions = np.arange(0, 33)
fig = go.Figure()
for i in (0, 4, 12, 31):
    angle = positions * inv_freq[i]
    fig.add_trace(go.Scatter(x=np.cos(angle), y=np.sin(angle), mode="lines+markers", name=f"pair {i}",
                             text=[f"position {p}" for p in positions]))
fig.update_layout(title="Where RoPE turns a unit vector, positions 0 to 32", xaxis_range=[-1.1, 1.1],
                  yaxis_range=[-1.1, 1.1], yaxis_scaleanchor="x", height=560)
print("pair 0 turns", round(float(inv_freq[0]), 3), "rad per position; pair 31 turns", f"{inv_freq[31]:.2e}")
show(fig, "rope")
