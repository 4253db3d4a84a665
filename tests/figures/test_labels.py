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


def test_small_probabilities_never_read_zero():
    from llmbook.figures import prob

    assert [prob(p) for p in (0.4213, 0.0131, 0.00031, 3.1e-9, 0.0, 1.0)] == \
        ["0.42", "0.013", "3.1e-4", "3.1e-9", "0", "1.00"]
