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

    @property
    def variance_pct(self) -> list[str]:
        """Explained variance of each axis in percent, to the two significant digits the axis titles and the text
        both show (e.g. "0.15", "12")."""
        return [two_digits(100 * float(v)) for v in self.variance]

    def spread(self) -> dict[str, float]:
        """Each group's spread on the map over the whole vocabulary's (1 = no tighter than random tokens)."""
        whole = float(self.xy.std(0).mean())
        return {name: float(self.xy[ids].std(0).mean()) / whole for name, ids in self.groups.items() if len(ids) > 1}

    def chance_spread(self, n: int, quantile: float = 0.05, draws: int = 2000, seed: int = 0) -> float:
        """The spread that only ``quantile`` of random groups of ``n`` tokens fall below (seeded draws)."""
        rng = np.random.default_rng(seed)
        whole = float(self.xy.std(0).mean())
        spreads = [float(self.xy[rng.choice(len(self.xy), n, replace=False)].std(0).mean()) / whole
                   for _ in range(draws)]
        return float(np.quantile(spreads, quantile))

    def data(self) -> dict:
        b64, box = quantize(self.xy)
        return {"title": self.title, "n": len(self.tokens), "xy": b64, "box": box, "tokens": self.tokens,
                "groups": self.groups, "variance": self.variance_pct,   # JS prints these strings as they are
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


def two_digits(x: float) -> str:
    """A number to two significant digits, as text ("0.15", "1.3", "12")."""
    return f"{x:.2g}" if abs(x) < 10 else f"{x:.0f}"


def nearest(lm, word: str, k: int = 6) -> list[tuple[str, float]]:
    """The ``k`` tokens whose input embeddings have the highest cosine similarity with ``word``'s (one token)."""
    emb = lm.model.get_input_embeddings().weight.detach().float().numpy()     # [V, d]
    ids = group_ids(lm, {"w": [word]})["w"]
    if not ids:
        raise ValueError(f"{word!r} is not a single token")
    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)  # [V, d]
    cos = unit @ unit[ids[0]]                                                 # [V]
    cos[ids[0]] = -np.inf
    top = np.argsort(-cos)[:k]
    return list(zip(lm.tokens([int(i) for i in top]), [float(cos[i]) for i in top]))


def vocab_stats(tokens: list[str]) -> dict:
    """How a vocabulary's display strings look: word-initial pieces (leading space), pure digits, single characters."""
    n = len(tokens)
    return {"n": n, "word_start": sum(t[:1] == " " for t in tokens) / n,
            "digits": sum(t.strip().isdigit() for t in tokens),
            "single_char": sum(len(t.strip()) == 1 for t in tokens)}


def digit_pieces(lm, tokens: list[str]) -> dict:
    """Where a vocabulary's number tokens come from: plain ASCII digit strings, byte pieces, other Unicode digits."""
    raw = lm.tokenizer.convert_ids_to_tokens(list(range(len(tokens))))
    numeric = [i for i, t in enumerate(tokens) if t.strip().isdigit()]
    byte = [i for i in numeric if raw[i].startswith("<0x")]
    ascii_ = [i for i in numeric if tokens[i].strip().isascii() and i not in byte]
    return {"digit_bytes": len(byte), "digit_ascii": len(ascii_), "digit_other": len(numeric) - len(byte) - len(ascii_),
            "digit_other_examples": " ".join(tokens[i].strip() for i in numeric if i not in byte and i not in ascii_)[:40],
            "byte_pieces": sum(r.startswith("<0x") for r in raw)}


def page_numbers(lm, ex: Explorer, probe: str = "Monday") -> dict:
    """Everything an embedding page quotes: sizes, variance, group counts and spreads, vocabulary shape, neighbours."""
    V, d = lm.model.get_input_embeddings().weight.shape
    v1, v2 = ex.variance_pct
    out = {"V": int(V), "d": int(d), "v1": v1, "v2": v2, "v_random": two_digits(100 / int(d)), "probe": probe,
           "tied": bool(lm.head_is_tied), **{f"vocab_{k}": v for k, v in vocab_stats(ex.tokens).items()}}
    out.update({f"n_{name}": len(ids) for name, ids in ex.groups.items()})
    out.update({f"spread_{name}": s for name, s in ex.spread().items()})
    out.update({f"chance_{name}": ex.chance_spread(len(ids)) for name, ids in ex.groups.items() if len(ids) > 1})
    out.update({f"words_{name}": ", ".join(ex.tokens[i].strip() for i in ids) for name, ids in ex.groups.items()})
    out.update(digit_pieces(lm, ex.tokens))
    out["neighbours"] = ", ".join(f"{t!r} ({c:.2f})" for t, c in nearest(lm, probe))
    return out
