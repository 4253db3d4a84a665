import plotly.graph_objects as go

from llmbook.figures.slideshow import Slide, Slideshow, caption_html


def test_caption_escapes_html_and_keeps_bold_and_code():
    out = caption_html("<script>alert(1)</script> **bold** `x < y`")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<strong>bold</strong>" in out and "<code>x &lt; y</code>" in out


def test_slideshow_html_has_every_step_label_alt_and_check():
    fig = go.Figure(go.Bar(x=[1, 2], y=[3, 4]))
    show = Slideshow('A "title" <b>', [
        Slide("One", "first", "alt one", [fig], check="agrees to 1e-7"),
        Slide("Two <i>", "second", 'alt "two"', ["<p>trusted</p>"])])
    html = show._repr_html_()
    assert html.count('class="ss-slide"') == 2 and html.count('class="ss-tab"') == 2
    assert 'aria-label="Step 2 of 2: Two &lt;i&gt;"' in html
    assert "alt &quot;two&quot;" in html and "✓ agrees to 1e-7" in html
    assert "Plotly.newPlot" in html and "<p>trusted</p>" in html
    assert "<b>" not in html.split("ss-title")[1].split("</figcaption>")[0]
    assert show.slug() == Slideshow('A "title" <b>', []).slug()    # stable ids across builds
