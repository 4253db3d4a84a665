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

from ..figures import animate, plotly_text, scrub  # (importing llmbook.figures selects the offline renderer)
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
    if b == b"\n":
        return "↵"
    if len(b) == 1 and (b[0] < 32 or b[0] == 127):
        return "DEL" if b[0] == 127 else CONTROL_NAMES[b[0]]
    text = b.decode("utf-8", errors="backslashreplace")
    return text.replace(" ", "␣").replace("\n", "↵")


def labels_for(merges) -> list[str]:
    """Every token's readable text (:func:`token_label`), by id. Plain text: escape before plotly."""
    return [token_label(b) for b in vocab_bytes(merges)]


def axis_labels(tokens) -> list[str]:
    """One axis label per position, ``"i:token"``, escaped for plotly.

    The position prefix keeps a repeated token on its own row (plotly merges equal
    category labels: "Romeo" twice would draw one row); the escaping keeps ``<`` and
    ``&`` visible. tokens: plain text, as :func:`labels_for` gives.
    """
    return [f"{i}:{plotly_text(t)}" for i, t in enumerate(tokens)]


def _colorbar_beside(fig, row: int, col: int, **kw) -> dict:
    """A slim colour bar just right of subplot (row, col), for panels that each have their own scale."""
    domain = fig.get_subplot(row, col).xaxis.domain
    return {"x": domain[1] + 0.005, "xanchor": "left", "thickness": 8, "len": 0.9,
            "tickfont": {"size": 9}, "nticks": 5, **kw}


def _shared_scale(fig, colorscale, lim: float, **kw) -> None:
    """One colour axis for several heatmaps on the same scale: one colour bar serves them all."""
    fig.update_layout(coloraxis={"colorscale": colorscale, "cmin": -lim if colorscale == DIVERGING else 0,
                                 "cmax": lim, "colorbar": {"thickness": 12, "len": 0.9}, **kw})


BUTTONS_GAP = 30     # pixels between a plot's top and its buttons: room for subplot titles


def _title_over_buttons(fig, title: str, buttons: list[dict]):
    """Title, then a row of buttons, then the plot: each in its own band of the top margin.

    Each button's ``update`` should set ``title.text`` to say what is shown (no button is highlighted).

    Placed in pixels from the plot's top (not as a fraction of the height, which moves
    with the figure's height), so the buttons never cover the title or subplot titles.
    """
    fig.update_layout(margin={"t": 110},
                      title={"text": title, "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 12}},
                      updatemenus=[{"type": "buttons", "direction": "left", "buttons": buttons, "x": 0, "y": 1,
                                    "xanchor": "left", "yanchor": "bottom", "pad": {"b": BUTTONS_GAP},
                                    # plotly's highlight of the active button is near-white, unreadable under the
                                    # dark theme's light text: no highlight; each button names its choice in the title
                                    "showactive": False, "bgcolor": "rgba(128,128,128,0.15)",
                                    "bordercolor": "rgba(128,128,128,0.7)"}])
    return fig


def _sym(*arrays) -> float:
    return float(max(np.abs(a).max() for a in arrays)) or 1.0


# --- BPE ----------------------------------------------------------------------------

def merge_animation(log: list[dict], merges, every: int = 1) -> go.Figure:
    """Top remaining pair counts before each merge, one frame per merge, with a slider."""
    labels = [plotly_text(t) for t in labels_for(merges)]
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


def vocab_grid(merges, cols: int = 20, max_chars: int = 6) -> go.Figure:
    """All 256 + len(merges) tokens as a grid; colour = when the token was learned.

    Byte cells are grey (no merge index); merges are coloured 0..len(merges)-1. Cell
    labels longer than ``max_chars`` are cut with "…" so they stay inside their cell
    at 1280 px; the hover shows every token in full.
    """
    plain = labels_for(merges)
    cut = [t if len(t) <= max_chars else t[:max_chars - 1] + "…" for t in plain]
    labels = [plotly_text(t) for t in cut]
    n = len(labels)
    rows = -(-n // cols)
    order = np.full(rows * cols, np.nan)
    order[256:n] = np.arange(len(merges))
    is_byte = np.full(rows * cols, np.nan)
    is_byte[:256] = 0.0
    text = np.array(labels + [""] * (rows * cols - n), dtype=object).reshape(rows, cols)
    ids = np.arange(rows * cols).reshape(rows, cols)
    hover = np.vectorize(lambda i: f"id {i}: {plotly_text(repr(plain[i]))}" if i < n else "")(ids)
    common = dict(texttemplate="%{text}", textfont={"size": 11}, customdata=hover,
                  hovertemplate="%{customdata}<extra></extra>", xgap=1, ygap=1)
    mine = lambda z: np.where(np.isnan(z), "", text.reshape(-1)).reshape(rows, cols)  # noqa: E731
    fig = go.Figure([
        go.Heatmap(z=is_byte.reshape(rows, cols), text=mine(is_byte), colorscale=[[0, "#9a9a9a"], [1, "#9a9a9a"]],
                   showscale=False, meta="categorical: grey = a byte, named in the colour bar's title", **common),
        go.Heatmap(z=order.reshape(rows, cols), text=mine(order), colorscale="Viridis",
                   colorbar={"title": "merge #<br>(grey: byte)"}, **common)])
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    return _layout(fig, f"The vocabulary: {n} tokens, {cols} per row (hover for each token)", height=110 + 25 * rows)


# --- embeddings -------------------------------------------------------------------

def lookup_figure(model, ids, tokens) -> go.Figure:
    """The rows of tok_emb that the prompt's ids select: [T, d] out of [V, d]."""
    rows = model.tok_emb.detach().numpy()[ids]
    lim = _sym(rows)
    fig = go.Figure(go.Heatmap(z=rows, y=[f"{lab} (id {i})" for lab, i in zip(axis_labels(tokens), ids)],
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
    _layout(fig, "", height=480, xaxis_title="dimension")
    return _title_over_buttons(fig, "Learned positions: pos_emb after training", buttons)


def embedding_sum_animation(inter: dict, tokens) -> go.Figure:
    """tok + pos = x, filled in one position per frame."""
    tok, pos, x = inter["tok"], inter["pos"], inter["x0"]
    T, lim = len(tokens), _sym(inter["tok"], inter["pos"], inter["x0"])
    fig = make_subplots(rows=1, cols=3, shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=("token", "+ position", "= input x"))

    def traces(upto):
        masked = [np.where(np.arange(T)[:, None] < upto, a, np.nan) for a in (tok, pos, x)]
        return [go.Heatmap(z=m, y=axis_labels(tokens), coloraxis="coloraxis",
                           hovertemplate="%{y} dim %{x}: %{z:.3f}<extra></extra>")
                for m in masked]

    for j, t in enumerate(traces(T)):
        fig.add_trace(t, row=1, col=j + 1)
    fig.frames = [go.Frame(data=traces(k), traces=[0, 1, 2], name=str(k)) for k in range(1, T + 1)]
    fig.update_yaxes(autorange="reversed")
    _shared_scale(fig, DIVERGING, lim)
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
                               y=axis_labels(tokens), colorbar={"thickness": 12},
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
    """Per head: masked scores and softmax probabilities; buttons pick the head.

    Title, buttons and subplot titles each get their own band of the top margin (in
    pixels, so they stay apart at any height); each panel has its own colour bar.
    """
    scores, probs = inter[f"layers.{layer}.scores"], inter[f"layers.{layer}.probs"]   # [H, T, T]
    H, T = probs.shape[0], len(tokens)
    labels = axis_labels(tokens)
    # shared rows: the right panel repeats no labels, so the scores' colour bar has the gap to itself
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.14,
                        subplot_titles=("q·kᵀ/√dh, masked", "softmax weights"))
    mask = np.triu(np.ones((T, T), bool), 1)
    score_bar = _colorbar_beside(fig, 1, 1, title={"text": "score", "side": "top"})
    for h in range(H):
        lim = _sym(np.where(mask, 0, scores[h]))
        fig.add_trace(go.Heatmap(z=np.where(mask, np.nan, scores[h]), x=labels, y=labels, colorscale=DIVERGING,
                                 zmin=-lim, zmax=lim, visible=h == 0, colorbar=score_bar, hoverongaps=False,
                                 hovertemplate="q %{y} · k %{x}: %{z:.2f}<extra></extra>"), row=1, col=1)
        fig.add_trace(go.Heatmap(z=probs[h], x=labels, y=labels, colorscale="Blues", zmin=0, zmax=1,
                                 visible=h == 0, colorbar={"thickness": 12, "title": {"text": "weight", "side": "top"}},
                                 hovertemplate="%{y} → %{x}: %{z:.3f}<extra></extra>"),
                      row=1, col=2)
    title = f"Layer {layer} attention: head {{}} of {H} (pick a head)".format
    buttons = [{"label": f"head {h}", "method": "update",
                "args": [{"visible": [k // 2 == h for k in range(2 * H)]}, {"title.text": title(h)}]}
               for h in range(H)]
    fig.update_yaxes(autorange="reversed")
    _layout(fig, "", height=300 + 22 * T)
    return _title_over_buttons(fig, title(0), buttons)


def gelu_figure(inter: dict, layer: int) -> go.Figure:
    """GELU's curve with every pre-activation of one layer placed on it."""
    pre = inter[f"layers.{layer}.ffn_pre"].reshape(-1)
    act = inter[f"layers.{layer}.ffn_act"].reshape(-1)
    xs = np.linspace(min(pre.min(), -4), max(pre.max(), 4), 400)
    curve = 0.5 * xs * (1 + np.tanh(np.sqrt(2 / np.pi) * (xs + 0.044715 * xs ** 3)))
    fig = go.Figure([go.Scatter(x=xs, y=curve, name="gelu_tanh(x)", line={"color": "#4c72b0", "width": 3}),
                     go.Scattergl(x=pre, y=act, mode="markers", name=f"{len(pre):,} real activations",
                                  marker={"size": 4, "opacity": 0.35, "color": "#dd8452"})])
    return _layout(fig, f"Layer {layer} FFN: GELU(x)", height=420,
                   xaxis_title="pre-activation", yaxis_title="after GELU")


def ffn_shapes_figure(inter: dict, layer: int, tokens) -> go.Figure:
    """Expand [T, d] → [T, d_ff], GELU, contract back to [T, d]: three heatmaps side by side, each with its scale."""
    parts = [(f"in [T, {inter[f'layers.{layer}.ln2'].shape[1]}]", inter[f"layers.{layer}.ln2"]),
             (f"hidden [T, {inter[f'layers.{layer}.ffn_act'].shape[1]}]", inter[f"layers.{layer}.ffn_act"]),
             (f"out [T, {inter[f'layers.{layer}.ffn_out'].shape[1]}]", inter[f"layers.{layer}.ffn_out"])]
    fig = make_subplots(rows=1, cols=3, shared_yaxes=True, column_widths=[0.2, 0.6, 0.2],
                        subplot_titles=[p[0] for p in parts], horizontal_spacing=0.07)
    for j, (_, a) in enumerate(parts):
        lim = _sym(a)
        fig.add_trace(go.Heatmap(z=a, y=axis_labels(tokens), colorscale=DIVERGING, zmin=-lim, zmax=lim,
                                 colorbar=_colorbar_below(fig, 1, j + 1, parts[j][0].split()[0]),
                                 hovertemplate="%{y} dim %{x}: %{z:.3f}<extra></extra>"), row=1, col=j + 1)
    fig.update_yaxes(autorange="reversed")
    _layout(fig, "FFN: expand, GELU, contract", height=220 + 24 * len(tokens))
    return fig.update_layout(margin={"b": 90})


def _colorbar_below(fig, row: int, col: int, name: str) -> dict:
    """A horizontal colour bar under subplot (row, col), as wide as it and titled ``name``: it cannot overlap a neighbour."""
    lo, hi = fig.get_subplot(row, col).xaxis.domain
    return {"orientation": "h", "x": (lo + hi) / 2, "xanchor": "center", "y": -0.06, "yanchor": "top",
            "len": hi - lo, "thickness": 8, "tickfont": {"size": 9}, "nticks": 5,
            "title": {"text": name, "side": "bottom", "font": {"size": 10}}}


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
    """Six weight matrices at each snapshot step; one fixed diverging scale per matrix.

    The cells are int8 codes of each matrix's own scale (±its 99th percentile of |w|), so
    all six share one colour bar, read as a fraction of that scale; each subplot title
    gives its scale in real units, and hovering gives the real value.
    """
    steps = list(snapshots)
    # 99th percentile, not the max: a few outliers would wash every other cell out
    lims = {n: float(np.percentile(np.abs(np.concatenate([snapshots[s][n].ravel() for s in steps])), 99))
            for n in names}
    fig = make_subplots(rows=2, cols=3, subplot_titles=[f"{n} (±{lims[n]:.2g})" for n in names],
                        vertical_spacing=0.1, horizontal_spacing=0.05)

    def cells(step, n):
        """int8 codes on the matrix's fixed scale: 1 byte a cell keeps the page small."""
        a = snapshots[step][n][:128] if n == "tok_emb" else snapshots[step][n]
        return np.clip(np.round(a / lims[n] * 127), -127, 127).astype(np.int8)

    def traces(step):
        return [go.Heatmap(z=cells(step, n), coloraxis="coloraxis",
                           hovertemplate=f"{n}[%{{y}}, %{{x}}] ≈ %{{z}} × {lims[n] / 127:.2g}<extra></extra>")
                for n in names]

    for k, t in enumerate(traces(steps[-1])):
        fig.add_trace(t, row=k // 3 + 1, col=k % 3 + 1)
    fig.frames = [go.Frame(data=traces(s), traces=list(range(len(names))), name=str(s)) for s in steps]
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    _shared_scale(fig, DIVERGING, 127)
    fig.update_layout(coloraxis_colorbar={"tickvals": [-127, 0, 127], "ticktext": ["−scale", "0", "+scale"]})
    _layout(fig, "Weights while training (tok_emb: first 128 rows)", height=690)
    scrub(fig, [str(s) for s in steps], prefix="after step ", active=len(steps) - 1)
    return fig


# --- inference ---------------------------------------------------------------------------

def temperature_figure(logits: np.ndarray, labels, temps=(0.2, 0.5, 0.8, 1.0, 1.5, 2.0), k: int = 15) -> go.Figure:
    """The top-k of one real next-token distribution at several temperatures (slider).

    Each frame sets its own y range (a little over its tallest bar): on a fixed 0–1 axis
    the flat distributions of T ≥ 1 would be slivers. Read the numbers on the axis.
    labels: every token's plain text, by id (:func:`labels_for`).
    """
    from .inspect import next_token_probs

    base = np.argsort(-logits)[:k]
    names = [plotly_text(labels[i]) for i in base]

    def bars(t):
        return go.Bar(x=names, y=next_token_probs(logits, t)[base], marker_color="#55a868",
                      hovertemplate="%{x}: %{y:.3f}<extra></extra>")

    def y_range(t):
        return [0, float(next_token_probs(logits, t)[base].max()) * 1.1]

    fig = go.Figure(bars(1.0), frames=[go.Frame(data=[bars(t)], name=str(t), layout={"yaxis": {"range": y_range(t)}})
                                       for t in temps])
    fig.update_yaxes(range=y_range(1.0))
    _layout(fig, f"Top {k} next tokens", height=500, yaxis_title="probability")
    scrub(fig, [str(t) for t in temps], prefix="temperature ", active=list(temps).index(1.0))
    return fig


def cache_attention_figure(steps: list[dict], labels_of_positions, layer: int = 0) -> go.Figure:
    """Each generated token's attention over the cached positions (layer ``layer``, all heads, one colour bar).

    labels_of_positions: one plain-text label per position, unique (e.g. ``"3:Romeo"``); escaped here.
    """
    S = max(s["cache_len"] for s in steps)
    n_heads = steps[0]["attn"].shape[1]
    cols = min(n_heads, 2)
    rows = -(-n_heads // cols)
    fig = make_subplots(rows=rows, cols=cols, shared_yaxes=True, subplot_titles=[f"head {h}" for h in range(n_heads)],
                        horizontal_spacing=0.04, vertical_spacing=0.12)
    for h in range(n_heads):
        z = np.full((len(steps), S), np.nan)
        for r, s in enumerate(steps):
            z[r, :s["cache_len"]] = s["attn"][layer, h]
        fig.add_trace(go.Heatmap(z=z, coloraxis="coloraxis", hoverongaps=False,
                                 x=[plotly_text(t) for t in labels_of_positions[:S]],
                                 hovertemplate="key %{x}: %{z:.3f}<extra></extra>"),
                      row=h // cols + 1, col=h % cols + 1)
    fig.update_yaxes(autorange="reversed")
    fig.update_yaxes(title="step", col=1)
    _shared_scale(fig, "Blues", 1.0)
    return _layout(fig, f"Layer {layer}: attention over the cache", height=120 + rows * (110 + 18 * len(steps)))


def concat_out_figure(inter: dict, layer: int, tokens, head_dim: int) -> go.Figure:
    """The heads' outputs side by side [T, d], and that @ w_out [T, d]: each panel with its colour bar.

    Dotted lines mark where one head's ``head_dim`` columns end and the next's begin.
    """
    heads, out = inter[f"layers.{layer}.heads"], inter[f"layers.{layer}.attn_out"]   # [T, d], [T, d]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.1, subplot_titles=(
        f"heads side by side [T, {heads.shape[1]}]", f"@ w_out [T, {out.shape[1]}]"))
    for j, a in enumerate((heads, out)):
        lim = _sym(a)
        fig.add_trace(go.Heatmap(z=a, y=axis_labels(tokens), colorscale=DIVERGING, zmin=-lim, zmax=lim,
                                 colorbar=_colorbar_beside(fig, 1, j + 1),
                                 hovertemplate="%{y} dim %{x}: %{z:.3f}<extra></extra>"), row=1, col=j + 1)
    for h in range(1, heads.shape[1] // head_dim):
        fig.add_vline(x=h * head_dim - 0.5, line_dash="dot", line_color="gray", row=1, col=1)
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Concat and output projection", height=160 + 26 * len(tokens))
