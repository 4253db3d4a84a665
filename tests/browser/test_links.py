"""Every internal link and anchor of the built site resolves (no network involved)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "link" and a.get("rel") in ("preconnect", "dns-prefetch")):
                self.hrefs.append(a[key])


def _parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(errors="replace"))
    return p


def broken_links(site: Path) -> tuple[list[str], int]:
    """(broken internal links, number of links seen) for every page of ``site``."""
    pages = [p for p in site.rglob("*.html") if "_static" not in p.parts]
    parsed = {p.resolve(): _parse(p) for p in pages}
    broken = []
    for page, links in parsed.items():
        for href in links.hrefs:
            url = urlparse(href)
            if url.scheme or href.startswith(("//", "mailto:", "javascript:", "data:")):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if not target.exists():
                broken.append(f"{page.relative_to(site.resolve())}: {href} (no file)")
            elif url.fragment and target.suffix == ".html":
                ids = parsed.get(target) or _parse(target)
                if url.fragment not in ids.ids:
                    broken.append(f"{page.relative_to(site.resolve())}: {href} (no anchor)")
    return broken, sum(len(p.hrefs) for p in parsed.values())


def test_internal_links_and_anchors_resolve(site):
    broken, seen = broken_links(site)
    assert not broken, broken[:20]
    assert seen > 500                                   # the check saw the site's links


def test_the_checker_finds_broken_links(tmp_path):
    (tmp_path / "a.html").write_text('<a href="b.html#here">ok</a><a href="b.html#gone">x</a><img src="c.png">')
    (tmp_path / "b.html").write_text('<h1 id="here">B</h1><a href="https://example.org">out</a>')
    broken, seen = broken_links(tmp_path)
    assert sorted(broken) == ["a.html: b.html#gone (no anchor)", "a.html: c.png (no file)"] and seen == 4
