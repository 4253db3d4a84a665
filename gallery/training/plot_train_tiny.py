"""
Train the tiny transformer on Shakespeare
=========================================

The whole of Part II's model in a minute of CPU: learn a byte-level BPE on the
plays, encode them, train a two-layer transformer with AdamW, and watch the loss
fall below what token frequencies alone can explain.

**Run it yourself:** ``pip install llmbook``, then ``python plot_train_tiny.py`` (it
writes its figure as an HTML file beside you; the first run downloads the model from the
Hugging Face hub, or uses a labelled stand-in when the hub cannot be reached).
"""

# %%
# Tokenizer and data
# ------------------
# A smaller run than the book's (fewer merges and steps) so it fits in a minute.
import numpy as np
import plotly.graph_objects as go

from llmbook.tiny import bpe
from llmbook.tiny.corpus import corpus
from llmbook.figures import show
from llmbook.tiny import TinyConfig, TinyTransformer, TrainConfig, train, unigram_loss

text = corpus()
merges = bpe.train(text["train"][:1_000_000].encode(), 256)
train_ids = np.array(bpe.encode(text["train"][:1_000_000], merges), dtype=np.uint16)
val_ids = np.array(bpe.encode(text["val"][:200_000], merges), dtype=np.uint16)
print(f"{len(merges)} merges; {len(train_ids):,} training tokens, {len(val_ids):,} validation tokens")

# %%
# Train
# -----
model = TinyTransformer(TinyConfig(vocab_size=256 + len(merges), context_len=64, d_model=64, n_heads=4, n_layers=2))
history = train(model, train_ids, val_ids, TrainConfig(steps=400, eval_every=50, eval_batches=4))
baseline = unigram_loss(train_ids, val_ids, model.config.vocab_size)
print(f"{history.seconds:.0f} s, {history.tokens_per_second:,.0f} tokens/s; "
      f"val loss {history.val_loss[-1]:.3f} vs unigram {baseline:.3f}")

# %%
# The loss curve
# --------------
fig = go.Figure([go.Scatter(x=history.steps, y=history.train_loss, name="train"),
                 go.Scatter(x=history.steps, y=history.val_loss, name="validation")])
fig.add_hline(y=np.log(model.config.vocab_size), line_dash="dash", annotation_text="uniform guess")
fig.add_hline(y=baseline, line_dash="dot", annotation_text="token frequencies only")
fig.update_layout(title="Training the tiny transformer", xaxis_title="step", yaxis_title="loss (nats/token)")
show(fig, "train_tiny")
