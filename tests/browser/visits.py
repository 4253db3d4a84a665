"""One visit of every page of the built book, shared by the checks that need every page.

Each page is opened once: its console errors, failed and external requests and drawn
figures are recorded, then axe-core runs on it in the light theme (every rule) and the dark one
(the colour rules; transitions off, so a theme's colours apply at once), and pages with a plotly figure get
the figure audit of ``test_figure_labels`` (at their width and a phone's); pages with an animated
figure then show every slide and measure their controls' overlaps for ``test_layout`` (at a phone's
width and 1280 px). ``test_site``, ``test_a11y``, ``test_figure_labels`` and ``test_layout`` assert on
the record: each page is loaded once.
"""

from __future__ import annotations

from playwright.sync_api import Error as PlaywrightError

from tests.browser.harness import open_page
from tests.browser.test_a11y import COLOUR_RULES, NO_TRANSITIONS, violations
from tests.browser.test_figure_labels import PHONE, _has_figure, figure_audit
from tests.browser.test_layout import OVERLAPS, SHOW_ALL_SLIDES, _animates
from tests.browser.test_site import _pages, _plotly_state

AUDITS_FIGURES = True      # test_figure_labels reads "figure_audit" from this record

THEME = """(t) => new Promise((done) => {
    document.documentElement.dataset.theme = t; document.documentElement.dataset.mode = t;
    requestAnimationFrame(() => requestAnimationFrame(done));   // styles recomputed and painted
})"""


def visit_every_page(site, base_url, chromium, axe_source: str) -> dict:
    """{page: {"log": PageLog, "state": plotly figures drawn, "a11y": {theme: [violations]},
    "figure_audit": {...} on pages with a figure, "overlaps": {width: [...]} on pages with an animation}}

    A live page may reload itself once, seconds after it loaded, when its isolation service worker
    first takes control (live/isolation.js): a visit that the reload cut short is made again, in a
    new tab the worker then controls from the start."""
    out = {}
    for rel in _pages(site):
        for attempt in (1, 2):
            page, log = open_page(chromium, f"{base_url}/{rel}")
            try:
                out[rel] = _visit(page, log, site, rel, axe_source)
                break
            except PlaywrightError as err:
                if attempt == 2 or "Execution context was destroyed" not in str(err):
                    raise
            finally:
                page.close()
    return out


def _visit(page, log, site, rel: str, axe_source: str) -> dict:
    record = {"log": log, "state": _plotly_state(page)}
    page.add_script_tag(content=axe_source)
    page.add_style_tag(content=NO_TRANSITIONS)
    record["a11y"] = {}
    for theme, rules in (("light", None), ("dark", COLOUR_RULES)):     # the dark theme changes colours only
        page.evaluate(THEME, theme)
        record["a11y"][theme] = violations(page, rules)
    if _has_figure(site, rel):
        record["figure_audit"] = figure_audit(page)            # it leaves the page at a phone's width
    if _animates(site, rel):                                   # last: every slide shown, at a phone's width, then 1280 px
        record["overlaps"] = {}
        for width, height in ((PHONE["width"], PHONE["height"]), (1280, 900)):
            page.set_viewport_size({"width": width, "height": height})
            page.evaluate(SHOW_ALL_SLIDES)
            record["overlaps"][str(width)] = page.evaluate(OVERLAPS)
    return record
