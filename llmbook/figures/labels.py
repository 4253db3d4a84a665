"""Honest labels: what a page or a script says about the weights behind its numbers.

Every page built from a trace says whether it came from stand-in or real weights
(:func:`weights_notice`), and how closely the recomputed steps agree. Not handled:
traces from other libraries (they have no ``provenance``).
"""

from __future__ import annotations

import html


def plotly_text(text: str) -> str:
    """Token text made safe for plotly, which reads labels as a small HTML dialect.

    Without this, TinyLlama's ``<s>`` and ``</s>`` are taken for tags and draw as nothing.
    Not handled: text that is *meant* as plotly markup (titles with ``<b>``); escape only data.
    """
    return html.escape(str(text), quote=False)


def prob(p: float) -> str:
    """A probability as a reader should see it: ``0.42``, ``0.013``, ``3.1e-4``; never a bare ``0.00``."""
    p = float(p)
    if p >= 0.1:
        return f"{p:.2f}"
    if p >= 0.01:
        return f"{p:.3f}"
    if p > 0:
        mantissa, exponent = f"{p:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return "0"


def weights_notice(trace_or_lm) -> str:
    """MyST admonition for the top of a page: stand-in or real, and from where."""
    prov = getattr(trace_or_lm, "provenance", None)
    standin = trace_or_lm.is_standin
    label = prov["weights_label"] if prov else trace_or_lm.weights_label
    name = prov["model"] if prov else trace_or_lm.name
    if standin:
        return (":::{admonition} Stand-in weights\n:class: warning\n\n"
                f"The published **{name}** weights were not available when this page was built, so "
                f"its figures come from {label}. The tokenizer, the shapes and every step of the "
                "computation are the real model's; the values are random, so what they produce "
                "(predictions, attention patterns, embedding maps) means nothing. A build that can reach the Hugging Face hub (or has the weights in its "
                "cache) uses the published weights, as the book online does.\n:::")
    return f":::{{admonition}} Real weights\n:class: note\n\nThe figures on this page come from {label}.\n:::"


def verification_table(checks: dict, rel_tol: float = 1e-5) -> str:
    """Markdown table of :mod:`llmbook.verify` results, one row per comparison."""
    rows = ["| recomputed from the weights | max abs difference | relative | agrees |",
            "|---|---:|---:|:---:|"]
    for name, c in checks.items():
        rows.append(f"| {name} | {c.max_abs_diff:.1e} | {c.rel:.1e} | {'✓ yes' if c.ok(rel_tol) else '✗ NO'} |")
    return "\n".join(rows)


def provenance_table(trace) -> str:
    """Markdown table of a trace's provenance (model, weights, dtype, versions…)."""
    rows = ["| | |", "|---|---|"]
    for key, value in trace.provenance.items():
        if isinstance(value, float):
            value = f"{value:.3g}"
        rows.append(f"| {key} | `{value}` |")
    return "\n".join(rows)


def standin_note(lm_or_trace) -> str:
    """One line for a script's output: which weights produced these numbers."""
    label = getattr(lm_or_trace, "weights_label", None) or lm_or_trace.provenance["weights_label"]
    if lm_or_trace.is_standin:
        return f"NOTE: {label}: shapes and mechanics are real, the values are random."
    return f"Weights: {label}."
