"""Loading TinyLlama's published (bfloat16) checkpoint into float32: llmbook's streamed and
mapped loaders against ``from_pretrained`` on the same file, in fresh processes, peak memory
and time. The mapped loader is measured twice: the first load writes the float32 copy, the
second (every later chapter of a build) maps it.

The file is the fake hub's (:mod:`llmbook.testing.hub`): the real repository's layout and
dtype with stand-in values, so the numbers are those of the real load. Peak RSS counts
file-backed pages (a mapped checkpoint), peak anon only what cannot be reclaimed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .memory import TreeSampler

_LOAD = {
    "streamed": """
import json, resource, time, llmbook
t = time.perf_counter()
lm = llmbook.load_model("tinyllama", "real")
model = lm.model
""",
    "mapped": """
import json, resource, time, llmbook
t = time.perf_counter()
lm = llmbook.load_model("tinyllama", "real", mapped=True)
model = lm.model
""",
    "from_pretrained": """
import json, resource, time, torch
from transformers import LlamaForCausalLM
t = time.perf_counter()
model = LlamaForCausalLM.from_pretrained("TinyLlama/TinyLlama-1.1B-Chat-v1.0", dtype=torch.float32,
                                         local_files_only=True)
""",
}
_REPORT = """
w = sum(p.numel() * p.element_size() for p in model.parameters())
print(json.dumps({"seconds": time.perf_counter() - t, "weights_bytes": w,
                  "maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def load_peak(hub_home: Path, how: str) -> dict:
    env = {**os.environ, "HF_HOME": str(hub_home), "HF_HUB_OFFLINE": "1", "LLMBOOK_CACHE": str(hub_home / "llmbook")}
    env.pop("HF_HUB_CACHE", None)
    proc = subprocess.Popen([sys.executable, "-c", _LOAD[how.split()[0]] + _REPORT], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    with TreeSampler(proc.pid, every=0.05) as s:
        out = proc.communicate()[0]
    if proc.returncode:
        raise RuntimeError(f"the {how} load failed ({proc.returncode})")
    return {**json.loads(out.strip().splitlines()[-1]), "peak_anon_bytes": s.peak_anon}


def load_peaks() -> dict:
    from ..testing.hub import write_fake_hub

    with tempfile.TemporaryDirectory(prefix="llmbook-bench-hub-") as home:
        write_fake_hub(Path(home), models=("tinyllama",))
        return {how: load_peak(Path(home), how) for how in ("from_pretrained", "streamed", "mapped", "mapped again")}


def print_load(r: dict) -> None:
    base = r["from_pretrained"]
    rows = (("streamed", "TinyLlama bf16 -> fp32 load, streamed"),
            ("mapped", "  same, mapped (writes the fp32 copy)"), ("mapped again", "  same, mapped (the copy exists)"),
            ("from_pretrained", "  same, from_pretrained"))
    for how, label in rows:
        x = r[how]
        print(f"{label:<44}{x['maxrss_bytes'] / 1e9:>10.2f}GB{x['weights_bytes'] / 1e9:>10.2f}GB"
              f"{x['maxrss_bytes'] / x['weights_bytes']:>8.2f}  (peak RSS / fp32 weights; anon "
              f"{x['peak_anon_bytes'] / x['weights_bytes']:.2f}x; {x['seconds']:.1f} s vs "
              f"{base['seconds']:.1f} s for from_pretrained)")
