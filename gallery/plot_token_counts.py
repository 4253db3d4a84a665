"""
Tokens per text: GPT-2 vs Llama
===============================

The two models in this book cut text into tokens differently: GPT-2 uses a
byte-level BPE with 50,257 entries, Llama a SentencePiece model with 32,000. This
example runs both real tokenizers over a few texts and counts the pieces.
"""

# %%
# Tokenize a few texts with both tokenizers
# -----------------------------------------
# The tokenizers are the published ones; they need no model weights.
import plotly.graph_objects as go

from llmbook.specs import get_spec
from llmbook.tokenizers import display_tokens, offline_tokenizer

texts = {
    "English": "January, February, March,",
    "Code": "def add(a, b):\n    return a + b",
    "Chinese": "今天天气很好",
    "Emoji": "I love 🍕 and 🎉!",
}
tokenizers = {name: offline_tokenizer(get_spec(name)) for name in ("distilgpt2", "tinyllama")}
counts = {name: [len(tok.encode(t, add_special_tokens=False)) for t in texts.values()]
          for name, tok in tokenizers.items()}
for name, tok in tokenizers.items():
    print(name, display_tokens(tok, tok.encode(texts["Emoji"], add_special_tokens=False)))

# %%
# Count the tokens
# ----------------
fig = go.Figure([go.Bar(name=name, x=list(texts), y=n) for name, n in counts.items()])
fig.update_layout(barmode="group", yaxis_title="tokens", title="Tokens per text")
fig
