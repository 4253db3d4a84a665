"""Part I's "inside one block": six substeps of one real head and FFN, as a slideshow.

1 · Q and K (Llama: which KV head the query head shares, and RoPE on real vectors)
2 · scores → probabilities (raw Q·Kᵀ, scaled, masked, shifted, exponentiated, normalised)
3 · mixing V
4 · FFN expand (GPT-2 768 → 3072; Llama gate and up, 2048 → 5632)
5 · the nonlinearity (GELU, or SiLU(gate)·up) with its curve and the real activations
6 · contract back to the model width, added to the residual stream

Every slide carries the max |difference| of :func:`llmbook.verify.verify_substeps`
(recomputed in float64 numpy from the weights) for the numbers it shows.
Not handled: traces that did not keep per-block detail for ``layer``.
"""

from __future__ import annotations

import numpy as np

from ..figures import animate, book_layout, heatmap, plotly_text, token_labels
from ..figures.slideshow import Slide, Slideshow
from ..lm.verify import Check, gelu_tanh, silu, verify_substeps
from .walkthrough import display_name

UNITS_SHOWN = 384         # FFN hidden units drawn in the expand heatmap


def block_slideshow(lm, tr, layer: int, head: int) -> tuple[Slideshow, dict[str, Check]]:
    """The six substeps and the checks behind them."""
    checks = verify_substeps(lm, tr, layer, head)
    llama = tr.config["arch"] == "llama"
    first = _rope_gqa(tr, layer, head, checks) if llama else _qk(tr, layer, head, checks)
    slides = [first, _scores_to_probs(tr, layer, head, checks), _mix_v(tr, layer, head, checks),
              _expand(tr, layer, checks), _nonlinearity(tr, layer, checks), _contract(tr, layer, checks)]
    return Slideshow(f"{display_name(tr)}: layer {layer}, head {head} up close", slides), checks


def agreement(checks: dict[str, Check], *names: str) -> str:
    worst = max(checks[n].max_abs_diff for n in names)
    return (f"recomputed from the weights in float64 numpy ({', '.join(names)}): agrees to "
            f"{worst:.1e} (max |difference|)")


# --- 1 · Q and K --------------------------------------------------------------

def _qk(tr, layer, head, checks) -> Slide:
    from plotly.subplots import make_subplots

    q, k = tr.block(layer, "q")[head], tr.block(layer, "k")[head]             # [T, dh] each
    labels, dh, d = token_labels(tr.tokens), q.shape[1], tr.config["d_model"]
    zmax = float(np.abs(np.concatenate([q, k])).max())
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[f"Q, head {head} [T, {dh}]", f"K, head {head} [T, {dh}]"])
    fig.add_trace(heatmap(q, y=labels, name="q", showscale=False, zmin=-zmax, zmax=zmax), 1, 1)
    fig.add_trace(heatmap(k, y=labels, name="k", zmin=-zmax, zmax=zmax), 1, 2)
    book_layout(fig, f"Layer {layer}: this head's queries and keys", 320)
    fig.update_yaxes(autorange="reversed")
    H = tr.config["n_heads"]
    caption = (f"The block first normalises the stream (LayerNorm) and multiplies it by one matrix, GPT-2's "
               f"`c_attn` (\"attention\" projection), of shape [{d}, {3 * d}]: {3 * d:,} = 3 × {d} columns, the "
               f"queries, keys and values of all {H} heads side by side. Head {head} owns columns "
               f"{head * dh}–{(head + 1) * dh - 1} of each third. Its query says what a position looks for, its key "
               f"what it offers: `[{len(labels)}, {dh}]` each (rows = tokens, counted from position 0).")
    return Slide("Q and K", caption, f"Heatmaps of head {head}'s query and key vectors for each token.", [fig],
                 check=agreement(checks, "q", "k"))


def _rope_gqa(tr, layer, head, checks) -> Slide:
    import plotly.graph_objects as go

    c = tr.config
    kv, group = c["kv_head_of"][head], c["n_heads"] // c["n_kv_heads"]
    share = np.array([[1.0 if c["kv_head_of"][h] == j else 0.0 for h in range(c["n_heads"])]
                      for j in range(c["n_kv_heads"])])                            # [Hkv, H]
    share[kv, head] = 2.0
    gqa = go.Figure(heatmap(share, x=[str(h) for h in range(c["n_heads"])],
                             y=[f"KV head {j}" for j in range(c["n_kv_heads"])],
                             colorscale=[[0, "rgba(0,0,0,0)"], [0.5, "#9ecae1"], [1, "#d95f02"]],
                             zmid=None, showscale=False, zmin=0, zmax=2))
    book_layout(gqa, f"GQA: query head {head} (orange) reads KV head {kv}", 230)
    gqa.update_xaxes(title_text="query head", dtick=1)
    gqa.update_traces(xgap=2, ygap=2, hovertemplate="query head %{x} · %{y}<extra></extra>",
                      meta="categorical: blue = the query heads a KV head serves, orange = the head shown")

    fig = _rope_figure(tr, layer, head)
    dh = tr.block(layer, "q").shape[-1]
    caption = (f"Llama keeps {c['n_heads']} query heads but only {c['n_kv_heads']} key/value heads: each group of "
               f"{group} query heads shares one K and V, which shrinks the KV cache {group}×. Before Q meets K, "
               f"RoPE rotates each pair of dimensions (i, i + {dh // 2}) by position × θ_i, where "
               f"θ_i = 10000^(−2i/{dh}). Press Play: pair 0 (dims 0, {dh // 2}) turns by θ_0 = 1 radian per "
               f"position, pair {dh // 8} (dims {dh // 8}, {dh // 8 + dh // 2}) by 10000^(−{2 * (dh // 8)}/{dh}) = 0.1; the lengths never "
               f"change, only the angles. The dot product of a rotated "
               "query and key then depends on how far apart they are.")
    alt = (f"A grid showing query head {head} reading KV head {kv}, and arrows of this head's query vectors "
           "for each position before and after the RoPE rotation, for two dimension pairs.")
    return Slide("RoPE and GQA", caption, alt, [gqa, fig],
                 check=agreement(checks, "q_pre_rope", "k_pre_rope", "q", "k"))


def _rope_figure(tr, layer, head):
    """One frame per position: a query's (i, i + dh/2) pairs before (dotted) and after (solid) RoPE."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    pre, post = tr.block(layer, "q_pre_rope")[head], tr.block(layer, "q")[head]   # [T, dh]
    T, dh = pre.shape
    pairs = (0, dh // 8)                  # the fastest-turning pair (1 rad/position) and one at 0.1
    freq = [1 / 10000 ** (2 * i / dh) for i in pairs]
    lim = [1.1 * float(np.abs(np.stack([pre[:, [i, i + dh // 2]], post[:, [i, i + dh // 2]]])).max()) for i in pairs]

    def arrows(t):
        out = []
        for i in pairs:
            for vec, dash, name in ((pre, "dot", "before RoPE"), (post, "solid", "after RoPE")):
                out.append(go.Scatter(x=[0, round(float(vec[t, i]), 4)], y=[0, round(float(vec[t, i + dh // 2]), 4)],
                                      mode="lines+markers", name=name, showlegend=i == 0,
                                      line={"color": "#7f7f7f" if dash == "dot" else "#d95f02", "dash": dash, "width": 3},
                                      marker={"size": [0, 9]}))
        return out

    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"dims ({i}, {i + dh // 2}): {f:.3g} rad/position"
                                                        for i, f in zip(pairs, freq)])
    for k, trace in enumerate(arrows(1)):                 # position 0 is not rotated: start at 1
        fig.add_trace(trace, 1, 1 + k // 2)
    names = [f"position {t}: {plotly_text(repr(tr.tokens[t]))}" for t in range(T)]
    fig.frames = [go.Frame(data=arrows(t), name=names[t], traces=[0, 1, 2, 3]) for t in range(T)]
    for col, m in enumerate(lim, 1):
        fig.update_xaxes(range=[-m, m], row=1, col=col)
        fig.update_yaxes(range=[-m, m], row=1, col=col, scaleanchor=f"x{'' if col == 1 else col}")
    book_layout(fig, f"RoPE on head {head}'s real query, position by position", 400)
    fig.update_layout(legend={"orientation": "h", "y": 1.1, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    animate(fig, names, [str(t) for t in range(T)], duration=700, active=1)
    return fig


# --- 2 · scores → probabilities -------------------------------------------------

def _scores_to_probs(tr, layer, head, checks) -> Slide:
    import plotly.graph_objects as go

    q, k = tr.block(layer, "q")[head].astype(np.float64), tr.block(layer, "k")[tr.config["kv_head_of"][head]]
    T, dh = q.shape
    raw = q @ k.T                                                             # [T, T] from the captured q, k
    scaled = raw / np.sqrt(dh)
    masked = tr.block(layer, "scores")[head].astype(np.float64)               # captured: scaled, future = -inf
    shifted = masked - masked.max(-1, keepdims=True)
    ex = np.exp(shifted)
    probs = tr.attn[layer, head]                                              # captured attention
    stages = [("Q·Kᵀ", raw), (f"÷ √{dh} = {np.sqrt(dh):g}", scaled), ("causal mask (future = −∞)", masked),
              ("− row max", shifted), ("exp", ex), ("÷ row sum = attention", probs)]
    labels = token_labels(tr.tokens)

    def heat(z):
        finite = z[np.isfinite(z)]
        lim = float(np.abs(finite).max()) or 1.0
        positive = finite.min() >= 0
        return heatmap(z, x=labels, y=labels, colorscale="Blues" if positive else "RdBu",
                        zmid=None if positive else 0, zmin=0 if positive else -lim, zmax=lim)

    fig = go.Figure(heat(raw))
    fig.frames = [go.Frame(data=[heat(z)], name=n, layout={"title": {"text": f"Stage: {n}"}}) for n, z in stages]
    book_layout(fig, f"Stage: {stages[0][0]}", 380 + 12 * T)
    fig.update_layout(xaxis_title="key (attended to)", yaxis_title="query (attending)", yaxis_autorange="reversed")
    animate(fig, [n for n, _ in stages], ["Q·Kᵀ", "scale", "mask", "−max", "exp", "÷sum"], duration=1100)
    top = int(np.argmax(probs[-1]))
    caption = (f"Press Play to morph the scores into probabilities: every frame is a real intermediate. "
               f"The dot products are divided by √{dh}, the future is masked to −∞ (blank), and a softmax along "
               f"each row turns scores into weights that sum to 1. The last token puts its largest weight "
               f"({probs[-1, top]:.3f}) on position {top}, {tr.tokens[top]!r}.")
    alt = f"Animated {T}×{T} heatmap going from raw query-key scores to attention probabilities."
    return Slide("Scores → softmax", caption, alt, [fig], check=agreement(checks, "scores", "probs"))


# --- 3 · mixing V -------------------------------------------------------------

def _mix_v(tr, layer, head, checks) -> Slide:
    from plotly.subplots import make_subplots

    kv = tr.config["kv_head_of"][head]
    p, v = tr.attn[layer, head], tr.block(layer, "v")[kv]                      # [T, T], [T, dh]
    dh = v.shape[1]
    out = tr.block(layer, "heads_out")[:, head * dh:(head + 1) * dh]          # [T, dh]
    labels = token_labels(tr.tokens)
    lim = float(np.abs(np.concatenate([v, out])).max())
    fig = make_subplots(rows=1, cols=3, shared_yaxes=True, column_widths=[0.3, 0.35, 0.35], horizontal_spacing=0.08,
                        subplot_titles=["attention P [T, T]", f"V [T, {dh}]", f"P·V = head output [T, {dh}]"])
    fig.add_trace(heatmap(p, x=labels, y=labels, colorscale="Blues", zmid=None, zmin=0, zmax=1), 1, 1)
    fig.data[-1].colorbar.update(x=fig.layout.xaxis.domain[1] + 0.005, xanchor="left", len=0.5, y=0, yanchor="bottom")
    fig.add_trace(heatmap(v, y=labels, showscale=False, zmin=-lim, zmax=lim), 1, 2)
    fig.add_trace(heatmap(out, y=labels, zmin=-lim, zmax=lim), 1, 3)
    book_layout(fig, "Each position's output is a weighted average of the value vectors", 360)
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(showticklabels=False, row=1, col=1)
    H, d = tr.config["n_heads"], tr.config["d_model"]
    caption = (f"Each row of P weights the value vectors of the positions it may see; the weighted sums are the "
               f"head's output `[T, {dh}]`. The {H} heads' outputs are concatenated back to `[T, {d}]` and one "
               f"more matrix (the output projection) mixes them before they are added to the residual stream.")
    return Slide("Mix V", caption, "Heatmaps of the attention weights, the value vectors and their product.", [fig],
                 check=agreement(checks, "probs", "head_out"))


# --- 4 · expand ---------------------------------------------------------------

def _expand(tr, layer, checks) -> Slide:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    llama = tr.config["arch"] == "llama"
    pre = tr.block(layer, "ffn_gate" if llama else "ffn_pre")                 # [T, d_ff]
    d, d_ff = tr.config["d_model"], pre.shape[1]
    labels = token_labels(tr.tokens)
    lim = float(np.percentile(np.abs(pre), 99.5)) or 1.0
    counts, edges = np.histogram(pre, bins=60)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.65, 0.35], horizontal_spacing=0.08,
                        subplot_titles=[f"units 0–{UNITS_SHOWN - 1} of {d_ff:,}", f"all {pre.size:,} values"])
    fig.add_trace(heatmap(pre[:, :UNITS_SHOWN], y=labels, zmin=-lim, zmax=lim), 1, 1)
    fig.data[-1].colorbar.update(x=fig.layout.xaxis.domain[1] + 0.005, xanchor="left")
    fig.add_trace(go.Bar(x=np.round((edges[:-1] + edges[1:]) / 2, 3), y=counts, marker_color="#8c8c8c",
                         hovertemplate="≈ %{x:.2f}: %{y}<extra></extra>"), 1, 2)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    book_layout(fig, f"The feed-forward network widens each token: {d:,} → {d_ff:,}", 340)
    fig.update_layout(showlegend=False)
    if llama:
        caption = (f"After RMSNorm, two matrices widen each token from {d:,} to {d_ff:,}: `gate_proj` (shown) "
                   f"and `up_proj`. Unlike attention, this step looks at each position on its own: the "
                   f"{len(labels)} rows never mix. The heatmap shows the first {UNITS_SHOWN} units only "
                   f"(all {d_ff:,} would be too narrow to see); the histogram counts every value of every token.")
        names = ("expand (gate)", "expand (up)")
    else:
        caption = (f"After the second LayerNorm, GPT-2's `c_fc` (\"fully connected\") matrix [{d}, {d_ff}] widens "
                   f"each token from {d} to {d_ff:,} numbers, the hidden units' pre-activations. Unlike attention, "
                   f"this step looks at each position on its own: the {len(labels)} rows never mix. The heatmap "
                   f"shows units 0–{UNITS_SHOWN - 1} only (all {d_ff:,} would be too narrow to see); the histogram "
                   f"counts every value of every token.")
        names = ("expand",)
    return Slide("Expand", caption, f"Heatmap of the FFN's hidden pre-activations 0 to {UNITS_SHOWN - 1} per token "
                 "and a histogram of all of them.", [fig], check=agreement(checks, *names))


# --- 5 · the nonlinearity -------------------------------------------------------

def _nonlinearity(tr, layer, checks) -> Slide:
    import plotly.graph_objects as go

    llama = tr.config["arch"] == "llama"
    pre = tr.block(layer, "ffn_gate" if llama else "ffn_pre")[-1]             # [d_ff] last position
    act = tr.block(layer, "ffn_act")[-1]
    lo, hi = float(min(pre.min(), -4)), float(max(pre.max(), 4))
    xs = np.linspace(lo, hi, 200)
    curve, name = (silu(xs), "SiLU(x) = x·sigmoid(x)") if llama else (gelu_tanh(xs), "GELU(x) (tanh form)")
    fig = go.Figure([go.Scatter(x=np.round(xs, 3), y=np.round(curve, 4), mode="lines", name=name,
                                line={"color": "#7f7f7f", "width": 3}),
                     go.Scatter(x=np.round(pre, 4), y=np.round(act, 4), mode="markers",
                                name=f"the last token's {pre.size:,} units",
                                marker={"size": 4, "color": "#d95f02", "opacity": 0.5},
                                hovertemplate="in %{x:.3f} → out %{y:.3f}<extra></extra>")])
    book_layout(fig, f"{name}: the curve, and the real units on it", 380)
    fig.update_layout(xaxis_title="pre-activation", yaxis_title="activation",
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    neg = float((pre < 0).mean())
    if llama:
        small = float((np.abs(act) < 0.1 * np.abs(act).max()).mean())
        caption = (f"SwiGLU: the gate goes through SiLU (the curve; the dots are the last token's {pre.size:,} "
                   f"real gate values) and is multiplied unit by unit with `up`. {neg:.0%} of the gates are "
                   f"negative, where SiLU gives a small value between {float(silu(np.linspace(-5, 0, 5001)).min()):.2f} and 0: those "
                   f"units are damped, not cut. {small:.0%} of the SiLU outputs are, in size (ignoring the sign), below "
                   f"a tenth of the largest one ({float(np.abs(act).max()):.3g}).")
    else:
        caption = (f"GELU bends each unit: large positive inputs pass, negative ones are squashed towards zero. "
                   f"The dots are the last token's {pre.size:,} real units, all on the curve; {neg:.0%} "
                   "of them are negative.")
    return Slide("SiLU × up" if llama else "GELU", caption,
                 f"The {'SiLU' if llama else 'GELU'} curve with the last token's real hidden units plotted on it.",
                 [fig], check=agreement(checks, "activation"))


# --- 6 · contract ---------------------------------------------------------------

def _contract(tr, layer, checks) -> Slide:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    out, mid = tr.block(layer, "ffn_out"), tr.block(layer, "resid_mid")      # [T, d] each
    labels, d = token_labels(tr.tokens), out.shape[1]
    d_ff = tr.block(layer, "ffn_act").shape[1]
    lim = float(np.percentile(np.abs(out), 99.5)) or 1.0
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.6, 0.4], horizontal_spacing=0.1,
                        subplot_titles=[f"FFN output, first 64 of {d:,} dims", "‖·‖ per token"])
    fig.add_trace(heatmap(out[:, :64], y=labels, zmin=-lim, zmax=lim), 1, 1)
    fig.data[-1].colorbar.update(x=fig.layout.xaxis.domain[1] + 0.005, xanchor="left")
    for vec, name, color in ((mid, "stream before the FFN", "#8c8c8c"), (out, "what the FFN adds", "#d95f02")):
        fig.add_trace(go.Bar(x=np.round(np.linalg.norm(vec, axis=-1), 3), y=labels, orientation="h", name=name,
                             marker_color=color), 1, 2)
    fig.update_yaxes(autorange="reversed")
    book_layout(fig, f"Contract {d_ff:,} → {d:,} and add to the stream", 340)
    fig.update_layout(legend={"orientation": "h", "y": -0.12, "yanchor": "top", "x": 1, "xanchor": "right"})
    ratio = float(np.linalg.norm(out, axis=-1).mean() / np.linalg.norm(mid, axis=-1).mean())
    caption = (f"A last matrix brings each token back from {d_ff:,} to {d:,} numbers, and the result is **added** "
               f"to the residual stream: the block's output is stream + attention + FFN. Here the FFN's update "
               f"is {ratio:.2f}× the length of the stream it is added to, on average.")
    return Slide("Contract", caption, "Heatmap of the FFN output and bars comparing its size with the stream's.",
                 [fig], check=agreement(checks, "contract"))


# --- the numbers the chapter's prose quotes (glued into the Markdown) ----------

def scaling_numbers(tr, layer: int, head: int) -> dict:
    """Why ÷√dh: spread of this head's real scores before and after the division, and what softmax makes of each."""
    from ..lm.verify import softmax

    q = tr.block(layer, "q")[head].astype(np.float64)                          # [T, dh]
    k = tr.block(layer, "k")[tr.config["kv_head_of"][head]].astype(np.float64)  # [T, dh]
    T, dh = q.shape
    raw = (q @ k.T)[np.tril_indices(T)]                                         # visible scores only
    last = q[-1] @ k.T                                                          # [T] the last row, unmasked
    return {"dh": int(dh), "sqrt_dh": float(np.sqrt(dh)), "q_std": float(q.std()), "k_std": float(k.std()),
            "raw_std": float(raw.std()), "scaled_std": float((raw / np.sqrt(dh)).std()),
            "indep_std": float(np.sqrt(dh) * q.std() * k.std()), "one_product": float(q.std() * k.std()),
            "ratio": float(raw.std() / (np.sqrt(dh) * q.std() * k.std())),
            "q_tok_std": float(q.std(0).mean()), "k_tok_std": float(k.std(0).mean()),   # a coordinate, token to token
            "q_row_corr": _mean_corr(q), "k_row_corr": _mean_corr(k),
            "top_raw": float(softmax(last).max()), "top_scaled": float(softmax(last / np.sqrt(dh)).max()),
            "n_visible": int(raw.size)}


def _mean_corr(rows: np.ndarray) -> float:
    """Mean correlation between two different rows (tokens) of a [T, dh] array."""
    c = np.corrcoef(rows)
    return float(c[np.triu_indices(len(rows), 1)].mean())


def width_figure(tr, layer: int, head: int):
    """Std of real partial dot products q[:w]·k[:w] against the width w, before and after ÷√w."""
    import plotly.graph_objects as go

    from ..figures import with_alt

    q = tr.block(layer, "q")[head].astype(np.float64)                          # [T, dh]
    k = tr.block(layer, "k")[tr.config["kv_head_of"][head]].astype(np.float64)
    T, dh = q.shape
    widths = [w for w in (2, 4, 8, 16, 32, 64, 128) if w <= dh]
    vis = np.tril_indices(T)
    raw = [float((q[:, :w] @ k[:, :w].T)[vis].std()) for w in widths]
    scaled = [r / np.sqrt(w) for r, w in zip(raw, widths)]
    fig = go.Figure([go.Scatter(x=widths, y=np.round(v, 5), mode="lines+markers", name=n, line={"color": c})
                     for v, n, c in ((raw, "std of q·k over the first w dims", "#d95f02"),
                                     (scaled, "the same ÷ √w", "#4c72b0"))])
    book_layout(fig, f"Layer {layer}, head {head}: the real scores' spread against the width summed over", 340)
    fig.update_layout(xaxis={"title": "width w (dimensions summed)", "type": "log", "tickvals": widths},
                      yaxis={"title": "std over the visible scores", "rangemode": "tozero"},
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    alt = ("Two lines against the width w: the std of the dot products of the real q and k over their first w "
           "dimensions (" + ", ".join(f"{w}: {r:.3g}" for w, r in zip(widths, raw)) + "), and the same divided by √w.")
    return with_alt(fig, alt)


def norm_numbers(lm, tr, layer: int) -> dict:
    """What the block's first norm does to the last token's real row: mean and RMS before and after."""
    from ..lm.verify import _norm1

    x = tr.residual[layer][-1].astype(np.float64)                              # [d] entering the block
    y = _norm1(lm, layer, x[None])[0]                                          # [d] the norm's real output
    llama = tr.config["arch"] == "llama"
    z = x / np.sqrt((x ** 2).mean()) if llama else (x - x.mean()) / x.std()    # before the learned gain
    rms = lambda v: float(np.sqrt((v ** 2).mean()))                            # noqa: E731
    gain = lm.model.get_parameter(("model.layers.{}.input_layernorm.weight" if llama
                                   else "transformer.h.{}.ln_1.weight").format(layer)).detach().double().numpy()
    return {"x_mean": float(x.mean()), "x_std": float(x.std()), "x_rms": rms(x), "x_absmax": float(np.abs(x).max()),
            "z_mean": float(z.mean()), "z_rms": rms(z), "y_mean": float(y.mean()), "y_rms": rms(y),
            "gain_min": float(gain.min()), "gain_max": float(gain.max()), "d": int(x.size)}


def ffn_numbers(tr, layer: int) -> dict:
    """The last token's hidden units: how many are negative, and (Llama) how open SiLU leaves each gate."""
    llama = tr.config["arch"] == "llama"
    pre = tr.block(layer, "ffn_gate" if llama else "ffn_pre")[-1].astype(np.float64)   # [d_ff]
    act = silu(pre) if llama else gelu_tanh(pre)                                         # [d_ff]
    out = {"d_ff": int(pre.size), "neg": float((pre < 0).mean()), "pre_std": float(pre.std()),
           "act_min": float(act.min()), "act_max": float(act.max()),
           "near_zero": float((np.abs(act) < 0.1 * np.abs(act).max()).mean()),
           "floor": float((silu if llama else gelu_tanh)(np.linspace(-5, 0, 5001)).min())}   # the curve's lowest value
    if llama:
        up = tr.block(layer, "ffn_up")[-1].astype(np.float64)
        out.update({"gate_neg_mean": float(np.abs(act[pre < 0]).mean()) if (pre < 0).any() else 0.0,
                    "gate_pos_mean": float(np.abs(act[pre >= 0]).mean()) if (pre >= 0).any() else 0.0,
                    "gate_median": float(np.median(act)), "up_std": float(up.std())})
    return out


def rope_rotate(x: np.ndarray, pos: int, theta: float = 10000.0) -> np.ndarray:
    """One head vector [dh] rotated to position ``pos`` (Llama's half-split pairs (i, i + dh/2))."""
    dh = x.shape[-1]
    ang = pos / theta ** (np.arange(0, dh, 2) / dh)                            # [dh/2]
    x1, x2 = x[: dh // 2], x[dh // 2:]
    return np.concatenate([x1 * np.cos(ang) - x2 * np.sin(ang), x2 * np.cos(ang) + x1 * np.sin(ang)])


def rope_table(tr, layer: int, head: int, shifts=(0, 10, 100, 1000)) -> tuple[str, dict]:
    """The real (pre-RoPE) query of the last token and key of the first, rotated to shifted positions.

    Returns a Markdown table of q_m·k_n for (m, n) = (m0 + s, n0 + s) and for a changed gap, and the numbers.
    """
    pre_q = tr.block(layer, "q_pre_rope")[head].astype(np.float64)              # [T, dh]
    pre_k = tr.block(layer, "k_pre_rope")[tr.config["kv_head_of"][head]].astype(np.float64)
    m0, n0 = pre_q.shape[0] - 1, 1
    dot = lambda m, n: float(rope_rotate(pre_q[m0], m) @ rope_rotate(pre_k[n0], n))   # noqa: E731
    rows = [(m0 + s, n0 + s, dot(m0 + s, n0 + s)) for s in shifts]
    other = [(m0 + g, n0, dot(m0 + g, n0)) for g in (5, 50)]
    lines = ["| query position m | key position n | m − n | q_m · k_n |", "|---:|---:|---:|---:|"]
    lines += [f"| {m} | {n} | {m - n} | {v:.6f} |" for m, n, v in rows + other]
    spread = max(v for *_, v in rows) - min(v for *_, v in rows)
    return "\n".join(lines), {"m0": m0, "n0": n0, "gap": m0 - n0, "same_gap_spread": float(spread),
                              "dot0": rows[0][2], "far_shift": shifts[-1], "other_dot": other[-1][2],
                              "other_gap": other[-1][0] - n0}


def rope_numbers(dh: int, base: float = 10000.0) -> dict:
    """RoPE's per-pair frequencies θ_i = base^(−2i/dh): the fastest, the one the slide shows, the slowest."""
    theta = base ** (-2 * np.arange(dh // 2) / dh)                              # [dh/2] radians per position
    return {"theta_first": float(theta[0]), "theta_slide_pair": dh // 8, "theta_slide": float(theta[dh // 8]),
            "theta_last_pair": dh // 2 - 1, "theta_last": float(theta[-1]),
            "turn_last": float(2 * np.pi / theta[-1]), "rope_base": float(base)}


def gqa_numbers(tr) -> dict:
    """KV-cache bytes per token (float32 and float16) with the real shapes, with GQA and as if every head had its own K, V."""
    c = tr.config
    per = lambda heads, nbytes: 2 * c["n_layers"] * heads * c["head_dim"] * nbytes   # noqa: E731
    return {"L": c["n_layers"], "H": c["n_heads"], "Hkv": c["n_kv_heads"], "group": c["n_heads"] // c["n_kv_heads"],
            "kv32": per(c["n_kv_heads"], 4), "mha32": per(c["n_heads"], 4), "kv16": per(c["n_kv_heads"], 2),
            "mha16": per(c["n_heads"], 2), "measured": int(tr.cache_bytes_per_token),
            "ctx": int(c["context_len"]), "ctx_mib_kv16": per(c["n_kv_heads"], 2) * c["context_len"] / 2**20,
            "ctx_mib_mha16": per(c["n_heads"], 2) * c["context_len"] / 2**20,
            "ctx_mib_kv32": per(c["n_kv_heads"], 4) * c["context_len"] / 2**20,
            "ctx_mib_mha32": per(c["n_heads"], 4) * c["context_len"] / 2**20}
