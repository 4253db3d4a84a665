"""Figures of one trace for the "Trusting the numbers" page: one head's attention, the logit lens."""

from __future__ import annotations

from ..figures import token_labels, with_alt

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
    """Bar-per-layer view of the lens: the top-k candidates after each layer at one position."""
    import plotly.graph_objects as go

    ids, probs = trace.lens_top_ids[:, position, :k], trace.lens_top_probs[:, position, :k]  # [L+1, k]
    n = ids.shape[0]
    names = ["embeddings"] + [f"after block {i}" for i in range(n - 1)]
    final = trace.lens_final_prob[:, position]                       # [L+1]
    text = [", ".join(f"{trace.token_str(int(t))!r} {p:.2g}" for t, p in zip(row_ids, row_p))
            for row_ids, row_p in zip(ids, probs)]
    fig = go.Figure(go.Bar(x=final, y=names, orientation="h", text=text, textposition="auto",
                           hovertemplate="%{y}<br>top-5: %{text}<extra></extra>",
                           marker_color="#4c72b0"))
    fig.update_layout(title="Logit lens: probability of the final answer after each layer",
                      xaxis_title="probability of the final top token", yaxis_autorange="reversed",
                      height=60 + 34 * n, margin=dict(l=10, r=10, t=50, b=10),
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    return with_alt(fig, "Logit lens, one bar per layer: " + "; ".join(
        f"{name}: {p:.2g}" for name, p in zip(names, final)))
