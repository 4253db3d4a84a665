"""
All the attention heads of a layer
==================================

Each of distilgpt2's 12 heads in a layer attends in its own way. This example
draws every head of one layer as a small heatmap, then measures a well-known
pattern: how much attention each head pays to the *first* token.

**Run it yourself:** ``pip install llmbook``, then ``python plot_attention_heads.py``
(it writes its figure as an HTML file beside you; the first run downloads the model from
the Hugging Face hub, or uses a labelled stand-in when the hub cannot be reached).
"""

# %%
# Capture the attention of every head
# -----------------------------------
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from llmbook import capture, load_model
from llmbook.figures import show, standin_note

lm = load_model("distilgpt2")
tr = capture(lm, "The quick brown fox jumps over the lazy dog because it was", lens=False)
print(standin_note(tr))
layer = 2
attn = tr.attn[layer]                                        # [H, T, T]
H = attn.shape[0]

# %%
# One heatmap per head
# --------------------
fig = make_subplots(rows=3, cols=4, subplot_titles=[f"head {h}" for h in range(H)],
                    horizontal_spacing=0.03, vertical_spacing=0.06)
for h in range(H):
    fig.add_trace(go.Heatmap(z=attn[h], coloraxis="coloraxis"), row=h // 4 + 1, col=h % 4 + 1)
fig.update_yaxes(autorange="reversed", showticklabels=False)
fig.update_xaxes(showticklabels=False)
# one colour axis: the heads share one 0-1 scale and one colour bar
fig.update_layout(title=f"distilgpt2 layer {layer}: all {H} heads", height=620,
                  coloraxis={"colorscale": "Blues", "cmin": 0, "cmax": 1, "colorbar": {"title": "weight"}})
show(fig, "attention_heads")

# %%
# Attention to the first token
# ----------------------------
# Averaged over the query positions after the first, per layer and head.
to_first = tr.attn[:, :, 1:, 0].mean(-1)                     # [L, H]
fig = go.Figure(go.Heatmap(z=to_first, colorscale="Viridis", zmin=0, zmax=1,
                           x=[f"h{h}" for h in range(H)], y=[f"layer {i}" for i in range(len(to_first))]))
fig.update_layout(title="Mean attention paid to token 0", yaxis_autorange="reversed")
print("heads that put > 50% on token 0:", int((to_first > 0.5).sum()), "of", to_first.size)
show(fig, "attention_to_first_token")
