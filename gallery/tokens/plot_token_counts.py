"""
Tokens per text: the book's BPE, GPT-2 and Llama
================================================

Three tokenizers cut the same texts into pieces: the book's own byte-level BPE
(768 tokens, learned on Shakespeare), GPT-2's byte-level BPE (50,257) and Llama's
SentencePiece model (32,000). This example counts the pieces for English, code,
Chinese and emoji, and prints how one text splits.

**Run it yourself:** ``pip install llmbook``, then ``python plot_token_counts.py`` (it
writes its figure as an HTML file beside you; the first run downloads the model from the
Hugging Face hub, or uses a labelled stand-in when the hub cannot be reached).
"""

# %%
# Learn a small BPE and load the two published tokenizers
# ---------------------------------------------------------
# The book's BPE is learned here on the first 300 kB of the plays (a few seconds);
# the published tokenizers need no model weights.
from llmbook.tiny import bpe
from llmbook.tiny.corpus import corpus
from llmbook.figures import show
from llmbook.lm.specs import get_spec
from llmbook.lm.tokenizers import display_tokens, offline_tokenizer

import plotly.graph_objects as go

merges = bpe.train(corpus()["train"][:300_000].encode("utf-8"), 512)
published = {name: offline_tokenizer(get_spec(name)) for name in ("distilgpt2", "tinyllama")}
texts = {
    "English": "To be, or not to be, that is the question.",
    "Code": "def add(a, b):\n    return a + b",
    "Chinese": "今天天气很好",
    "Emoji": "I love 🍕 and 🎉!",
}
counts = {"book BPE (768)": [len(bpe.encode(t, merges)) for t in texts.values()]}
for name, tok in published.items():
    counts[f"{name} ({len(tok):,})"] = [len(tok.encode(t, add_special_tokens=False)) for t in texts.values()]
for name, tok in published.items():
    print(name, display_tokens(tok, tok.encode(texts["Emoji"], add_special_tokens=False)))

# %%
# Count the tokens
# ----------------
fig = go.Figure([go.Bar(name=name, x=list(texts), y=n) for name, n in counts.items()])
fig.update_layout(barmode="group", yaxis_title="tokens", title="Tokens per text, three tokenizers")
show(fig, "token_counts")
