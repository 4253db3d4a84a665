"""``llmbook bench --only book``: how long the book takes to build, and how much memory.

The build runs in a throw-away copy of the repository (the files git tracks), with
empty caches, so "cold" really is cold: no traces, no tiny-model artifacts, no
executed notebooks, no gallery outputs. Then, in the same copy:

- warm: the same build again with nothing changed (baseline: the cold build);
- touched: one code cell added to one chapter; only that chapter may re-execute
  (counted from the build log);

Peak memory is the largest sum of RSS over the build's whole process tree
(sphinx-build plus its notebook kernels), sampled every 0.2 s; Read the Docs
allows 7 GB. Needs a git checkout and the docs extra. Not measured: network time
(real weights are downloaded before a Read the Docs build starts).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .memory import TreeSampler

TOUCHED = "book/part1/gpt2-vs-llama.md"


def _tracked_copy(repo: Path, dst: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = repo / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)


def _build(root: Path, env: dict) -> dict:
    """One sphinx-build of ``root/book``: seconds, peak tree RSS, notebooks executed."""
    cmd = [sys.executable, "-m", "sphinx", "-nW", "--keep-going", "-b", "html",
           str(root / "book"), str(root / "book" / "_build" / "html")]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with TreeSampler(proc.pid) as sampler:
        log = proc.communicate()[0]
    if proc.returncode:
        raise RuntimeError(f"book build failed ({proc.returncode}):\n{log[-3000:]}")
    executed = sum(1 for line in log.splitlines() if "Executing notebook" in line)
    return {"seconds": time.perf_counter() - t0, "peak_rss_bytes": sampler.peak_rss,
            "notebooks_executed": executed}


def _site_sizes(html: Path) -> dict:
    pages = {str(p.relative_to(html)): p.stat().st_size for p in html.rglob("*.html")
             if "_static" not in p.parts and "_sources" not in p.parts}
    total = sum(p.stat().st_size for p in html.rglob("*") if p.is_file())
    biggest = sorted(pages.items(), key=lambda kv: -kv[1])[:5]
    return {"site_bytes": total, "pages": len(pages), "largest_pages": biggest}


def book_build(repo: Path | None = None) -> dict:
    repo = repo or Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="llmbook-bench-") as tmp:
        root = Path(tmp) / "repo"
        _tracked_copy(repo, root)
        env = {**os.environ, "LLMBOOK_CACHE": str(Path(tmp) / "cache"), "PYTHONUNBUFFERED": "1"}
        cold = _build(root, env)
        warm = _build(root, env)
        chapter = root / TOUCHED
        chapter.write_text(chapter.read_text() + "\n```{code-cell} python\n:tags: [remove-cell]\n1 + 1\n```\n")
        touched = _build(root, env)
        sizes = _site_sizes(root / "book" / "_build" / "html")
    return {"cold": cold, "warm": warm, "touched": touched, "touched_chapter": TOUCHED, **sizes}


def print_book(b: dict) -> None:
    cold = b["cold"]["seconds"]
    for name, label in (("cold", "book build, cold (empty caches)"), ("warm", "book rebuild, no change"),
                        ("touched", "book rebuild, one chapter's cell changed")):
        r = b[name]
        print(f"{label:<44}{r['seconds']:>11.1f}s{cold:>11.1f}s{r['seconds'] / cold:>8.3f}"
              f"  ({r['notebooks_executed']} chapter(s) executed)")
    peak = max(b[n]["peak_rss_bytes"] for n in ("cold", "warm", "touched"))
    print(f"{'book build peak memory (process tree) vs 7 GB':<44}{peak / 2**30:>10.2f}GB{7:>10.2f}GB"
          f"{peak / (7 * 2**30):>8.2f}")
    print(f"{'site size':<44}{b['site_bytes'] / 2**20:>10.1f}MB  ({b['pages']} pages; largest: "
          + ", ".join(f"{p} {s / 2**20:.2f} MB" for p, s in b["largest_pages"][:3]) + ")")
