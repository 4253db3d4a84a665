"""Which weights a model gets, and the stand-in weights when the real ones are missing.

Policy (CONTRACTS §2), from the ``weights=`` argument or ``LLMBOOK_WEIGHTS``:

- ``real``: the published weights through ``from_pretrained`` (hub, HF cache, a
  local folder). Unreachable weights fail within seconds with a how-to.
- ``standin``: the exact architecture with deterministic seeded weights.
- ``auto``: real when reachable, else stand-in; on Read the Docs, real.

Not handled: partial checkpoints, quantised weights, sharded downloads resumed by
hand. Deciding "unreachable" uses one TCP connect with a short timeout, so a
proxy that accepts connections and then hangs is not detected here.
"""

from __future__ import annotations

import os
import socket
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from .specs import ModelSpec

WEIGHTS_ENV = "LLMBOOK_WEIGHTS"
POLICIES = ("real", "standin", "auto")
STANDIN_SEED = 0
STANDIN_STD = 0.02  # the models' own initializer_range


class WeightsUnavailable(RuntimeError):
    """Real weights were asked for and cannot be had."""


@dataclass(frozen=True)
class WeightsChoice:
    kind: str            # "real" | "standin"
    source: str          # hub id or local folder (real); "seed=N" (stand-in)

    @property
    def identity(self) -> str:
        """What a trace cache keys on: the same string means the same weights."""
        return f"{self.kind}:{self.source}"


def choose_weights(spec: ModelSpec, weights: str | None = None, source: str | None = None,
                   seed: int = STANDIN_SEED) -> WeightsChoice:
    """Resolve the policy to real or stand-in without loading anything."""
    policy = (weights or os.environ.get(WEIGHTS_ENV) or "auto").lower()
    if policy not in POLICIES:
        raise ValueError(f"weights must be one of {', '.join(POLICIES)}, not {policy!r}")
    if policy == "standin":
        return WeightsChoice("standin", f"seed={seed}")
    where = source or spec.hub_id
    if policy == "real" or os.environ.get("READTHEDOCS"):
        return WeightsChoice("real", where)
    return WeightsChoice("real", where) if real_weights_reachable(spec, where) else \
        WeightsChoice("standin", f"seed={seed}")


def real_weights_reachable(spec: ModelSpec, source: str) -> bool:
    """True when from_pretrained(source) can succeed: a local folder, the HF cache, or the hub."""
    if Path(source).is_dir():
        return (Path(source) / "config.json").is_file()
    if _cached_weights(source):
        return True
    return not hub_offline() and hub_reachable()


def _cached_weights(repo_id: str) -> bool:
    names = ("model.safetensors", "model.safetensors.index.json")
    return any(cached_file(repo_id, n) for n in names)


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache as the environment says now (``HF_HUB_CACHE``, ``HF_HOME``).

    huggingface_hub reads these once, at import; reading them per call lets a process (or a
    test) change them later.
    """
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return Path(home) / "hub"


def cached_file(repo_id: str, name: str) -> Path | None:
    """``name`` of ``repo_id``'s main revision in the HF cache, or None."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, name, cache_dir=hf_cache_dir())
    return Path(found) if isinstance(found, str) else None


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def hub_reachable(timeout: float = 3.0) -> bool:
    """One TCP connect to the hub endpoint: seconds at most, no retries."""
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def unavailable_message(spec: ModelSpec, source: str, err: Exception | None = None) -> str:
    why = f" ({type(err).__name__}: {err})" if err else ""
    return (
        f"the real {spec.name} weights ({source}) cannot be loaded{why}. To get them: run "
        f"`huggingface-cli download {spec.hub_id}` on a machine with internet (then copy "
        f"the cache and set HF_HOME), or pass a folder made by save_pretrained as "
        f"source=. To build without them, use weights='standin' (or {WEIGHTS_ENV}=standin)."
    )


# --- stand-in weights ---------------------------------------------------------

def fill_standin_(model, seed: int = STANDIN_SEED) -> None:
    """Overwrite every parameter in place with seeded values, name by name.

    Matrices and embeddings: uniform with std STANDIN_STD; norm weights 1; biases 0.
    Each tensor's stream is seeded from (seed, its name), so values depend neither
    on iteration order nor on threading. numpy's PCG64 fills release the GIL, so
    tensors are filled on all cores at once (see ``llmbook bench`` for timings).
    """
    import torch

    params = sorted(model.named_parameters(remove_duplicate=True), key=lambda p: -p[1].numel())
    with torch.no_grad(), ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(lambda p: _fill_one(p[1].data, p[0], seed), params))


def _fill_one(t, name: str, seed: int) -> None:
    import torch

    if name.endswith("bias"):
        t.zero_()
    elif t.ndim == 1:          # LayerNorm / RMSNorm weights
        t.fill_(1.0)
    else:
        rng = np.random.Generator(np.random.PCG64([seed, zlib.crc32(name.encode())]))
        buf = t if t.dtype == torch.float32 else torch.empty(t.shape, dtype=torch.float32)
        arr = buf.numpy().reshape(-1)
        rng.random(out=arr, dtype=np.float32)
        half_width = np.float32(STANDIN_STD * np.sqrt(3.0))  # uniform(-a, a) has std a/sqrt(3)
        np.multiply(arr, 2 * half_width, out=arr)
        np.subtract(arr, half_width, out=arr)
        if buf is not t:
            t.copy_(buf)
