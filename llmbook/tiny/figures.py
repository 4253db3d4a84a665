"""Plotly figures of the tiny model's real numbers, for Part II's chapters.

Every function takes arrays computed from the trained checkpoint (or its build
log) and only arranges them; none invents a value. Colour scales for weights are
diverging and symmetric around zero, fixed per figure so frames compare.
Not handled: models with more than a few hundred tokens of context (figures
would be unreadable).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..figures import animate, scrub  # (importing llmbook.figures selects the offline renderer)
from .bpe import vocab_bytes

DIVERGING = "RdBu_r"
CONTROL_NAMES = ("NUL SOH STX ETX EOT ENQ ACK BEL BS TAB LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK "
                 "SYN ETB CAN EM SUB ESC FS GS RS US").split()


def _layout(fig, title: str, height: int = 420, **kw):
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=60, b=10),
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)", **kw)
    return fig


def token_label(b: bytes) -> str:
    """A token's bytes as readable text: control bytes by name, spaces as ␣, newlines as ↵."""
    if len(b) == 1 and (b[0] < 32 or b[0] == 127):
        return "DEL" if b[0] == 127 else CONTROL_NAMES[b[0]]
    text = b.decode("utf-8", errors="backslashreplace")
    return text.replace(" ", "␣").replace("\n", "↵")


def labels_for(merges) -> list[str]:
    return [token_label(b) for b in vocab_bytes(merges)]


def _sym(*arrays) -> float:
    return float(max(np.abs(a).max() for a in arrays)) or 1.0


# --- BPE ----------------------------------------------------------------------------

def merge_animation(log: list[dict], merges, every: int = 1) -> go.Figure:
    """Top remaining pair counts before each merge, one frame per merge, with a slider."""
    labels = labels_for(merges)
    steps = list(range(0, len(log), every))

    def bars(step):
        top = log[step]["top"]
        names = [f"{labels[a]}+{labels[b]}" for a, b, _ in top][::-1]
        return go.Bar(x=[c for *_, c in top][::-1], y=names, orientation="h", marker_color="#4c72b0",
                      hovertemplate="%{y}: %{x} occurrences<extra></extra>")

    def title(step):
        a, b = log[step]["pair"]
        return (f"merge {step}: {labels[a]} + {labels[b]} → token {256 + step} "
                f"({labels[256 + step]}), {log[step]['count']:,} times")

    fig = go.Figure(bars(0), frames=[go.Frame(data=[bars(s)], name=str(s), layout={"title.text": title(s)})
                                      for s in steps])
    _layout(fig, title(0), height=560, xaxis_title="occurrences in the training text (overlapping pairs counted)")
    animate(fig, [str(s) for s in steps], duration=120, prefix="merge ")
    return fig


def vocab_grid(merges, cols: int = 20) -> go.Figure:
    """All 256 + len(merges) tokens as a grid; colour = when the token was learned.

    20 columns keep 11 px labels of up to six characters inside their cells at 1280 px.
    """
    labels = labels_for(merges)
    n = len(labels)
    rows = -(-n // cols)
    order = np.full(rows * cols, np.nan)
    order[:n] = np.r_[np.full(256, -1), np.arange(len(merges))]
    text = np.array(labels + [""] * (rows * cols - n), dtype=object).reshape(rows, cols)
    ids = np.arange(rows * cols).reshape(rows, cols)
    hover = np.vectorize(lambda i: f"id {i}: {labels[i]!r}" if i < n else "")(ids)
    fig = go.Figure(go.Heatmap(
        z=order.reshape(rows, cols), text=text, texttemplate="%{text}", textfont={"size": 11},
        customdata=hover, hovertemplate="%{customdata}<extra></extra>",
        colorscale="Viridis", colorbar={"title": "merge #<br>(−1: byte)"}, xgap=1, ygap=1))
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    return _layout(fig, f"The vocabulary: {n} tokens, {cols} per row (hover for each token)", height=110 + 25 * rows)


# --- embeddings -------------------------------------------------------------------

def lookup_figure(model, ids, tokens) -> go.Figure:
    """The rows of tok_emb that the prompt's ids select: [T, d] out of [V, d]."""
    rows = model.tok_emb.detach().numpy()[ids]
    lim = _sym(rows)
    fig = go.Figure(go.Heatmap(z=rows, y=[f"{t} (id {i})" for t, i in zip(tokens, ids)],
                               colorscale=DIVERGING, zmin=-lim, zmax=lim,
                               hovertemplate="%{y}<br>dim %{x}: %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, f"tok_emb[ids]: {len(ids)} rows of the [{model.config.vocab_size} × "
                        f"{model.config.d_model}] table", height=120 + 28 * len(ids),
                   xaxis_title="embedding dimension")


def sinusoidal(T: int, d: int) -> np.ndarray:
    """The fixed sinusoidal positions of "Attention Is All You Need": [T, d]."""
    pos = np.arange(T)[:, None]
    freq = 1.0 / 10000 ** (np.arange(0, d, 2) / d)
    out = np.zeros((T, d))
    out[:, 0::2], out[:, 1::2] = np.sin(pos * freq), np.cos(pos * freq)
    return out


def positions_figure(model) -> go.Figure:
    """Learned pos_emb beside the sinusoidal table, with buttons to switch."""
    learned = model.pos_emb.detach().numpy()
    sines = sinusoidal(*learned.shape)
    fig = go.Figure([go.Heatmap(z=learned, colorscale=DIVERGING, zmid=0, visible=True, name="learned"),
                     go.Heatmap(z=sines, colorscale=DIVERGING, zmid=0, visible=False, name="sinusoidal")])
    buttons = [{"label": name, "method": "update",
                "args": [{"visible": [i == k for i in range(2)]}, {"title.text": title}]}
               for k, (name, title) in enumerate([
                   ("learned (this model)", "Learned positions: pos_emb after training"),
                   ("sinusoidal", "Sinusoidal positions: sin/cos of pos / 10000^(2i/d)")])]
    fig.update_yaxes(autorange="reversed", title="position")
    return _layout(fig, "Learned positions: pos_emb after training", height=480,
                   xaxis_title="dimension", updatemenus=[{"buttons": buttons, "x": 1, "y": 1.15,
                                                          "xanchor": "right", "type": "buttons",
                                                          "direction": "left"}])


def embedding_sum_animation(inter: dict, tokens) -> go.Figure:
    """tok + pos = x, filled in one position per frame."""
    tok, pos, x = inter["tok"], inter["pos"], inter["x0"]
    T, lim = len(tokens), _sym(inter["tok"], inter["pos"], inter["x0"])
    fig = make_subplots(rows=1, cols=3, shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=("token embedding", "+ position embedding", "= input x"))

    def traces(upto):
        masked = [np.where(np.arange(T)[:, None] < upto, a, np.nan) for a in (tok, pos, x)]
        return [go.Heatmap(z=m, y=[f"{i}:{t}" for i, t in enumerate(tokens)], colorscale=DIVERGING,
                           zmin=-lim, zmax=lim, showscale=j == 2,
                           hovertemplate="%{y} dim %{x}: %{z:.3f}<extra></extra>")
                for j, m in enumerate(masked)]

    for j, t in enumerate(traces(T)):
        fig.add_trace(t, row=1, col=j + 1)
    fig.frames = [go.Frame(data=traces(k), traces=[0, 1, 2], name=str(k)) for k in range(1, T + 1)]
    fig.update_yaxes(autorange="reversed")
    _layout(fig, "Embedded input: the cell-by-cell sum", height=230 + 26 * T)
    scrub(fig, [str(k) for k in range(1, T + 1)], prefix="positions summed: ", active=T - 1)
    return fig


# --- attention and FFN ----------------------------------------------------------------

def qkv_figure(inter: dict, layer: int, n_heads: int, tokens) -> go.Figure:
    """One matmul, three sections: x @ w_qkv = [Q | K | V], each cut into per-head slices."""
    qkv = inter[f"layers.{layer}.qkv"]
    d = qkv.shape[1] // 3
    lim = _sym(qkv)
    fig = go.Figure(go.Heatmap(z=qkv, colorscale=DIVERGING, zmin=-lim, zmax=lim,
                               y=[f"{i}:{t}" for i, t in enumerate(tokens)],
                               hovertemplate="%{y}<br>column %{x}: %{z:.3f}<extra></extra>"))
    dh = d // n_heads
    for s, name in enumerate("QKV"):
        fig.add_vline(x=s * d - 0.5, line_width=3, line_color="black")
        fig.add_annotation(x=s * d + d / 2, y=-0.9, text=f"<b>{name}</b>", showarrow=False, yshift=12)
        for h in range(1, n_heads):
            fig.add_vline(x=s * d + h * dh - 0.5, line_width=1, line_dash="dot", line_color="gray")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, f"Layer {layer}: LN1(x) @ w_qkv → [T, 3·{d}] (dotted: {n_heads} heads of {dh})",
                   height=160 + 26 * len(tokens), xaxis_title="column of w_qkv")


def attention_figure(inter: dict, layer: int, tokens) -> go.Figure:
    """Per head: masked scores and softmax probabilities; buttons pick the head."""
    scores, probs = inter[f"layers.{layer}.scores"], inter[f"layers.{layer}.probs"]   # [H, T, T]
    H, T = probs.shape[0], len(tokens)
    labels = [f"{i}:{t}" for i, t in enumerate(tokens)]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("scores q·kᵀ/√dh (masked)", "softmax → attention weights"))
    mask = np.triu(np.ones((T, T), bool), 1)
    for h in range(H):
        lim = _sym(np.where(mask, 0, scores[h]))
        fig.add_trace(go.Heatmap(z=np.where(mask, np.nan, scores[h]), x=labels, y=labels, colorscale=DIVERGING,
                                 zmin=-lim, zmax=lim, visible=h == 0, showscale=False,
                                 hovertemplate="q %{y} · k %{x}: %{z:.2f}<extra></extra>"), row=1, col=1)
        fig.add_trace(go.Heatmap(z=probs[h], x=labels, y=labels, colorscale="Blues", zmin=0, zmax=1,
                                 visible=h == 0, hovertemplate="%{y} → %{x}: %{z:.3f}<extra></extra>"),
                      row=1, col=2)
    buttons = [{"label": f"head {h}", "method": "update",
                "args": [{"visible": [k // 2 == h for k in range(2 * H)]}]} for h in range(H)]
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, f"Layer {layer} attention, head by head", height=260 + 22 * T,
                   updatemenus=[{"type": "buttons", "direction": "left", "buttons": buttons,
                                 "x": 0, "y": 1.18, "xanchor": "left"}])


def gelu_figure(inter: dict, layer: int) -> go.Figure:
    """GELU's curve with every pre-activation of one layer placed on it."""
    pre = inter[f"layers.{layer}.ffn_pre"].reshape(-1)
    act = inter[f"layers.{layer}.ffn_act"].reshape(-1)
    xs = np.linspace(min(pre.min(), -4), max(pre.max(), 4), 400)
    curve = 0.5 * xs * (1 + np.tanh(np.sqrt(2 / np.pi) * (xs + 0.044715 * xs ** 3)))
    fig = go.Figure([go.Scatter(x=xs, y=curve, name="gelu_tanh(x)", line={"color": "#333"}),
                     go.Scattergl(x=pre, y=act, mode="markers", name=f"{len(pre):,} real activations",
                                  marker={"size": 4, "opacity": 0.35, "color": "#dd8452"})])
    return _layout(fig, f"Layer {layer} feed-forward: GELU on LN2(x) @ w1", height=420,
                   xaxis_title="pre-activation", yaxis_title="after GELU")


def ffn_shapes_figure(inter: dict, layer: int, tokens) -> go.Figure:
    """Expand [T, d] → [T, d_ff], GELU, contract back to [T, d]: three heatmaps side by side."""
    parts = [(f"LN2(x) [T, {inter[f'layers.{layer}.ln2'].shape[1]}]", inter[f"layers.{layer}.ln2"]),
             (f"GELU(· @ w1) [T, {inter[f'layers.{layer}.ffn_act'].shape[1]}]", inter[f"layers.{layer}.ffn_act"]),
             (f"· @ w2 [T, {inter[f'layers.{layer}.ffn_out'].shape[1]}]", inter[f"layers.{layer}.ffn_out"])]
    fig = make_subplots(rows=1, cols=3, shared_yaxes=True, column_widths=[0.2, 0.6, 0.2],
                        subplot_titles=[p[0] for p in parts], horizontal_spacing=0.02)
    for j, (_, a) in enumerate(parts):
        lim = _sym(a)
        fig.add_trace(go.Heatmap(z=a, y=[f"{i}:{t}" for i, t in enumerate(tokens)], colorscale=DIVERGING,
                                 zmin=-lim, zmax=lim, showscale=False), row=1, col=j + 1)
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Expand, GELU, contract: the shape comes back for the residual", height=160 + 24 * len(tokens))


# --- training ----------------------------------------------------------------------------

def loss_figure(history: dict) -> go.Figure:
    steps = history["steps"]
    step_loss = np.asarray(history["step_loss"])
    smooth = np.convolve(step_loss, np.ones(25) / 25, mode="valid")
    fig = go.Figure([
        go.Scatter(x=np.arange(len(smooth)) + 24, y=smooth, name="minibatch loss (25-step mean)",
                   line={"color": "#bbbbbb"}),
        go.Scatter(x=steps, y=history["train_loss"], name="train", mode="lines+markers"),
        go.Scatter(x=steps, y=history["val_loss"], name="validation (held-out plays)", mode="lines+markers")])
    fig.add_hline(y=history["uniform_loss"], line_dash="dash",
                  annotation_text=f"random guess: ln({history['model']['vocab_size']}) = {history['uniform_loss']:.2f}")
    fig.add_hline(y=history["unigram_loss"], line_dash="dot",
                  annotation_text=f"token frequencies only: {history['unigram_loss']:.2f}")
    return _layout(fig, "Cross-entropy during the build's training run", height=440,
                   xaxis_title="step", yaxis_title="loss (nats per token)")


WEIGHTS = ("tok_emb", "pos_emb", "layers.0.attn.w_qkv", "layers.0.attn.w_out", "layers.0.ffn.w1", "layers.0.ffn.w2")


def weights_over_training(snapshots: dict[int, dict[str, np.ndarray]], names=WEIGHTS) -> go.Figure:
    """Six weight matrices at each snapshot step; one fixed diverging scale per matrix."""
    steps = list(snapshots)
    fig = make_subplots(rows=2, cols=3, subplot_titles=names, vertical_spacing=0.1, horizontal_spacing=0.05)
    # 99th percentile, not the max: a few outliers would wash every other cell out
    lims = {n: float(np.percentile(np.abs(np.concatenate([snapshots[s][n].ravel() for s in steps])), 99))
            for n in names}

    def cells(step, n):
        """int8 codes on the matrix's fixed scale: 1 byte a cell keeps the page small."""
        a = snapshots[step][n][:128] if n == "tok_emb" else snapshots[step][n]
        return np.clip(np.round(a / lims[n] * 127), -127, 127).astype(np.int8)

    def traces(step):
        return [go.Heatmap(z=cells(step, n), colorscale=DIVERGING, zmin=-127, zmax=127, showscale=False,
                           hovertemplate=f"{n}[%{{y}}, %{{x}}] ≈ %{{z}} × {lims[n] / 127:.2g}<extra></extra>")
                for n in names]

    for k, t in enumerate(traces(steps[-1])):
        fig.add_trace(t, row=k // 3 + 1, col=k % 3 + 1)
    fig.frames = [go.Frame(data=traces(s), traces=list(range(len(names))), name=str(s)) for s in steps]
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    _layout(fig, "Weights while training (tok_emb: first 128 rows)", height=690)
    scrub(fig, [str(s) for s in steps], prefix="after step ", active=len(steps) - 1)
    return fig


# --- inference ---------------------------------------------------------------------------

def temperature_figure(logits: np.ndarray, labels, temps=(0.2, 0.5, 0.8, 1.0, 1.5, 2.0), k: int = 15) -> go.Figure:
    """The top-k of one real next-token distribution at several temperatures (slider)."""
    from .inspect import next_token_probs

    base = np.argsort(-logits)[:k]
    names = [labels[i] for i in base]

    def bars(t):
        return go.Bar(x=names, y=next_token_probs(logits, t)[base], marker_color="#55a868",
                      hovertemplate="%{x}: %{y:.3f}<extra></extra>")

    fig = go.Figure(bars(1.0), frames=[go.Frame(data=[bars(t)], name=str(t)) for t in temps])
    fig.update_yaxes(range=[0, 1])
    _layout(fig, f"Next-token probabilities of the top {k}, by temperature", height=500, yaxis_title="probability")
    scrub(fig, [str(t) for t in temps], prefix="temperature ", active=list(temps).index(1.0))
    return fig


def cache_attention_figure(steps: list[dict], labels_of_positions, layer: int = 0) -> go.Figure:
    """Each generated token's attention over the cached positions (layer ``layer``, all heads)."""
    S = max(s["cache_len"] for s in steps)
    n_heads = steps[0]["attn"].shape[1]
    fig = make_subplots(rows=1, cols=n_heads, shared_yaxes=True, subplot_titles=[f"head {h}" for h in range(n_heads)],
                        horizontal_spacing=0.02)
    for h in range(n_heads):
        z = np.full((len(steps), S), np.nan)
        for r, s in enumerate(steps):
            z[r, :s["cache_len"]] = s["attn"][layer, h]
        fig.add_trace(go.Heatmap(z=z, colorscale="Blues", zmin=0, zmax=1, showscale=h == n_heads - 1,
                                 x=labels_of_positions[:S], hovertemplate="key %{x}: %{z:.3f}<extra></extra>"),
                      row=1, col=h + 1)
    fig.update_yaxes(autorange="reversed", title="generation step", row=1, col=1)
    return _layout(fig, f"Layer {layer}: each new token's attention over the KV cache", height=200 + 22 * len(steps))
