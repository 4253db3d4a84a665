"""Part I's nine-step walk-through of one real pass, as a :class:`~llmbook.slideshow.Slideshow`.

Every number on a slide is read from a trace (or the model's weights): the
prompt's tokens, the embeddings, the residual stream after each block with the
logit lens, the logits over the whole vocabulary, the softmax, the pick, the
generation loop with its KV cache, and the finished text. Captions quote shapes
and values from the same trace. Stand-in traces are labelled on the page by the
chapter (:func:`llmbook.figures.weights_notice`) and the captions never claim a
meaningful prediction for them.

Not handled: traces without a generation loop (``max_new_tokens=0``) or without
the logit lens; batched traces.
"""

from __future__ import annotations

import html

import numpy as np

from ..figures import animate, book_layout, heatmap, plotly_text, token_labels
from ..figures.slideshow import Slide, Slideshow

DIMS_SHOWN = 64           # embedding / residual dimensions drawn in heatmaps
TOP_SHOWN = 10            # candidates drawn in the logits and softmax bars (= the trace's alternatives)
STEPS = ("Input", "Tokenize", "Embed", "Layers", "Logits", "Softmax", "Sample", "Loop", "Done")
SCROLL_BOX = "max-height:{h};overflow-y:auto"   # Done slide: long answers scroll inside the slide


def walkthrough(lm, tr) -> Slideshow:
    """The nine slides for ``tr`` (captured from ``lm``, whose weights the Logits slide reads)."""
    slides = [_input(lm, tr), _tokenize(tr), _embed(tr), _layers(tr), _logits(lm, tr),
              _softmax(tr), _sample(tr), _loop(tr), _done(tr)]
    return Slideshow(f"{display_name(tr)}: one pass, step by step", slides)


def display_name(tr) -> str:
    return {"tinyllama": "TinyLlama-1.1B-Chat"}.get(tr.model_name, tr.model_name)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


# --- 1 · Input ----------------------------------------------------------------

def _input(lm, tr) -> Slide:
    prompt = tr.settings["prompt"]
    n_bytes = len(prompt.encode())
    panel = f'<div class="llmbook-text">{html.escape(prompt)}</div>'
    caption = (f"The prompt is {len(prompt)} characters ({n_bytes} bytes of UTF-8). "
               "A language model never sees characters: the next step turns them into token ids.")
    if tr.settings.get("chat"):
        from ..lm.tokenizers import format_chat

        framed = format_chat(lm.spec, lm.tokenizer, prompt)
        panel += ('<p>wrapped in the chat template the model was fine-tuned on:</p>'
                  f'<div class="llmbook-text">{_mark_specials(framed)}</div>')
        caption = (f"The user's message is {len(prompt)} characters. {display_name(tr)} is a chat model, "
                   f"so the message is wrapped in its chat template first: {len(framed)} characters, "
                   "with markers saying who speaks and an open turn for the assistant's reply.")
    return Slide("Input", caption, alt=f"The prompt text: {prompt}", figures=[panel])


def _mark_specials(text: str) -> str:
    out = html.escape(text)
    for special in ("&lt;|user|&gt;", "&lt;|assistant|&gt;", "&lt;/s&gt;", "&lt;s&gt;"):
        out = out.replace(special, f'<span class="special">{special}</span>')
    return out


# --- 2 · Tokenize -------------------------------------------------------------

def token_chips(tokens: list[str], ids: list[int], generated_from: int | None = None) -> str:
    """Token pieces with their ids as HTML chips (spaces as ␣, newlines as ↵).

    A chip's colour follows its token id, so the same token always looks the same
    (three commas are three chips of one colour) and neighbours usually differ.
    """
    chips = []
    for k, (t, i) in enumerate(zip(tokens, ids)):
        shown = html.escape(t.replace(" ", "␣").replace("\n", "↵"))
        gen = " gen" if generated_from is not None and k >= generated_from else ""
        chips.append(f'<span class="chip c{int(i) % 6}{gen}" title="position {k}, id {i}">{shown}<small>{i}</small></span>')
    return f'<div class="llmbook-tokens">{"".join(chips)}</div>'


def _tokenize(tr) -> Slide:
    T, V = len(tr.token_ids), tr.config["vocab_size"]
    repeats = T - len(set(tr.token_ids))
    caption = (f"The tokenizer splits the text into **{T} tokens**, each an id in a vocabulary of "
               f"{V:,}: the model's input is the list of {T} integers shown under the pieces. "
               "Leading spaces belong to the token that follows them (shown as ␣). A chip's colour "
               "follows its id, so a repeated token is the same colour wherever it stands"
               + (f" ({repeats} of the {T} positions repeat an earlier id)." if repeats else "."))
    if tr.token_ids and tr.tokens[0] == "<s>":
        caption += " Position 0 is `<s>`, the beginning-of-sequence token every Llama input starts with."
    alt = "Tokens and ids: " + ", ".join(f"{t!r} {i}" for t, i in zip(tr.tokens, tr.token_ids))
    return Slide("Tokenize", caption, alt, [token_chips(tr.tokens, tr.token_ids)])


# --- 3 · Embed ----------------------------------------------------------------

def _embed(tr) -> Slide:
    from plotly.subplots import make_subplots

    labels, d = token_labels(tr.tokens), tr.config["d_model"]
    x0 = tr.residual[0][:, :DIMS_SHOWN]                                      # [T, 64]
    if "pos_emb" in tr.arrays:
        parts = [("token embedding", tr.tok_emb[:, :DIMS_SHOWN]),
                 ("+ position embedding", tr.pos_emb[:, :DIMS_SHOWN]), ("= input to block 0", x0)]
    else:
        parts = [("token embedding = input to block 0", x0)]
    zmax = float(np.percentile(np.abs(np.concatenate([p for _, p in parts])), 99)) or 1.0
    fig = make_subplots(rows=1, cols=len(parts), subplot_titles=[n for n, _ in parts], shared_yaxes=True,
                        horizontal_spacing=0.03)
    for c, (name, z) in enumerate(parts, 1):
        fig.add_trace(heatmap(z, y=labels, name=name, zmax=zmax, showscale=c == len(parts), decimals=3), 1, c)
    book_layout(fig, f"Embeddings: first {DIMS_SHOWN} of {d} dimensions per token", 340)
    fig.update_yaxes(autorange="reversed")
    T = len(tr.tokens)
    if "pos_emb" in tr.arrays:
        caption = (f"Each id selects a row of the token-embedding matrix `wte` [{tr.config['vocab_size']:,}, {d}] "
                   f"and each position a row of the learned position matrix `wpe` [{tr.config['context_len']}, {d}]; "
                   f"their sum, `[{T}, {d}]`, enters the first block. The position row is what tells the "
                   "model where a token stands: attention alone cannot see order. The heatmaps show the "
                   f"first {DIMS_SHOWN} of the {d} numbers per token.")
    else:
        caption = (f"Each id selects a row of `embed_tokens` [{tr.config['vocab_size']:,}, {d}], giving `[{T}, {d}]`. "
                   "There is no position vector to add: Llama encodes positions inside every attention layer, "
                   "by rotating the query and key vectors attention compares (RoPE), so the same word "
                   "has the same input vector wherever it stands.")
    alt = f"Heatmaps of the first {DIMS_SHOWN} embedding dimensions for each of the {T} tokens."
    return Slide("Embed", caption, alt, [fig])


# --- 4 · Layers ---------------------------------------------------------------

def _layers(tr) -> Slide:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    res = tr.residual                                                         # [L+1, T, d]
    L, labels = res.shape[0] - 1, token_labels(tr.tokens)
    norms = np.linalg.norm(res.astype(np.float64), axis=-1)                   # [L+1, T]
    lens_top = tr.lens_top_ids[:, :, 0]                                       # [L+1, T]
    zmax = np.percentile(np.abs(res[:, :, :DIMS_SHOWN]), 99, axis=(1, 2)) + 1e-9   # [L+1] scale per snapshot
    names = ["embeddings"] + [f"after block {i}" for i in range(L)]

    def traces(layer):
        text = [plotly_text(tr.token_str(int(t)).replace(" ", "␣")) for t in lens_top[layer]]
        hm = heatmap(res[layer, :, :DIMS_SHOWN], y=labels, name=names[layer], zmax=float(zmax[layer]),
                     decimals=3)
        hm.colorbar.update(x=bar_x, xanchor="left", len=0.9, title={"text": "value", "side": "right"})
        return [hm,
                go.Bar(x=np.round(norms[layer], 2), y=labels, orientation="h", text=text, textposition="auto",
                       marker_color="#4c72b0", hovertemplate="%{y}<br>‖x‖ = %{x:.1f}<br>lens top-1: %{text}<extra></extra>")]

    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], shared_yaxes=True, horizontal_spacing=0.1,
                        subplot_titles=[f"residual stream, first {DIMS_SHOWN} dims", "‖x‖ · lens top-1"])
    bar_x = fig.layout.xaxis.domain[1] + 0.005          # the colour scale sits in the gap between the panels
    for c, t in enumerate(traces(0), 1):
        fig.add_trace(t, 1, c)
    fig.frames = [go.Frame(data=traces(layer), name=names[layer], traces=[0, 1]) for layer in range(L + 1)]
    book_layout(fig, f"The residual stream through {L} blocks", 360 + 8 * len(labels))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(range=[0, float(norms.max()) * 1.05], title_text="‖x‖, length of the vector", row=1, col=2)
    fig.update_xaxes(title_text="dimension", row=1, col=1)
    animate(fig, names, ["emb"] + [str(i) for i in range(L)], prefix="")
    T, d = res.shape[1:]
    grow = norms[-1].mean() / max(norms[0].mean(), 1e-9)
    caption = (f"The `[{T}, {d}]` stream passes through {L} blocks; each block reads it and **adds** its "
               f"attention and feed-forward outputs back. Press Play or drag the slider: the mean length "
               f"‖x‖ goes from {_fmt(norms[0].mean())} to {_fmt(norms[-1].mean())} ({grow:.1f}×). The heatmap's colour "
               "scale is set per snapshot, so read sizes from the bars. The bar labels are the logit lens: what the model would predict if it stopped after that block.")
    alt = (f"Animated heatmap of the residual stream for {T} tokens over {L + 1} snapshots, with bars of "
           f"each token's vector length and its logit-lens top token after each block.")
    return Slide("Layers", caption, alt, [fig])


# --- 5 · Logits ---------------------------------------------------------------

def _logits(lm, tr) -> Slide:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from ..lm.verify import verify_lm_head

    z = tr.logits[-1].astype(np.float64)                                      # [V]
    V = z.size
    counts, edges = np.histogram(z, bins=80)
    top = np.argsort(-z)[:TOP_SHOWN]
    names = [_name(tr, i) for i in top]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], horizontal_spacing=0.12,
                        subplot_titles=[f"all {V:,} scores", f"top {TOP_SHOWN}"])
    fig.add_trace(go.Bar(x=np.round((edges[:-1] + edges[1:]) / 2, 3), y=counts, marker_color="#8c8c8c",
                         hovertemplate="logit ≈ %{x:.2f}: %{y} tokens<extra></extra>"), 1, 1)
    fig.add_trace(go.Bar(x=np.round(z[top], 3), y=[plotly_text(repr(n)) for n in names], orientation="h",
                         marker_color="#4c72b0", hovertemplate="%{y}: %{x:.3f}<extra></extra>"), 1, 2)
    fig.update_yaxes(type="log", title_text="tokens", row=1, col=1)
    fig.update_xaxes(title_text="logit", row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=2)
    book_layout(fig, "The LM head scores every token in the vocabulary", 380)
    fig.update_layout(showlegend=False)
    check = verify_lm_head(lm, tr)
    d = tr.config["d_model"]
    how = ("the **same matrix** as the token embedding (the head is tied): a score is the dot product of the "
           "final vector with each token's own embedding, a similarity" if lm.head_is_tied else
           "its **own matrix** `lm_head` (untied from `embed_tokens`): a score is the dot product of the final "
           "vector with that token's row of the head")
    matrix = "wte" if lm.head_is_tied else "lm_head"                      # stored as [V, d]
    spread = float(z.std()) or 1.0
    caption = (f"The last position's final vector `[{d}]` goes through the final norm and then {how}. "
               f"That gives **{V:,} scores** at once: `[{d}] · {matrix}ᵀ [{d}, {V:,}] → [{V:,}]` "
               f"(`{matrix}` is stored as `[{V:,}, {d}]`, one row per token, so it is transposed). "
               f"The highest is {names[0]!r} at {_fmt(z[top[0]])}. The median score is {_fmt(np.median(z))} and "
               f"the scores spread by {_fmt(spread)} (standard deviation), so the winner stands "
               f"{(z[top[0]] - np.median(z)) / spread:.1f} standard deviations above the middle of the pack.")
    alt = (f"Histogram of all {V} logits and a bar chart of the top {TOP_SHOWN}: "
           + ", ".join(f"{n!r} {z[i]:.2f}" for n, i in zip(names, top)))
    verdict = (f"recomputed from the weights in float64 numpy: the {V:,} scores agree to "
               f"{check['logits'].max_abs_diff:.1e} (max |difference|), same top token: "
               f"{'yes' if check['top_token_matches'] else 'NO'}")
    return Slide("Logits", caption, alt, [fig], check=verdict)


def _name(tr, token_id) -> str:
    """A token's display string; the trace stores those of every id it ranked (top-10s, lens)."""
    key = str(int(token_id))
    return tr.vocab[key] if key in tr.vocab else f"id {key}"


# --- 6 · Softmax --------------------------------------------------------------

def _softmax(tr) -> Slide:
    import plotly.graph_objects as go

    z = tr.logits[-1].astype(np.float64)
    top = np.argsort(-z)[:TOP_SHOWN]
    e = np.exp(z - z.max())
    p = e / e.sum()
    names = [plotly_text(repr(_name(tr, i))) for i in top]
    stages = [("logits z", z[top]), ("exp(z − max z)", e[top]), ("÷ sum over all tokens = probability", p[top])]

    def bar(values):
        return go.Bar(x=names, y=np.round(values, 5), marker_color="#55a868",
                      text=[f"{v:.3g}" for v in values], textposition="outside",
                      hovertemplate="%{x}: %{y:.4g}<extra></extra>")

    fig = go.Figure(bar(stages[0][1]))
    fig.frames = [go.Frame(data=[bar(v)], name=n,
                           layout={"yaxis": {"range": _range(v)}, "title": {"text": f"Softmax, stage: {n}"}})
                  for n, v in stages]
    book_layout(fig, f"Softmax, stage: {stages[0][0]}", 380)
    fig.update_yaxes(range=_range(stages[0][1]))
    animate(fig, [n for n, _ in stages], ["z", "exp", "p"], duration=1200)
    entropy = float(-(p[p > 0] * np.log(p[p > 0])).sum())
    caption = (f"Softmax turns scores into probabilities: subtract the largest score (so exp cannot overflow), "
               f"exponentiate, divide by the sum over all {z.size:,} tokens. Press Play to watch the top "
               f"{TOP_SHOWN} go through the three stages. The top token gets p = {_fmt(p[top[0]])}; these "
               f"{TOP_SHOWN} hold {_fmt(p[top].sum())} of the mass, and the entropy is {entropy:.2f} nats "
               f"(ln {z.size:,} = {np.log(z.size):.2f} would be a uniform guess).")
    alt = "Bars of the top candidates' probabilities: " + ", ".join(
        f"{_name(tr, i)!r} {v:.3g}" for i, v in zip(top, p[top]))
    return Slide("Softmax", caption, alt, [fig])


def _range(v):
    lo, hi = float(min(v.min(), 0)), float(max(v.max(), 0))
    pad = 0.15 * (hi - lo or 1)
    return [lo - (pad if lo < 0 else 0), hi + pad]


# --- 7 · Sample ---------------------------------------------------------------

def _sample(tr) -> Slide:
    import plotly.graph_objects as go

    s, sampling = tr.steps[0], tr.settings["sampling"]
    names = [plotly_text(repr(tr.token_str(i))) for i in s["top_ids"]]
    colors = ["#d95f02" if i == s["token_id"] else "#9ecae1" for i in s["top_ids"]]
    cum = np.cumsum(s["top_probs"])
    fig = go.Figure([go.Bar(x=names, y=np.round(s["top_probs"], 5), marker_color=colors, name="probability",
                            hovertemplate="%{x}: p = %{y:.4g}<extra></extra>"),
                     go.Scatter(x=names, y=np.round(cum, 5), mode="lines+markers", name="running total",
                                yaxis="y2", line={"color": "#7f7f7f", "dash": "dot"})])
    book_layout(fig, "Picking the next token", 360)
    fig.update_layout(legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
                      yaxis={"title": {"text": "probability"}},
                      yaxis2={"title": {"text": "running total"}, "overlaying": "y", "side": "right",
                              "rangemode": "tozero", "showgrid": False})
    if sampling["temperature"] == 0:
        how = ("The book's traces decode **greedily** (temperature 0): the token with the highest "
               "probability wins, so the same prompt always gives the same text.")
    else:
        how = (f"The loop **samples** at temperature {sampling['temperature']} (seed {sampling['seed']}): "
               "a token is drawn with its probability, so the orange bar need not be the tallest.")
    caption = (f"{how} The pick is {repr(s['token'])} (id {s['token_id']}, p = {_fmt(s['prob'])}), "
               f"shown in orange among the top {len(names)}; the dotted line is the running total.")
    alt = f"Bar chart of the top {len(names)} candidates; the chosen token {s['token']!r} has p = {s['prob']:.3g}."
    return Slide("Sample", caption, alt, [fig])


# --- 8 · Loop -----------------------------------------------------------------

def loop_rows(tr) -> list[np.ndarray]:
    """The attention row that produced each generated token, one per step: ``[S]`` each.

    Step 1's row is the prompt pass (the last prompt position reading the T prompt
    positions, ``attn[-1]``); step t > 1's is the loop pass that fed generated token
    t-1 back in and read the S = T + t - 1 cached positions. Last layer, mean of heads.
    """
    rows = [tr.attn[-1, :, -1, :].mean(0)]                                      # [T]
    rows += [tr.arrays[f"loop.{t}.attn"][-1].mean(0) for t in range(1, len(tr.steps))]   # [T+t]
    return rows


def _loop(tr) -> Slide:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    steps, T = tr.steps, len(tr.token_ids)
    tokens = tr.tokens + [s["token"] for s in steps]
    rows, n = loop_rows(tr), len(steps)
    kib = [s["cache_bytes"] / 1024 for s in steps]

    def traces(k):   # k = 0..n-1: the pass that picks generated token k
        labels = token_labels(tokens[:rows[k].size])
        return [go.Bar(x=list(range(1, k + 2)), y=np.round(kib[:k + 1], 1), marker_color="#8172b2",
                       hovertemplate="step %{x}: %{y:.0f} KiB cached<extra></extra>"),
                go.Bar(x=labels, y=np.round(rows[k], 4), marker_color="#c44e52",
                       hovertemplate="%{x}: %{y:.3f}<extra></extra>")]

    fig = make_subplots(rows=1, cols=2, column_widths=[0.35, 0.65], horizontal_spacing=0.1,
                        subplot_titles=["KV cache size (KiB)",
                                        f"attention of the reading position, block {tr.config['n_layers'] - 1}"])
    for c, t in enumerate(traces(0), 1):
        fig.add_trace(t, 1, c)
    names = [f"step {k + 1}: picks {plotly_text(repr(s['token']))}" for k, s in enumerate(steps)]
    fig.frames = [go.Frame(data=traces(k), name=names[k], traces=[0, 1]) for k in range(n)]
    book_layout(fig, "The generation loop", 400)
    fig.update_layout(showlegend=False)
    fig.update_xaxes(range=[0.5, n + 0.5], title_text="generation step", row=1, col=1)
    fig.update_xaxes(title_text="cached position", row=1, col=2)
    fig.update_yaxes(range=[0, max(kib) * 1.1], title_text="KiB", row=1, col=1)
    fig.update_yaxes(range=[0, 1], title_text="attention (mean of heads)", row=1, col=2)
    animate(fig, names, [str(k + 1) for k in range(n)], duration=900)
    per_token = tr.cache_bytes_per_token
    caption = (f"The chosen token is appended and fed back in, one at a time, for **{n} steps**. Step 1 is "
               f"the prompt pass (the prefill: all {T} positions at once); after it only the new token goes "
               "through the model, because the keys and values of the earlier positions wait in the "
               f"**KV cache**, which grows by {per_token:,} bytes per token (from {steps[0]['cache_bytes']:,} "
               f"bytes after the {T}-token prompt to {steps[-1]['cache_bytes']:,}). The red bars are how the "
               f"reading position spreads its attention over everything cached, in the last layer "
               f"(block {tr.config['n_layers'] - 1}, counting from 0), averaged over its {tr.config['n_heads']} heads; "
               f"a cached step took {_ms(steps)}.")
    alt = (f"Animated bars over {n} generation steps: the KV cache growing, and the reading position's "
           "attention over the cached positions at each step.")
    return Slide("Loop", caption, alt, [fig])


def _ms(steps) -> str:
    times = [s["forward_seconds"] for s in steps[1:] if s["forward_seconds"]]
    return f"{1000 * float(np.median(times)):.0f} ms (median, on the build machine)" if times else "n/a"


# --- 9 · Done -----------------------------------------------------------------

def _done(tr) -> Slide:
    gen_ids = tr.generated_ids
    tokens = tr.tokens + [tr.token_str(i) for i in gen_ids]
    chips = token_chips(tokens, tr.token_ids + gen_ids, generated_from=len(tr.token_ids))
    text = (f'<div class="llmbook-text">{html.escape(tr.settings["prompt"])}'
            f'<span class="gen">{html.escape("".join(tr.token_str(i) for i in gen_ids))}</span></div>')
    rows = "".join(f"<tr><td>{s['step'] + 1}</td><td><code>{html.escape(repr(s['token']))}</code></td>"
                   f"<td>{s['token_id']}</td><td>{s['prob']:.3g}</td><td>{s['cache_len']}</td></tr>"
                   for s in tr.steps)
    table = ('<table class="table"><thead><tr><th>step</th><th>token</th><th>id</th><th>p</th>'
             f'<th>positions cached</th></tr></thead><tbody>{rows}</tbody></table>')
    chips = _scroll(chips, "7.5rem", "all tokens, prompt and answer")
    table = _scroll(table, "14rem", "one row per generation step")
    caption = (f"{len(gen_ids)} new tokens (outlined in orange; a chip's colour follows its id), each the result "
               f"of steps 3–7 on everything before it. The loop stops at `max_new_tokens` = {tr.settings['max_new_tokens']} or at the "
               "end-of-sequence token.")
    if tr.is_standin:
        caption += " With stand-in (random) weights the words are arbitrary: only the mechanics are real."
    alt = "The prompt followed by the generated text: " + "".join(tr.token_str(i) for i in gen_ids)
    return Slide("Done", caption, alt, [text, chips, table])


def _scroll(inner: str, height: str, label: str) -> str:
    """A box that scrolls past ``height``: a 40-step answer must not make its slide twice as tall."""
    style = SCROLL_BOX.format(h=height)
    return f'<div class="ss-scroll" role="region" tabindex="0" aria-label="{label}" style="{style}">{inner}</div>'



# --- numbers the chapters' prose quotes ----------------------------------------

def _entropy(z: np.ndarray) -> float:
    """Entropy in nats of softmax(z): −Σ p ln p."""
    z = z.astype(np.float64)
    logp = z - z.max() - np.log(np.exp(z - z.max()).sum())
    return float(-(np.exp(logp) * logp).sum())


FINAL_NORM = {"gpt2": "transformer.ln_f.weight", "llama": "model.norm.weight"}   # the final norm's gain


def token_rank(tr, text_token_id: int) -> tuple[int, float]:
    """Rank (1 = top) and probability of one token id in the next-token distribution after the prompt."""
    z = tr.logits[-1].astype(np.float64)                                          # [V]
    p = np.exp(z - z.max())
    return int((z > z[text_token_id]).sum()) + 1, float(p[text_token_id] / p.sum())


def page_facts(lm, tr) -> dict:
    """Plain Python numbers and strings for a walk-through's prose (glued by the chapter).

    Everything is read from ``tr`` (and ``lm``'s tokenizer and parameter count): prompt
    and tokens, residual-stream lengths per block, the logit lens at the last position,
    the final norm, entropy of the next-token distribution, KV-cache bytes by formula
    and as measured, and the cost of generating with and without the cache.
    """
    c, T = tr.config, len(tr.token_ids)
    L, V, d = c["n_layers"], c["vocab_size"], c["d_model"]
    res = tr.residual.astype(np.float64)                                         # [L+1, T, d]
    norms = np.linalg.norm(res, axis=-1).mean(1)                                 # [L+1]
    added = np.linalg.norm(np.diff(res, axis=0), axis=-1).mean(1)                # [L] what each block adds
    first, last = res[0, -1], res[-1, -1]                                         # [d]
    pick = tr.steps[0]["token_id"]
    lens_top = tr.lens_top_ids[:, -1, 0]                                         # [L+1]
    settled = int(max((k for k in range(L + 1) if lens_top[k] != pick), default=-1) + 1)
    kv_formula = 2 * L * c["n_kv_heads"] * c["head_dim"] * 4                     # K and V · layers · heads · dims · float32
    n = len(tr.steps)
    f = {
        "prompt": tr.settings["prompt"], "n_tokens": T, "n_chars": len(tr.settings["prompt"]),
        "tokens_md": " ".join(f"`{t.replace(' ', '␣').replace(chr(10), '↵')}`" for t in tr.tokens),
        "n_layers": L, "n_heads": c["n_heads"], "n_kv_heads": c["n_kv_heads"], "head_dim": c["head_dim"],
        "d_model": d, "vocab": V, "context_len": c["context_len"], "n_unique": len(set(tr.token_ids)),
        "norm_in": float(norms[0]), "norm_out": float(norms[-1]), "norm_growth": float(norms[-1] / norms[0]),
        "norm_block1": float(norms[1]), "add_first": float(added[0]), "add_last": float(added[-1]),
        "cos_in_out": float(first @ last / (np.linalg.norm(first) * np.linalg.norm(last))),
        "final_norm_in": float(np.linalg.norm(last)), "final_norm_out": float(np.linalg.norm(tr.final_norm[-1])),
        "pick": tr.steps[0]["token"], "pick_p": float(tr.steps[0]["prob"]),
        "lens_settled": settled, "lens_settled_name": "the embeddings" if settled == 0 else f"block {settled - 1}",
        "lens_p_in": float(tr.lens_final_prob[0, -1]), "lens_p_out": float(tr.lens_final_prob[-1, -1]),
        "entropy": _entropy(tr.logits[-1]), "ln_vocab": float(np.log(V)),
        "top10_mass": float(sum(tr.steps[0]["top_probs"][:TOP_SHOWN])),
        "head_params": V * d, "model_params": int(sum(p.numel() for p in lm.model.parameters())),
        "head_tied": bool(lm.head_is_tied),
        "kv_per_token": int(tr.cache_bytes_per_token), "kv_formula": kv_formula,
        "kv_no_gqa": 2 * L * c["n_heads"] * c["head_dim"] * 4,
        "kv_full_mib": float(kv_formula * c["context_len"] / 2**20),
        "kv_prompt": int(tr.steps[0]["cache_bytes"]), "kv_end": int(tr.steps[-1]["cache_bytes"]),
        "n_steps": n, "positions_cached": T + n - 1, "positions_uncached": sum(T + k for k in range(n)),
        "answer": "".join(tr.token_str(i) for i in tr.generated_ids),
    }
    z = tr.logits[-1].astype(np.float64)                                          # [V]
    gain = lm.model.get_parameter(FINAL_NORM[lm.spec.arch]).detach().double().numpy()   # [d]
    f.update({
        "logit_median": float(np.median(z)), "logit_std": float(z.std()),
        "lens_top_in": tr.token_str(int(lens_top[0])), "lens_top_in_p": float(tr.lens_top_probs[0, -1, 0]),
        "lens_top_in_is_input": bool(int(lens_top[0]) == tr.token_ids[-1]),
        "final_gain_is_one": bool(np.all(gain == 1.0)), "final_gain_mean": float(np.abs(gain).mean()),
        "sqrt_d": float(np.sqrt(d)), "uniform_p": 1.0 / V,
        "uncached_first": T, "uncached_last": T + n - 1,
    })
    f["effective_choices"] = float(np.exp(f["entropy"]))
    f["head_share"] = f["head_params"] / f["model_params"]
    f["gqa_saving"] = c["n_heads"] // c["n_kv_heads"]
    return f
