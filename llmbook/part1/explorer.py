"""Embedding-space explorer: every vocabulary row of a model on a 2-D PCA map.

:func:`embedding_map` projects the input-embedding matrix ``[V, d]`` (50,257 × 768
for distilgpt2, 32,000 × 2,048 for TinyLlama) onto its first two principal
components with scikit-learn. :class:`Explorer` ships the points compactly (two
uint16 per token, base64) with the token strings as JSON inside the page;
``_static/explorer.js`` draws them with WebGL (plotly ``scattergl``), highlights
word groups and finds tokens from a search box.

The data block escapes every ``<``, so no token can end the ``<script>`` it sits
in; explorer.js writes token text with ``textContent`` only. Not handled: other
projections (t-SNE/UMAP), the output (LM head) matrix of untied models.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass

import numpy as np

GROUPS = {
    "months": ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"],
    "weekdays": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "animals": ["cat", "dog", "horse", "cow", "sheep", "lion", "tiger", "bird", "fish", "mouse",
                "rabbit", "bear", "wolf", "fox", "duck", "pig", "goat", "elephant", "monkey", "snake"],
}


def embedding_map(lm) -> tuple[np.ndarray, np.ndarray]:
    """PCA of the input embeddings: (coords [V, 2] float32, explained variance ratio [2])."""
    from sklearn.decomposition import PCA

    emb = lm.model.get_input_embeddings().weight.detach().float().numpy()     # [V, d]
    pca = PCA(n_components=2, svd_solver="randomized", random_state=0)
    xy = pca.fit_transform(emb).astype(np.float32)                            # [V, 2]
    return xy, pca.explained_variance_ratio_


def group_ids(lm, groups: dict[str, list[str]] = GROUPS) -> dict[str, list[int]]:
    """For each group, the ids of its words that are one token (with a leading space / ▁)."""
    out = {}
    for name, words in groups.items():
        ids = []
        for w in words:
            text = w if lm.spec.arch == "llama" else " " + w            # SentencePiece adds ▁ itself
            enc = lm.tokenizer.encode(text, add_special_tokens=False)
            if len(enc) == 1:
                ids.append(int(enc[0]))
        out[name] = ids
    return out


def quantize(xy: np.ndarray) -> tuple[str, list[float]]:
    """[V, 2] floats -> base64 of uint16 pairs (row-major) and the [x0, x1, y0, y1] box."""
    lo, hi = xy.min(0), xy.max(0)
    q = np.round((xy - lo) / np.maximum(hi - lo, 1e-12) * 65535).astype("<u2")   # [V, 2]
    return base64.b64encode(q.tobytes()).decode(), [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])]


def dequantize(b64: str, box: list[float]) -> np.ndarray:
    """Inverse of :func:`quantize` (what explorer.js does), for tests."""
    q = np.frombuffer(base64.b64decode(b64), dtype="<u2").reshape(-1, 2).astype(np.float64) / 65535
    return np.stack([box[0] + q[:, 0] * (box[1] - box[0]), box[2] + q[:, 1] * (box[3] - box[2])], 1)


@dataclass
class Explorer:
    title: str
    tokens: list[str]              # display string of every id
    xy: np.ndarray                 # [V, 2]
    variance: np.ndarray           # [2] explained variance ratio
    groups: dict[str, list[int]]
    is_standin: bool

    @classmethod
    def for_model(cls, lm, title: str) -> "Explorer":
        xy, var = embedding_map(lm)
        tokens = lm.tokens(list(range(xy.shape[0])))
        return cls(title, tokens, xy, var, group_ids(lm), lm.is_standin)

    def data(self) -> dict:
        b64, box = quantize(self.xy)
        return {"title": self.title, "n": len(self.tokens), "xy": b64, "box": box, "tokens": self.tokens,
                "groups": self.groups, "variance": [round(float(v), 4) for v in self.variance],
                "standin": self.is_standin}

    def _repr_html_(self) -> str:
        blob = json.dumps(self.data(), ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
        uid = "ex-" + self.title.lower().replace(" ", "-")
        alt = (f"Scatter plot of all {len(self.tokens):,} tokens of {self.title} by the first two principal "
               f"components of their embeddings, with {', '.join(self.groups)} highlighted.")
        return (
            f'<div class="llmbook-explorer" id="{html.escape(uid, quote=True)}">'
            f'<div class="ex-search"><label for="{uid}-q">Find a token</label> '
            f'<input type="search" id="{uid}-q" class="ex-q" placeholder="e.g. April" autocomplete="off" '
            f'maxlength="100"> <span class="ex-status" aria-live="polite"></span></div>'
            f'<p class="visually-hidden" id="{uid}-alt">{html.escape(alt)}</p>'
            f'<div class="llmbook-plotly"><div class="ex-plot plotly-graph-div" aria-describedby="{uid}-alt" '
            f'style="height:560px"></div></div>'
            f'<noscript>The explorer needs JavaScript.</noscript>'
            f'<script type="application/json" class="ex-data">{blob}</script></div>')
