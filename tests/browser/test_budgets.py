"""Page budgets on the built site: each page's own HTML (inline figure data included)
plus the page-specific data it links (``_static/tinylm/``); shared assets (theme,
plotly.js, MathJax) load once for the whole site and are reported, not budgeted."""

from __future__ import annotations

import re

MB = 1_000_000
BUDGET = 2 * MB
EXCEPTIONS = {"part1/embedding-distilgpt2.html": 3 * MB, "part1/embedding-tinyllama.html": 3 * MB}   # WebGL point clouds of whole vocabularies


def test_every_page_fits_its_budget(site):
    sizes = {p.relative_to(site).as_posix(): p.stat().st_size + _linked_data(p) for p in site.rglob("*.html")
             if "_static" not in p.parts}
    over = {page: size for page, size in sizes.items() if size > EXCEPTIONS.get(page, BUDGET)}
    assert not over, over
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    print(f"\n{len(sizes)} pages, largest {max(sizes.values()) / MB:.2f} MB; site {total / MB:.1f} MB")


def _linked_data(page) -> int:
    links = re.findall(r'(?:src|href)="([^"]*_static/tinylm/[^"?#]+)', page.read_text(errors="replace"))
    return sum((page.parent / link).resolve().stat().st_size for link in set(links))
