"""Figures of one trace for the "Trusting the numbers" page: one head's attention, the logit lens."""

from __future__ import annotations

from ..figures import plotly_text, prob, token_labels, with_alt

OUTSIDE_BELOW = 0.5   # bars shorter than this share of the axis carry their label outside, longer ones inside
ZOOM_BELOW = 0.05     # when every bar is below this, the axis spans 0 to twice the longest bar, not 0 to 1


def attention_heatmap(trace, layer: int, head: int):
    """Plotly heatmap of one head's attention probabilities [T, T] (rows: queries)."""
    import plotly.graph_objects as go

    labels = token_labels(trace.tokens)
    probs = trace.attn[layer, head]                                   # [T, T]
    fig = go.Figure(go.Heatmap(
        z=probs.round(4), x=labels, y=labels, colorscale="Blues", zmin=0, zmax=1,
        hovertemplate="query %{y}<br>key %{x}<br>p = %{z:.3f}<extra></extra>",
        colorbar={"title": "p"}))
    fig.update_layout(title=f"{trace.model_name}: layer {layer}, head {head} attention",
                      xaxis_title="key (attended to)", yaxis_title="query (attending)",
                      yaxis_autorange="reversed", height=460, margin=dict(l=10, r=10, t=50, b=10),
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    top = probs.argmax(-1)
    return with_alt(fig, f"Heatmap of layer {layer}, head {head}'s attention over {len(labels)} tokens; "
                         "each row's largest weight: " + ", ".join(f"{labels[i]} → {labels[j]}" for i, j in enumerate(top)))


def logit_lens_figure(trace, position: int = -1, k: int = 5):
    """Bar-per-layer view of the lens: the final answer's probability after each layer.

    Each bar is labelled with that layer's own top candidate (the full top-k is in the
    hover). The x axis is 0–1, zoomed to twice the longest bar when all bars are below
    ``ZOOM_BELOW`` (random stand-in weights), so the bars stay visible. A short bar's
    label sits right of it and a long bar's inside it, so no label runs off the figure, even on a phone.
    """
    import plotly.graph_objects as go

    ids, probs = trace.lens_top_ids[:, position, :k], trace.lens_top_probs[:, position, :k]  # [L+1, k]
    n = ids.shape[0]
    names = ["embeddings"] + [f"after block {i}" for i in range(n - 1)]
    final = trace.lens_final_prob[:, position]                       # [L+1]
    xmax = 1.0 if final.max() >= ZOOM_BELOW else 2 * float(final.max()) or 1.0   # tiny bars: zoom in
    top = [f"top: {plotly_text(repr(trace.token_str(int(row[0]))))} {prob(p[0])}" for row, p in zip(ids, probs)]
    topk = ["<br>".join(f"{plotly_text(repr(trace.token_str(int(t))))} {prob(q)}" for t, q in zip(row, p))
            for row, p in zip(ids, probs)]
    fig = go.Figure(go.Bar(x=final, y=names, orientation="h", text=top, customdata=topk,
                           textposition=["inside" if f >= OUTSIDE_BELOW * xmax else "outside" for f in final],
                           insidetextanchor="start", cliponaxis=False, constraintext="none",
                           hovertemplate="%{y}: p(final answer) = %{x:.3g}<br>top-" + str(k)
                           + ":<br>%{customdata}<extra></extra>", marker_color="#4c72b0"))
    fig.update_xaxes(range=[0, xmax])
    fig.update_layout(title="Logit lens<br><sup>probability of the final answer after each layer</sup>",
                      xaxis_title="probability of the final top token", yaxis_autorange="reversed",
                      height=120 + 34 * n, margin=dict(l=10, r=10, t=60, b=10),
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    return with_alt(fig, "Logit lens, one bar per layer: " + "; ".join(
        f"{name}: {p:.2g}" for name, p in zip(names, final)))
