"""
Temperature, top-k and top-p
============================

After the model's last layer comes a choice. This example takes one real
next-token distribution from distilgpt2 and shows what temperature, top-k and
top-p (nucleus) sampling do to it.

**Run it yourself:** ``pip install llmbook``, then ``python plot_sampling.py`` (it
writes its figure as an HTML file beside you; the first run downloads the model from the
Hugging Face hub, or uses a labelled stand-in when the hub cannot be reached).
"""

# %%
# One next-token distribution
# ---------------------------
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from llmbook import capture, load_model
from llmbook.lm.capture import Sampling, _distribution
from llmbook.figures import show, standin_note

lm = load_model("distilgpt2")
tr = capture(lm, "The best thing about summer is", lens=False)
print(standin_note(tr))
logits = torch.from_numpy(tr.logits[-1])
order = logits.argsort(descending=True)[:20]
labels = [repr(lm.tokens([int(i)])[0]) for i in order]

# %%
# The same logits, four ways
# --------------------------
settings = {"temperature 1": Sampling(1.0), "temperature 0.5": Sampling(0.5),
            "top-k 5": Sampling(1.0, top_k=5), "top-p 0.5": Sampling(1.0, top_p=0.5)}
fig = make_subplots(rows=2, cols=2, subplot_titles=list(settings), shared_yaxes=True)
for k, (name, s) in enumerate(settings.items()):
    p = _distribution(logits, s)[order].numpy()
    print(f"{name:>16}: {int((_distribution(logits, s) > 0).sum()):>6} tokens can be drawn; top p = {p[0]:.3f}")
    fig.add_trace(go.Bar(x=labels, y=p, showlegend=False), row=k // 2 + 1, col=k % 2 + 1)
fig.update_layout(title="The 20 most likely next tokens under each setting", height=620)
show(fig, "sampling")
