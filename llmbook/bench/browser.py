"""Serve a folder on loopback and drive Debian's Chromium with the WebGPU flags.

Used by ``llmbook bench`` (the in-page engines' rows) and by the browser tests.
Every network request the page makes is recorded, so a test can assert that
nothing leaves loopback; console errors and uncaught page errors are collected.
Not handled: browsers other than Debian's /usr/bin/chromium.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# CONTRACTS §6 (--headless is Playwright's own launch option)
CHROMIUM_ARGS = [
    "--no-sandbox", "--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def browser_missing() -> str | None:
    """Why this machine cannot drive Chromium here (printed as "skipped"), or None if it can."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install llmbook[test])"
    if not Path(CHROMIUM).exists():
        return f"Debian chromium not found at {CHROMIUM}"
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    mounts: dict[str, str] = {}

    def log_message(self, *args):  # keep pytest output readable
        pass

    def translate_path(self, path: str) -> str:
        for prefix, folder in self.mounts.items():
            if path.startswith(prefix + "/"):
                rest = super().translate_path("/" + path[len(prefix) + 1:]).removeprefix(self.directory)
                return folder + rest
        return super().translate_path(path)


@contextmanager
def serve(folder: Path, extra: dict[str, Path] | None = None):
    """An HTTP server for ``folder`` on 127.0.0.1 and a free port; yields its base URL.
    ``extra`` mounts more folders under URL prefixes (``{"/_weights": Path(...)}``)."""
    mounts = {k.rstrip("/"): str(Path(v).resolve()) for k, v in (extra or {}).items()}
    handler = functools.partial(type("_Handler", (_QuietHandler,), {"mounts": mounts}), directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PageLog:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def external_requests(self) -> list[str]:
        return [u for u in self.requests
                if urlparse(u).scheme in ("http", "https", "ws", "wss")
                and urlparse(u).hostname not in LOOPBACK]


@contextmanager
def browser(width: int = 1280):
    """A headless Debian Chromium with a fresh profile (Playwright, no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="llmbook-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": 900})
        try:
            yield context
        finally:
            context.close()


def open_page(context, url: str, log: PageLog | None = None, init_script: str | None = None):
    """Open url in a new tab, recording console errors, page errors and requests.

    ``init_script`` runs in this tab before the page's own scripts (e.g. to remove WebGPU).
    """
    log = log if log is not None else PageLog()
    page = context.new_page()
    if init_script:
        page.add_init_script(init_script)
    page.on("console", lambda m: m.type == "error" and log.console_errors.append(m.text))
    page.on("pageerror", lambda e: log.page_errors.append(str(e)))
    page.on("request", lambda r: log.requests.append(r.url))
    page.on("requestfailed", lambda r: log.failed.append(f"{r.url} {r.failure}"))
    page.goto(url, wait_until="load")
    return page, log


def run_bench_page(html: str, files: dict[str, Path], what: str, timeout_ms: int = 900_000) -> dict:
    """``html`` served on loopback beside ``files`` ({name: path}, linked) and ``tinylm`` (the page-side
    modules); the value of its ``window.result`` once set. An ``{"error"}`` result is raised, naming ``what``."""
    from .widget import TINYLM

    with tempfile.TemporaryDirectory(prefix="llmbook-bench-page-") as tmp:
        (Path(tmp) / "tinylm").symlink_to(TINYLM)
        for name, path in files.items():
            (Path(tmp) / name).symlink_to(path)
        (Path(tmp) / "bench.html").write_text(html)
        with serve(Path(tmp)) as url, browser() as ctx:
            page = ctx.new_page()
            page.goto(f"{url}/bench.html")
            page.wait_for_function("window.result !== undefined", timeout=timeout_ms)
            result = page.evaluate("window.result")
    if "error" in result:
        raise RuntimeError(f"{what} failed in Chromium: {result['error']}")
    return result
