"""
The logit lens on a prompt of your own
======================================

The residual stream after every block can be read as a next-token guess by sending
it through the model's final norm and LM head. This example captures a distilgpt2
pass over a prompt and shows, for each position, how much probability each layer
gives to the token the model finally predicts there.

**Run it yourself:** ``pip install llmbook``, then ``python plot_logit_lens.py`` (it
writes its figure as an HTML file beside you; the first run downloads the model from the
Hugging Face hub, or uses a labelled stand-in when the hub cannot be reached).
"""

# %%
# Capture a pass
# --------------
# Change ``prompt`` to anything. Without the published weights a labelled stand-in
# runs instead: the mechanics are real, the probabilities are not meaningful.
import plotly.graph_objects as go

from llmbook import capture, load_model
from llmbook.figures import show, standin_note, token_labels

prompt = "The Eiffel Tower is in the city of"
lm = load_model("distilgpt2")
tr = capture(lm, prompt)
print(standin_note(tr))
final = tr.logits.argmax(-1)
for pos, (tok, nxt) in enumerate(zip(tr.tokens, final)):
    print(f"after {tok!r:>10}: predicts {tr.token_str(int(nxt))!r}")

# %%
# Probability of the final answer, layer by layer
# -----------------------------------------------
layers = ["embeddings"] + [f"block {i}" for i in range(tr.config["n_layers"])]
fig = go.Figure(go.Heatmap(z=tr.lens_final_prob, x=token_labels(tr.tokens), y=layers, colorscale="Viridis",
                           hovertemplate="%{y}, after %{x}: p = %{z:.3f}<extra></extra>"))
fig.update_layout(title="Logit lens: p(final prediction) after each layer", yaxis_autorange="reversed")
show(fig, "logit_lens")
