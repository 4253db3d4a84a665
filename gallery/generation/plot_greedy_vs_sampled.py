"""
Greedy vs sampled generation, and repetition
============================================

Always taking the most likely token (greedy decoding) is deterministic, and tends
to loop. Sampling with a temperature trades some coherence for variety. This
example generates with distilgpt2 both ways and measures repetition as the share
of repeated 3-grams.

**Run it yourself:** ``pip install llmbook``, then ``python plot_greedy_vs_sampled.py``
(it writes its figure as an HTML file beside you; the first run downloads the model from
the Hugging Face hub, or uses a labelled stand-in when the hub cannot be reached).
"""

# %%
# Generate
# --------
import plotly.graph_objects as go

from llmbook import Sampling, capture, load_model
from llmbook.figures import show, standin_note

lm = load_model("distilgpt2")
prompt = "In the beginning"
runs = {"greedy": Sampling()}
runs.update({f"T={t}": Sampling(temperature=t, seed=s) for t, s in ((0.7, 1), (1.0, 1), (1.3, 1))})


def repeated_trigrams(ids):
    grams = [tuple(ids[i:i + 3]) for i in range(len(ids) - 2)]
    return 1 - len(set(grams)) / max(len(grams), 1)


scores = {}
for name, sampling in runs.items():
    tr = capture(lm, prompt, max_new_tokens=40, sampling=sampling, lens=False, check=False, keep=set())
    scores[name] = repeated_trigrams(tr.generated_ids)
    print(f"{name:>7} ({scores[name]:.0%} repeated 3-grams): {prompt}{''.join(tr.generated_tokens)!r}")
print(standin_note(lm))

# %%
# Repetition by setting
# ---------------------
fig = go.Figure(go.Bar(x=list(scores), y=list(scores.values())))
fig.update_layout(title="Share of repeated 3-grams in 40 generated tokens", yaxis_tickformat=".0%")
show(fig, "greedy_vs_sampled")
