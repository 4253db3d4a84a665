"""``llmbook bench``: measured speed and memory, each against a baseline from the same run.

- capture overhead: ``capture`` ÷ a plain eager ``model(ids)`` on the same prompt
  (stand-in weights, full shapes), with and without the provenance re-run;
- peak memory of a TinyLlama capture ÷ the weights' bytes (fresh process, ru_maxrss);
- stand-in construction: ``LlamaForCausalLM(config)`` with torch's init vs llmbook's.

Memory and construction run in fresh subprocesses so one measurement cannot warm
another. Not measured here: the book build and the tiny model (other issues).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

PROMPTS = {"distilgpt2": "January, February, March,", "tinyllama": "Name three primary colors."}


def _median_seconds(fn, repeats: int) -> float:
    fn()                                          # warm-up: first call pays one-off costs
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def capture_overhead(model: str, repeats: int) -> dict:
    import torch

    from . import capture, load_model

    lm = load_model(model, "standin")
    x = torch.tensor([lm.encode(PROMPTS[model])])

    def plain():
        with torch.no_grad():
            lm.model(input_ids=x)

    base = _median_seconds(plain, repeats)
    hooks_only = _median_seconds(lambda: capture(lm, PROMPTS[model], check=False, lens=False), repeats)
    full = _median_seconds(lambda: capture(lm, PROMPTS[model]), repeats)
    return {"model": model, "tokens": x.shape[1], "plain_forward_s": base,
            "capture_s": hooks_only, "capture_ratio": hooks_only / base,
            "capture_with_check_and_lens_s": full, "capture_with_check_and_lens_ratio": full / base}


_SUBPROCESS = {
    "capture_peak": """
import resource, json, llmbook
lm = llmbook.load_model("tinyllama", "standin")
weights = sum(p.numel() * p.element_size() for p in lm.model.parameters())
llmbook.capture(lm, "Name three primary colors.", max_new_tokens=8)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"weights_bytes": weights, "peak_rss_bytes": peak}))
""",
    "standin_llmbook": """
import time, json, llmbook
from llmbook.models import _standin
from llmbook.specs import TINYLLAMA
import transformers.modeling_utils  # imports are not construction
t = time.perf_counter(); _standin(TINYLLAMA, "float32", 0, {})
print(json.dumps({"seconds": time.perf_counter() - t}))
""",
    "standin_naive": """
import time, json, llmbook
from llmbook.models import _config
from llmbook.specs import TINYLLAMA
from transformers import LlamaForCausalLM
t = time.perf_counter(); LlamaForCausalLM(_config(TINYLLAMA, {}))
print(json.dumps({"seconds": time.perf_counter() - t}))
""",
}


def _in_subprocess(name: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _SUBPROCESS[name]], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    models = ["distilgpt2"] if quick else ["distilgpt2", "tinyllama"]
    results = {"capture": [capture_overhead(m, 3 if quick else 7) for m in models]}
    if not quick:
        results["memory"] = _in_subprocess("capture_peak")
        results["standin_build"] = {"naive_s": _in_subprocess("standin_naive")["seconds"],
                                    "llmbook_s": _in_subprocess("standin_llmbook")["seconds"]}
    _print(results)
    return results


def _print(r: dict) -> None:
    print(f"{'measurement':<44}{'value':>12}{'baseline':>12}{'ratio':>8}")
    for c in r["capture"]:
        print(f"{c['model'] + ' capture (hooks) vs plain forward':<44}"
              f"{c['capture_s'] * 1e3:>10.1f}ms{c['plain_forward_s'] * 1e3:>10.1f}ms{c['capture_ratio']:>8.2f}")
        print(f"{c['model'] + ' capture + check + lens vs plain':<44}"
              f"{c['capture_with_check_and_lens_s'] * 1e3:>10.1f}ms{c['plain_forward_s'] * 1e3:>10.1f}ms"
              f"{c['capture_with_check_and_lens_ratio']:>8.2f}")
    if "memory" in r:
        m = r["memory"]
        print(f"{'tinyllama capture peak RSS vs weights':<44}{m['peak_rss_bytes'] / 2**30:>10.2f}GB"
              f"{m['weights_bytes'] / 2**30:>10.2f}GB{m['peak_rss_bytes'] / m['weights_bytes']:>8.2f}")
        s = r["standin_build"]
        print(f"{'tinyllama stand-in build: llmbook vs naive':<44}{s['llmbook_s']:>11.2f}s"
              f"{s['naive_s']:>11.2f}s{s['llmbook_s'] / s['naive_s']:>8.2f}")
