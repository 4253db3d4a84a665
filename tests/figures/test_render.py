import plotly.graph_objects as go
import plotly.io as pio

from llmbook import figures


def _html(fig):
    return fig._repr_html_()


def test_figures_render_as_offline_html_with_stable_ids():
    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    assert pio.renderers.default == "llmbook"
    html = _html(fig)
    assert "Plotly.newPlot" in html and "<script" in html
    assert "cdn" not in html.lower() and "require" not in html
    assert html == _html(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])))      # deterministic
    assert html != _html(go.Figure(go.Bar(x=["a", "b"], y=[1, 3])))
    animated = go.Figure(go.Bar(y=[1]), frames=[go.Frame(data=[go.Bar(y=[2])], name="a")])
    assert "Plotly.animate" not in _html(animated)                         # no auto-play on load
    bundle = fig._repr_mimebundle_()
    assert "application/vnd.plotly.v1+json" in bundle                      # JupyterLab still works


def test_alt_text_reaches_screen_readers_escaped():
    import plotly.graph_objects as go

    from llmbook.figures import with_alt
    from llmbook.figures.render import BookRenderer

    fig = with_alt(go.Figure(go.Bar(x=[1], y=[2])), 'bars <b>"quoted"</b>')
    html = BookRenderer().to_mimebundle(fig.to_dict())["text/html"]
    div_id = html.split('id="')[1].split('-alt"')[0]
    assert f'aria-describedby="{div_id}-alt"' in html
    assert "bars &lt;b&gt;&quot;quoted&quot;&lt;/b&gt;" in html and "<b>" not in html.split("</p>")[0]
    plain = BookRenderer().to_mimebundle(go.Figure(go.Bar(x=[1], y=[2])).to_dict())["text/html"]
    assert "aria-describedby" not in plain
