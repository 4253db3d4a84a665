"""Honest labels: a page or script says which weights its numbers came from."""

from llmbook import figures


def test_stand_in_notice_says_so():
    class T:
        is_standin = True
        provenance = {"weights_label": "stand-in weights (seed=0)", "model": "distilgpt2"}

    text = figures.weights_notice(T())
    assert text.startswith(":::{admonition} Stand-in weights\n:class: warning") and "random" in text
    T.is_standin = False
    assert "Real weights" in figures.weights_notice(T())
