"""GPT-2 vs Llama on the same footing, read from the loaded models and their traces.

Everything here is counted or measured: parameters per component from
``named_parameters()`` (a tied LM head counted once, as the checkpoint stores
it), architecture facts from the ``transformers`` configs, KV-cache bytes per
token both from the formula and from the growth of the real cache in a trace.
Not handled: quantised weights, sliding-window or cross-layer KV sharing.
"""

from __future__ import annotations

import numpy as np

from ..figures import book_layout, with_alt

COMPONENTS = ("token embedding", "position embedding", "attention", "feed-forward", "norms", "LM head")


def component_of(name: str) -> str:
    """Which component a checkpoint parameter name belongs to."""
    if name.endswith(("wte.weight", "embed_tokens.weight")):
        return "token embedding"
    if name.endswith("wpe.weight"):
        return "position embedding"
    if ".attn." in name or ".self_attn." in name:
        return "attention"
    if ".mlp." in name:
        return "feed-forward"
    if "ln" in name.split(".")[-2] or "norm" in name:
        return "norms"
    if name.startswith("lm_head"):
        return "LM head"
    raise ValueError(f"no component for parameter {name!r}")


def component_params(lm) -> dict[str, int]:
    """Parameter counts per component; shared (tied) tensors are counted once."""
    counts = dict.fromkeys(COMPONENTS, 0)
    for name, p in lm.model.named_parameters(remove_duplicate=True):     # a tied head appears once
        counts[component_of(name)] += p.numel()
    return counts


def kv_bytes_per_token(facts: dict, bytes_per_number: int = 4) -> int:
    """K and V, every layer, every KV head: 2 · L · H_kv · d_head · bytes."""
    return 2 * facts["n_layers"] * facts["n_kv_heads"] * facts["head_dim"] * bytes_per_number


def _biases(lm) -> str:
    biases = [p.numel() for n, p in lm.model.named_parameters() if n.endswith(".bias")]
    return f"{len(biases)} tensors, {sum(biases):,} numbers" if biases else "none"


def facts_table(pairs) -> str:
    """Markdown table: one row per architectural choice, one column per (lm, trace) pair."""
    cols = [_facts(lm, tr) for lm, tr in pairs]
    rows = [f"| | {' | '.join(f'**{lm.spec.name}**' for lm, _ in pairs)} |",
            "|---|" + "---|" * len(pairs)]
    for key in cols[0]:
        rows.append(f"| {key} | " + " | ".join(c[key] for c in cols) + " |")
    return "\n".join(rows)


def facts_html(pairs) -> str:
    """The same table as :func:`facts_table`, as HTML in a box that scrolls sideways on a narrow screen."""
    import html
    import re

    cols = [_facts(lm, tr) for lm, tr in pairs]
    cell = lambda t: re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(t))   # noqa: E731  (`x` -> <code>)
    head = "".join(f"<th>{html.escape(lm.spec.name)}</th>" for lm, _ in pairs)
    body = "".join(f"<tr><th>{html.escape(k)}</th>" + "".join(f"<td>{cell(c[k])}</td>" for c in cols) + "</tr>"
                   for k in cols[0])
    return (f'<div style="overflow-x:auto"><table class="table" style="min-width:36em">'
            f"<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _facts(lm, tr) -> dict[str, str]:
    c, f = lm.model.config, tr.config
    llama = f["arch"] == "llama"
    params = sum(component_params(lm).values())
    return {
        "parameters": f"{params:,}",
        "layers × width": f"{f['n_layers']} × {f['d_model']:,}",
        "normalisation": (f"RMSNorm (eps {c.rms_norm_eps:g}), no mean, no bias" if llama
                          else f"LayerNorm (eps {c.layer_norm_epsilon:g}), mean and bias"),
        "positions": (f"RoPE (base `rope_theta` = {c.rope_parameters['rope_theta']:g}), rotates Q and K in "
                      "every layer" if llama
                      else f"learned table `wpe`, {c.n_positions:,} × {f['d_model']}, added once"),
        "attention heads": (f"{f['n_heads']} query heads, {f['n_kv_heads']} KV heads (GQA, groups of "
                            f"{f['n_heads'] // f['n_kv_heads']})" if f["n_kv_heads"] != f["n_heads"]
                            else f"{f['n_heads']} heads, each with its own K and V (MHA)"),
        "head width": str(f["head_dim"]),
        "feed-forward": (f"SwiGLU: SiLU(gate) · up, {f['d_model']:,} → 2 × {f['d_ff']:,} → {f['d_model']:,}" if llama
                         else f"GELU ({c.activation_function}), {f['d_model']} → {f['d_ff']:,} → {f['d_model']}"),
        "bias vectors": _biases(lm),
        "LM head": ("tied: the token embedding, transposed" if lm.head_is_tied
                    else f"untied: its own {f['vocab_size']:,} × {f['d_model']:,} matrix"),
        "vocabulary": f"{f['vocab_size']:,} ({'SentencePiece BPE' if llama else 'byte-level BPE'})",
        "context": f"{f['context_len']:,} tokens",
        "KV cache per token (float32)": (f"{kv_bytes_per_token(f):,} B by the formula, "
                                         f"{tr.cache_bytes_per_token:,} B measured"),
    }


def params_figure(pairs):
    """Grouped bars: parameters per component for each model (log axis: they differ 10×)."""
    import plotly.graph_objects as go

    fig, alt = go.Figure(), []
    for (lm, _), color in zip(pairs, ("#4c72b0", "#dd8452")):
        counts = component_params(lm)
        alt.append(f"{lm.spec.name} " + ", ".join(f"{k} {_short(v)}" for k, v in counts.items()))
        fig.add_trace(go.Bar(y=list(COMPONENTS), x=[counts[k] or None for k in COMPONENTS], orientation="h",
                             name=lm.spec.name, marker_color=color,
                             text=[_short(counts[k]) if counts[k] else _none(lm, k) for k in COMPONENTS],
                             textposition="outside", cliponaxis=False,
                             hovertemplate="%{y}: %{x:,}<extra>" + lm.spec.name + "</extra>"))
    book_layout(fig, "Parameters per component (log scale)", 400)
    fig.update_layout(margin={"r": 60}, barmode="group", xaxis_type="log", yaxis_autorange="reversed",
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    fig.update_xaxes(title_text="parameters")
    return with_alt(fig, "Parameters per component: " + "; ".join(alt))


def _none(lm, component: str) -> str:
    """Why a component has no parameters of its own: a tied head, or no position table."""
    if component == "LM head" and lm.head_is_tied:
        return "0 (tied)"
    return "0 (none)"


def _short(n: int) -> str:
    if not n:
        return "0"
    return f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.0f} k"


def kv_figure(pairs, contexts=(128, 512, 1024, 2048)):
    """KV-cache size against context length, from the measured bytes per token."""
    import plotly.graph_objects as go

    fig, alt = go.Figure(), []
    for (lm, tr), color in zip(pairs, ("#4c72b0", "#dd8452")):
        per = tr.cache_bytes_per_token
        alt.append(f"{lm.spec.name} {per:,} bytes per token")
        ctx = [n for n in contexts if n <= tr.config["context_len"]]
        fig.add_trace(go.Scatter(x=ctx, y=[per * n / 2**20 for n in ctx], mode="lines+markers", name=lm.spec.name,
                                 line={"color": color}, hovertemplate="%{x} tokens: %{y:.1f} MiB<extra></extra>"))
    book_layout(fig, "KV cache (float32) vs cached tokens", 340)
    fig.update_layout(xaxis_title="tokens in the cache", yaxis_title="MiB",
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    return with_alt(fig, "Lines of KV-cache size growing linearly with the cached tokens: " + ", ".join(alt))


def activation_figure():
    """GELU and SiLU from their definitions (the functions the verifier uses)."""
    import plotly.graph_objects as go

    from ..lm.verify import gelu_tanh, silu

    x = np.linspace(-5, 5, 201)
    fig = go.Figure([go.Scatter(x=np.round(x, 3), y=np.round(f(x), 4), mode="lines", name=n, line={"color": c})
                     for f, n, c in ((gelu_tanh, "GELU (GPT-2)", "#4c72b0"), (silu, "SiLU (Llama's gate)", "#dd8452"))])
    book_layout(fig, "GELU and SiLU, from their definitions", 320)
    fig.update_layout(xaxis_title="x", yaxis_title="f(x)",
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    return with_alt(fig, "GELU and SiLU curves from -5 to 5: both near zero for negative inputs, "
                         "both close to the identity for large positive ones.")
