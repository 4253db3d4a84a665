"""Every page of the built book, in a real headless Chromium, served from loopback."""

from __future__ import annotations

from pathlib import Path


from tests.browser.harness import open_page

SKIP = {"genindex.html", "search.html"}     # Sphinx's generated utility pages load JS indexes only


def _pages(site: Path) -> list[str]:
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html")
                  if p.name not in SKIP and "_static" not in p.parts and "_sources" not in p.parts)


DRAWN = """() => [...document.querySelectorAll('.llmbook-plotly .plotly-graph-div')]
                    .every(d => d.querySelector('.main-svg') && d._fullLayout)"""


def _plotly_state(page) -> dict:
    try:   # figures draw right after load; give a slow machine 15 s before calling it broken
        page.wait_for_function(DRAWN, timeout=15_000)
    except Exception:  # noqa: BLE001 - the state below says what is missing
        pass
    return page.evaluate("""() => {
        const divs = [...document.querySelectorAll('.llmbook-plotly .plotly-graph-div')];
        return {figures: divs.length,
                drawn: divs.filter(d => d.querySelector('.main-svg') && d._fullLayout).length,
                plotlyScripts: [...document.scripts].filter(s => /plotly/.test(s.src)).length};
    }""")


def test_site_has_pages(site):
    pages = _pages(site)
    assert "index.html" in pages and "part1/verify.html" in pages
    assert any(p.startswith("auto_examples/") for p in pages)


def test_every_page_loads_clean_and_offline(visits):
    problems = {}
    for rel, v in visits.items():
        log, state = v["log"], v["state"]
        issues = log.console_errors + log.page_errors + log.failed
        issues += [f"external request: {u}" for u in log.external_requests]
        if state["drawn"] != state["figures"]:
            issues.append(f"{state['drawn']} of {state['figures']} plotly figures drawn")
        if state["figures"] and state["plotlyScripts"] != 1:
            issues.append(f"plotly.js loaded {state['plotlyScripts']} times")
        if issues:
            problems[rel] = issues
    assert not problems, problems


def test_figures_draw_on_the_chapter_and_the_gallery(site, base_url, chromium):
    for rel, at_least in (("part1/verify.html", 2), ("part2/training.html", 2),
                          ("auto_examples/tokens/plot_token_counts.html", 1)):
        assert (site / rel).is_file(), f"{rel} was not built"
        page, _ = open_page(chromium, f"{base_url}/{rel}")
        state = _plotly_state(page)
        page.close()
        assert state["figures"] >= at_least and state["drawn"] == state["figures"], (rel, state)


def test_plotly_js_is_served_once_from_the_site(site):
    copies = [p for p in site.rglob("*.js") if "plotly" in p.name.lower()]
    assert [p.relative_to(site).as_posix() for p in copies] == ["_static/plotly/plotly.min.js"]
    for html in site.rglob("*.html"):
        text = html.read_text(errors="replace")
        assert "cdn.plot.ly" not in text and "require.min.js" not in text, html


def test_site_works_from_disk(site, chromium):
    """file:// with no server: what a reader gets opening the built folder offline."""
    page, log = open_page(chromium, (site / "part1" / "verify.html").as_uri())
    state = _plotly_state(page)
    page.close()
    assert state["figures"] >= 2 and state["drawn"] == state["figures"]
    assert not log.console_errors and not log.page_errors and not log.external_requests


def test_webgpu_adapter_is_available_headless(base_url, chromium):
    """CONTRACTS §6: SwiftShader gives the widget a WebGPU adapter in CI."""
    page, _ = open_page(chromium, f"{base_url}/index.html")
    has = page.evaluate("async () => !!(navigator.gpu && await navigator.gpu.requestAdapter())")
    page.close()
    assert has
