"""One visit of every page of the built book, shared by the checks that need every page.

Each page is opened once: its console errors, failed and external requests and drawn
figures are recorded, then axe-core runs on it in the light and the dark theme
(transitions off, so a theme's colours apply at once). ``test_site`` and ``test_a11y``
assert on the record; loading 40 pages once instead of twice saves a third of a minute.
"""

from __future__ import annotations

from tests.browser.harness import open_page
from tests.browser.test_a11y import NO_TRANSITIONS, violations
from tests.browser.test_site import _pages, _plotly_state

THEME = """(t) => new Promise((done) => {
    document.documentElement.dataset.theme = t; document.documentElement.dataset.mode = t;
    requestAnimationFrame(() => requestAnimationFrame(done));   // styles recomputed and painted
})"""


def visit_every_page(site, base_url, chromium, axe_source: str) -> dict:
    """{page: {"log": PageLog, "state": plotly figures drawn, "a11y": {theme: [violations]}}}"""
    out = {}
    for rel in _pages(site):
        page, log = open_page(chromium, f"{base_url}/{rel}")
        state = _plotly_state(page)
        page.add_script_tag(content=axe_source)
        page.add_style_tag(content=NO_TRANSITIONS)
        a11y = {}
        for theme in ("light", "dark"):
            page.evaluate(THEME, theme)
            a11y[theme] = violations(page)
        page.close()
        out[rel] = {"log": log, "state": state, "a11y": a11y}
    return out
