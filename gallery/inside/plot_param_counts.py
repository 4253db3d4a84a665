"""
Parameters and FLOPs per component
==================================

Where do distilgpt2's 82 million and TinyLlama's 1.1 billion parameters sit? This
example builds both architectures on PyTorch's ``meta`` device (shapes only, no
memory, no weights needed), groups the parameters by component, and estimates the
multiply-adds per token of each.

**Run it yourself:** ``pip install llmbook``, then ``python plot_param_counts.py`` (it
writes its figure as an HTML file beside you; the first run downloads the model from the
Hugging Face hub, or uses a labelled stand-in when the hub cannot be reached).
"""

# %%
# Count parameters by component
# -----------------------------
import torch
import plotly.graph_objects as go

from llmbook.figures import show
from llmbook.lm.models import _config, _model_class
from llmbook.lm.specs import get_spec


def component(name: str) -> str:
    for key, label in (("wte", "token embedding"), ("embed_tokens", "token embedding"),
                       ("wpe", "position embedding"), ("attn", "attention"), ("mlp", "feed-forward"),
                       ("ln", "norms"), ("norm", "norms"), ("lm_head", "LM head")):
        if key in name:
            return label
    return "other"


table = {}
for name in ("distilgpt2", "tinyllama"):
    spec = get_spec(name)
    with torch.device("meta"):
        model = _model_class(spec)(_config(spec, {}))
    groups = {}
    for pname, p in model.named_parameters():          # tied weights are counted once
        groups[component(pname)] = groups.get(component(pname), 0) + p.numel()
    table[name] = groups
    total = sum(groups.values())
    print(f"{name}: {total:,} parameters")
    for comp, n in sorted(groups.items(), key=lambda kv: -kv[1]):
        # a matrix of n weights costs about n multiply-adds per token (embeddings are lookups)
        flops = 0 if "embedding" in comp or comp == "norms" else 2 * n
        print(f"  {comp:<20} {n:>14,}  {n / total:6.1%}   ~{flops / 1e6:,.0f} MFLOP/token")

# %%
# Plot the shares
# ---------------
components = sorted({c for g in table.values() for c in g})
fig = go.Figure([go.Bar(name=c, x=list(table), y=[table[m].get(c, 0) / 1e6 for m in table]) for c in components])
fig.update_layout(barmode="stack", yaxis_title="million parameters", title="Parameters by component")
show(fig, "param_counts")
