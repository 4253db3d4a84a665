"""Peak memory of a process tree, and a hard cap like Read the Docs' 7 GB.

- :class:`TreeSampler` samples a process and its children every 0.2 s: resident anonymous
  memory (``RssAnon``: what a memory cgroup cannot reclaim) and all resident memory
  (``VmRSS``: anonymous plus mapped files, such as a safetensors file being read).
- :func:`memory_cap` puts a process tree in a new memory cgroup with a limit, where the
  machine lets us make one (cgroup v1 ``memory.limit_in_bytes`` or v2 ``memory.max``, as
  root); the cgroup's own peak includes the page cache it holds.

Not handled: swap (none on the machines this is for); cgroups of other users.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _tree(pid: int) -> list[int]:
    import psutil

    try:
        proc = psutil.Process(pid)
        return [pid, *(c.pid for c in proc.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def _command(pid: int) -> str:
    """A short name: the program and, for Python, its module or script (``sphinx``, ``ipykernel_launcher``)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return "?"
    args = [a.decode(errors="replace") for a in args if a]
    name = Path(args[0]).name if args else "?"
    if name.startswith("python") and len(args) > 1:
        name = args[2] if args[1] == "-m" and len(args) > 2 else Path(args[1]).name
    return name


def largest(by_process: dict, n: int = 3) -> str:
    """The processes with the largest anonymous peaks, as text."""
    top = sorted(by_process.values(), key=lambda ca: -ca[1])[:n]
    return ", ".join(f"{c} {a / 1e9:.2f} GB" for c, a in top)


class TreeSampler:
    """Peak RssAnon and VmRSS summed over a process tree, sampled in a thread."""

    def __init__(self, pid: int, every: float = 0.2):
        self.pid, self.every = pid, every
        self.peak_anon = self.peak_rss = 0
        self.by_process: dict[int, tuple[str, int]] = {}     # pid -> (command, its own peak RssAnon)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = _tree(self.pid)
            anon = {p: 1024 * _status_kb(p, "RssAnon") for p in pids}
            for p, a in anon.items():
                if a > self.by_process.get(p, ("", 0))[1]:
                    self.by_process[p] = (_command(p), a)
            self.peak_anon = max(self.peak_anon, sum(anon.values()))
            self.peak_rss = max(self.peak_rss, 1024 * sum(_status_kb(p, "VmRSS") for p in pids))
            time.sleep(self.every)

    def __enter__(self) -> "TreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class MemoryCgroup:
    """A child memory cgroup with a limit: ``add(pid)``, then ``peak`` (bytes, page cache included)."""

    def __init__(self, path: Path, version: int):
        self.path, self.version = path, version

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    @property
    def peak(self) -> int:
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        return int((self.path / name).read_text())

    @property
    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in (self.path / name).read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0


def _own_memory_cgroup() -> tuple[Path, int] | None:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        num, controllers, rel = line.split(":", 2)
        if "memory" in controllers.split(","):
            base = Path("/sys/fs/cgroup/memory") / rel.lstrip("/")
            return (base, 1) if (base / "memory.limit_in_bytes").exists() else None
    unified = Path("/sys/fs/cgroup") / Path("/proc/self/cgroup").read_text().split("0::", 1)[-1].strip().lstrip("/")
    return (unified, 2) if (unified / "memory.max").exists() else None


@contextmanager
def memory_cap(limit_bytes: int):
    """Yield a :class:`MemoryCgroup` limited to ``limit_bytes``, or None where none can be made."""
    found = _own_memory_cgroup()
    if not found or not os.access(found[0], os.W_OK):
        yield None
        return
    parent, version = found
    path = parent / f"llmbook-{uuid.uuid4().hex[:8]}"
    try:
        path.mkdir()
        (path / ("memory.limit_in_bytes" if version == 1 else "memory.max")).write_text(str(limit_bytes))
    except OSError:
        yield None
        return
    try:
        yield MemoryCgroup(path, version)
    finally:
        for _ in range(50):                     # the processes have exited; the kernel lets go shortly
            try:
                path.rmdir()
                break
            except OSError:
                time.sleep(0.1)
