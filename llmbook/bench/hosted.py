"""The book built as Read the Docs builds it, on real-weights paths: wall time and peak memory.

Read the Docs runs ``python -m sphinx -T -W --keep-going -b html`` with ``READTHEDOCS``
set (so the weights policy is ``real``), no cache of any kind, 15 minutes and 7 GB.
:func:`hosted_build` does the same in a copy of the repository's tracked files, with
``HF_HOME`` at a Hugging Face cache (after Read the Docs' download, or
:func:`llmbook.testing.hub.write_fake_hub`'s), ``HF_HUB_OFFLINE=1``, an empty
``LLMBOOK_CACHE`` and none of llmbook's own variables, inside a 7 GB memory cgroup where
the machine lets us make one. Peak memory is measured both ways: the tree's resident
anonymous memory (what the limit cannot reclaim) and all resident memory (mapped weight
files included). Not measured: the download itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .book import _tracked_copy
from .memory import TreeSampler, largest, memory_cap

RTD_MEMORY = 7 * 10**9                   # Read the Docs' build limit, 7 GB
HEADROOM_GOAL = 1.5 * 10**9              # anon memory the build keeps spare under it (measured: 5.3 GB)
HEADROOM_FLOOR = 0.75 * 10**9            # spare even counting mapped weight pages (measured: 1.4 GB)
OWN_VARIABLES = ("LLMBOOK_CACHE", "LLMBOOK_TRACES", "LLMBOOK_WEIGHTS", "LLMBOOK_LLAMA_TOKENIZER",
                 "LLMBOOK_ONLY", "LLMBOOK_GALLERY", "LLMBOOK_MAP_WEIGHTS", "HF_HUB_CACHE", "HF_HOME", "HF_HUB_OFFLINE")


def hosted_env(hub_home: Path, cache: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in OWN_VARIABLES}
    env.update(READTHEDOCS="True", HF_HUB_OFFLINE="1", HF_HOME=str(hub_home), LLMBOOK_CACHE=str(cache),
               PYTHONUNBUFFERED="1")
    return env


def hosted_build(repo: Path, hub_home: Path, work: Path, limit: int = RTD_MEMORY, tiny_from: Path | None = None) -> dict:
    """Build ``repo``'s book as Read the Docs would; the site is left in ``work/repo/book/_build/html``.

    ``tiny_from``: the tiny-model folder (``LLMBOOK_CACHE/tiny``) of another build running beside
    this one (CI). The two then train Part II's model once, whichever gets there first (the folder's
    lock), and the other waits: the same model, as training is seeded and pinned. Read the Docs
    trains it itself; the result says when it was shared."""
    root, cache = work / "repo", work / "cache"
    _tracked_copy(repo, root)
    if tiny_from is not None:
        tiny_from.mkdir(parents=True, exist_ok=True)
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "tiny").symlink_to(tiny_from.resolve(), target_is_directory=True)
    out = root / "book" / "_build"
    cmd = [sys.executable, "-m", "sphinx", "-T", "-W", "--keep-going", "-b", "html",
           "-d", str(out / "doctrees"), str(root / "book"), str(out / "html")]
    with memory_cap(limit) as cgroup:
        join = (lambda: cgroup.add(os.getpid())) if cgroup else None      # in the child, before exec
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=hosted_env(hub_home, cache), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, preexec_fn=join)
        with TreeSampler(proc.pid) as sampler:
            log = proc.communicate()[0]
        seconds = time.perf_counter() - t0
        capped = {"cgroup_limit_bytes": limit, "cgroup_peak_bytes": cgroup.peak,
                  "oom_kills": cgroup.oom_kills} if cgroup else {"cgroup_limit_bytes": None}
    return {"returncode": proc.returncode, "seconds": seconds, "peak_anon_bytes": sampler.peak_anon,
            "peak_rss_bytes": sampler.peak_rss, "largest_processes": largest(sampler.by_process),
            **capped, "html": str(out / "html"), "log": log, "tiny_shared": str(tiny_from) if tiny_from else None}


def summary(r: dict) -> str:
    gb = lambda b: f"{b / 1e9:.2f} GB"  # noqa: E731
    cap = (f"in a {gb(r['cgroup_limit_bytes'])} cgroup (its peak, page cache included: {gb(r['cgroup_peak_bytes'])}, "
           f"OOM kills: {r['oom_kills']})") if r.get("cgroup_limit_bytes") else "no cgroup could be made: sampled only"
    return (f"hosted build: {r['seconds']:.0f} s wall, peak anon {gb(r['peak_anon_bytes'])}, peak RSS "
            f"{gb(r['peak_rss_bytes'])}, headroom under 7 GB {gb(RTD_MEMORY - r['peak_anon_bytes'])} (anon), "
            f"{gb(RTD_MEMORY - r['peak_rss_bytes'])} (RSS); {cap}; largest processes (own anon peaks): "
            f"{r['largest_processes']}"
            + (f"; Part II's tiny model shared with the build beside it ({r['tiny_shared']})" if r.get("tiny_shared") else ""))
