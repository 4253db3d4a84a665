"""Figures get the room they need: wide pages, narrow phones, controls clear of labels.

- pages with ``layout: wide`` give the article the window's width less the navigation
  at 1280 px, with no right-hand Contents column; other pages keep it;
- at 390 px no page scrolls sideways (a figure may scroll inside its own box);
- on every animated plotly figure of the book, the Play/Pause buttons and the slider
  overlap no title, axis title or tick label, nor each other (all slides shown, measured
  in the page, at 1280 and 390 px, during the one visit of each page: tests/browser/visits.py);
- the vocabulary grid's tokens fit their cells at 1280 px.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.harness import open_page

WIDE = ("part1/walkthrough-distilgpt2.html", "part1/block-tinyllama.html", "part1/embedding-distilgpt2.html",
        "part2/bpe.html", "part2/training.html", "try/widget.html")
NARROW = ("part1/verify.html", "index.html")

SHOW_ALL_SLIDES = """() => {
    document.querySelectorAll('.ss-slide[hidden]').forEach((s) => { s.hidden = false; });
    return Promise.all([...document.querySelectorAll('.plotly-graph-div')].map((d) => Plotly.Plots.resize(d)));
}"""

# every animated figure: boxes of its controls and of its texts, and any overlap between them
OVERLAPS = """() => {
    const box = (e) => e.getBoundingClientRect();
    const hit = (a, b) => a.width && b.width && a.left < b.right - 1 && b.left < a.right - 1
                          && a.top < b.bottom - 1 && b.top < a.bottom - 1;
    const out = [];
    for (const d of document.querySelectorAll('.plotly-graph-div')) {
        if (!(d._transitionData && d._transitionData._frames && d._transitionData._frames.length)) continue;
        const controls = [...d.querySelectorAll('.slider-group, .updatemenu-button')];
        const texts = [...d.querySelectorAll('.gtitle, .g-xtitle text, .g-ytitle text, .xtick text, .annotation-text')];
        for (const c of controls) for (const t of texts) {
            if (hit(box(c), box(t))) out.push(`${d.id}: control ${c.textContent.trim().slice(0, 20) || c.getAttribute('class')} covers "${t.textContent.slice(0, 40)}"`);
        }
        for (const s of d.querySelectorAll('.slider-group')) for (const b of d.querySelectorAll('.updatemenu-button')) {
            if (hit(box(s), box(b))) out.push(`${d.id}: the slider runs under the ${b.textContent.trim()} button`);
        }
        out.push(`#animated ${d.id}`);
    }
    return out;
}"""


def _animates(site, rel: str) -> bool:
    return "Plotly.addFrames" in (site / rel).read_text(errors="replace")


@pytest.mark.parametrize("rel", WIDE + NARROW)
def test_wide_pages_use_the_full_width_at_1280(rel, base_url, chromium):
    page, _ = open_page(chromium, f"{base_url}/{rel}")
    page.set_viewport_size({"width": 1280, "height": 900})
    width = page.evaluate("document.querySelector('.bd-article-container').getBoundingClientRect().width")
    toc = page.locator(".bd-sidebar-secondary").count()
    page.close()
    if rel in WIDE:
        assert width >= 900 and toc == 0, (rel, width, toc)
    else:
        assert width < 900 and toc == 1, (rel, width, toc)


@pytest.mark.parametrize("rel", WIDE + NARROW)
def test_no_page_scrolls_sideways_at_390(rel, base_url, chromium):
    page, log = open_page(chromium, f"{base_url}/{rel}")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    overflow = page.evaluate("document.scrollingElement.scrollWidth - document.documentElement.clientWidth")
    page.close()
    assert overflow <= 1, f"{rel} is {overflow} px wider than a 390 px phone"


@pytest.mark.parametrize("width", [1280, 390])
def test_animation_controls_never_cover_titles_or_labels(width, visits):
    """Measured during the one visit of each page (tests/browser/visits.py), every slide shown."""
    pages = {rel: v["overlaps"][str(width)] for rel, v in visits.items() if "overlaps" in v}
    assert len(pages) >= 7, sorted(pages)
    found = [(rel, f) for rel, fs in pages.items() for f in fs]
    animated = sum(1 for _, f in found if f.startswith("#animated"))
    problems = [f"{rel}: {f}" for rel, f in found if not f.startswith("#animated")]
    assert animated >= 10, f"only {animated} animated figures found"
    assert not problems, "\n".join(problems)


def test_the_vocabulary_grid_tokens_fit_their_cells(base_url, chromium):
    page, _ = open_page(chromium, f"{base_url}/part2/bpe.html")
    page.wait_for_function("() => document.querySelector('.plotly-graph-div .main-svg')")
    grid = page.evaluate("""() => {
        const d = [...document.querySelectorAll('.plotly-graph-div')]
                  .find((g) => /The vocabulary/.test(g.querySelector('.gtitle')?.textContent || ''));
        const texts = [...d.querySelectorAll('.heatmaplayer text, .hm text, text.textpoint')]
                      .filter((t) => t.textContent.trim());
        const cols = d._fullData[0].z[0].length, w = d._fullLayout.xaxis._length / cols;
        const sizes = texts.map((t) => parseFloat(getComputedStyle(t).fontSize));
        return {n: texts.length, cell: w, size: Math.min(...sizes),
                tooWide: texts.filter((t) => t.getBBox().width > w).map((t) => t.textContent)};
    }""")
    page.close()
    assert grid["n"] >= 700, grid
    assert grid["size"] >= 11, f"token labels at {grid['size']} px"
    assert len(grid["tooWide"]) <= 0.02 * grid["n"], grid["tooWide"][:20]


def test_dark_mode_puts_no_light_panel_behind_the_books_figures(base_url, chromium):
    """The theme's light panel for notebook outputs would hide figures' light-on-dark text."""
    page, _ = open_page(chromium, f"{base_url}/part2/bpe.html")
    page.evaluate("document.documentElement.dataset.theme = 'dark'; document.documentElement.dataset.mode = 'dark'")
    page.wait_for_timeout(500)
    panels = page.evaluate("""() => [...document.querySelectorAll('.cell_output .text_html')]
        .filter((o) => o.querySelector('.llmbook-plotly')).map((o) => getComputedStyle(o).backgroundColor)""")
    page.close()
    assert panels and set(panels) == {"rgba(0, 0, 0, 0)"}, panels
