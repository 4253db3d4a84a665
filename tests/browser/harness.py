"""Screenshots of built pages, as a reader sees them.

``python -m tests.browser.harness SITE OUT [--width=390] [--dark] PAGE.html...`` (full pages) or
``python -m tests.browser.harness --slides SITE OUT [--dark] PAGE.html...`` (one PNG per slide).

Serving and the browser itself live in :mod:`llmbook.bench.browser`, shared with
``llmbook bench``; this module re-exports them for the tests.
"""

from __future__ import annotations

from pathlib import Path

from llmbook.bench.browser import CHROMIUM, CHROMIUM_ARGS, LOOPBACK, PageLog, browser, open_page, serve

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "LOOPBACK", "PageLog", "browser", "open_page", "serve",
           "screenshot_pages", "screenshot_slides"]


def screenshot_pages(site: Path, pages: list[str], out: Path, dark: bool = False, width: int = 1280) -> list[Path]:
    """Full-page PNGs of built pages at a viewport ``width``, for looking at what a reader sees."""
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with serve(site) as base, browser(width) as ctx:
        for rel in pages:
            page, _ = open_page(ctx, f"{base}/{rel}")
            if dark:
                page.evaluate("document.documentElement.dataset.theme = 'dark'")
            page.wait_for_timeout(800)
            path = out / f"{rel.replace('/', '_').replace('.html', '')}-{width}{'-dark' if dark else ''}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)
            page.close()
    return shots


def _crop_to(page, element, path: Path) -> None:
    """Full-page shot cropped to the element (an element shot can catch the sticky header)."""
    from PIL import Image

    page.evaluate("window.scrollTo(0, 0)")          # the sticky header is drawn where the view is
    page.screenshot(path=str(path), full_page=True)
    x, y, w, h = element.evaluate("e => { const r = e.getBoundingClientRect(); "
                                  "return [r.left + scrollX, r.top + scrollY, r.width, r.height]; }")
    Image.open(path).crop((int(x), int(y), int(x + w), int(y + h))).save(path)


def screenshot_slides(site: Path, rel: str, out: Path, dark: bool = False) -> list[Path]:
    """One PNG per step of every slideshow on a page (clicking Next, as a reader would)."""
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with serve(site) as base, browser() as ctx:
        page, _ = open_page(ctx, f"{base}/{rel}")
        if dark:
            page.evaluate("document.documentElement.dataset.theme = 'dark'")
        for k, show in enumerate(page.locator(".llmbook-slideshow.ss-ready").all()):
            n = show.locator(".ss-slide").count()
            for step in range(n):
                page.wait_for_timeout(800)
                path = out / f"{rel.replace('/', '_').replace('.html', '')}-{k}-{step + 1}{'-dark' if dark else ''}.png"
                _crop_to(page, show, path)
                shots.append(path)
                if step < n - 1:
                    show.locator(".ss-next").click()
        page.close()
    return shots


if __name__ == "__main__":
    import sys

    args = sys.argv[1:]
    dark = "--dark" in args
    width = int(next((a.split("=", 1)[1] for a in args if a.startswith("--width=")), 1280))
    args = [a for a in args if a != "--dark" and not a.startswith("--width=")]
    if args and args[0] == "--slides":
        _, site, out, *pages = args
        for rel in pages:
            for p in screenshot_slides(Path(site), rel, Path(out), dark=dark):
                print(p)
    else:
        site, out, *pages = args
        for p in screenshot_pages(Path(site), pages, Path(out), dark=dark, width=width):
            print(p)
