"""
The embedding space of a freshly trained tiny model
===================================================

After a short training run, do similar tokens get similar embedding rows? This
example trains the tiny transformer briefly, measures how far the rows moved (even
the rows of tokens the text never contains move, because the LM head is tied to the
embedding table), then projects the used tokens' 64-dimensional embeddings to 2-D
with PCA and colours them by kind.

**Run it yourself:** ``pip install llmbook``, then ``python plot_tiny_embeddings.py``
(it writes its figure as an HTML file beside you; the first run downloads the model from
the Hugging Face hub, or uses a labelled stand-in when the hub cannot be reached).
"""

# %%
# Train briefly
# -------------
import numpy as np
import plotly.graph_objects as go
from sklearn.decomposition import PCA

from llmbook.tiny import bpe
from llmbook.tiny.corpus import corpus
from llmbook.figures import show
from llmbook.tiny import TinyConfig, TinyTransformer, TrainConfig, train
from llmbook.tiny.figures import labels_for

text = corpus()["train"][:1_000_000]
merges = bpe.train(text.encode(), 256)
ids = np.array(bpe.encode(text, merges), dtype=np.uint16)
model = TinyTransformer(TinyConfig(vocab_size=256 + len(merges), context_len=64, d_model=64, n_heads=4, n_layers=2))
before = model.tok_emb.detach().numpy().copy()                        # [V, d] at initialisation
train(model, ids, ids, TrainConfig(steps=300, eval_every=300, eval_batches=2))

# %%
# Rows of tokens the text never uses move too
# -------------------------------------------
# The LM head is tied: logits = LN_f(x) @ tok_embᵀ, so every row of ``tok_emb`` is
# also an output vector, and the softmax over the *whole* vocabulary gives every row a
# gradient at every position. For a token that never occurs, that gradient is
# p(token) × LN_f(x) summed over positions (never offset by being the right answer), so
# training pushes all such rows the same way: away from the model's typical final
# state, which makes their probability fall. The numbers below compare how far rows moved,
# and how much the moves of different rows point in the same direction.
labels = labels_for(merges)
used = np.flatnonzero(np.bincount(ids, minlength=len(labels)) > 0)
unused = np.setdiff1d(np.arange(len(labels)), used)
moved = model.tok_emb.detach().numpy() - before                       # [V, d]


def mean_cosine(rows: np.ndarray) -> float:
    """Mean cosine similarity between the moves of distinct rows: 1 = all moved the same way."""
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    sims = unit @ unit.T                                              # [n, n]
    n = len(rows)
    return float((sims.sum() - n) / (n * (n - 1)))


for name, rows in (("used", used), ("never used", unused)):
    print(f"{name:>10}: {len(rows)} rows, mean distance moved {np.linalg.norm(moved[rows], axis=1).mean():.3f}, "
          f"mean cosine between their moves {mean_cosine(moved[rows]):+.2f}")

# %%
# Project to 2-D
# --------------
# Only tokens that occur in the text are drawn: the never-used rows moved together,
# as one clump, and would take over the projection's two axes.
xy = PCA(n_components=2, random_state=0).fit_transform(model.tok_emb.detach().numpy()[used])
kind = ["punctuation" if not any(ch.isalnum() for ch in labels[i]) else
        "capitals" if labels[i].strip("␣↵").isupper() else
        "ends in space" if labels[i].endswith("␣") else "other" for i in used]
fig = go.Figure([go.Scattergl(x=xy[np.array(kind) == k, 0], y=xy[np.array(kind) == k, 1], mode="markers", name=k,
                              text=[labels[i] for i, kk in zip(used, kind) if kk == k],
                              hovertemplate="%{text}<extra></extra>") for k in sorted(set(kind))])
fig.update_layout(title=f"{len(used)} token embeddings, PCA to 2-D", height=560)
print({k: kind.count(k) for k in sorted(set(kind))})
show(fig, "tiny_embeddings")
