"""``llmbook bench``: measured speed and memory, each against a baseline from the same run.

- capture overhead: ``capture`` ÷ a plain eager ``model(ids)`` on the same prompt
  (stand-in weights, full shapes), with and without the provenance re-run;
- peak memory of a TinyLlama capture ÷ the weights' bytes (fresh process, ru_maxrss);
- stand-in construction: ``LlamaForCausalLM(config)`` with torch's init vs llmbook's;
- BPE: 512 merges with incremental counts vs the recount-every-merge algorithm on
  the same slice (identical merges checked), and the incremental one on the whole corpus;
- tiny-model training step time on the book's model and batch, PyTorch CPU.

- the book build: cold, warm, one chapter touched, peak memory, site size
  (:mod:`.book`, minutes: left out of ``--quick``);
- loading TinyLlama's bfloat16 checkpoint into float32, streamed, mapped and ``from_pretrained``
  (:mod:`.load`); ``--only hosted``: the book as Read the Docs builds it (:mod:`.hosted`);
  ``--only llama``: the live TinyLlama page's CPU engine against PyTorch (:mod:`.llama`).

- the widget's training step on the same model and batch: its plain-JS engine under
  Node and its WebGPU engine in headless Chromium (:mod:`llmbook.bench_widget`),
  each as a ratio to PyTorch's single-threaded step from the same run.

Memory and construction run in fresh subprocesses so one measurement cannot warm
another.
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

    from .. import capture, load_model

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
from llmbook.lm.models import _standin
from llmbook.lm.specs import TINYLLAMA
import transformers.modeling_utils  # imports are not construction
t = time.perf_counter(); _standin(TINYLLAMA, "float32", 0, {})
print(json.dumps({"seconds": time.perf_counter() - t}))
""",
    "standin_naive": """
import time, json, llmbook
from llmbook.lm.models import _config
from llmbook.lm.specs import TINYLLAMA
from transformers import LlamaForCausalLM
t = time.perf_counter(); LlamaForCausalLM(_config(TINYLLAMA, {}))
print(json.dumps({"seconds": time.perf_counter() - t}))
""",
}


def _in_subprocess(name: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _SUBPROCESS[name]], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bpe_speed(slice_bytes: int = 200_000, n_merges: int = 512) -> dict:
    from ..tiny import bpe
    from ..tiny.corpus import corpus

    data = corpus()["train"].encode("utf-8")
    part = data[:slice_bytes]
    t0 = time.perf_counter()
    fast = bpe.train(part, n_merges)
    t1 = time.perf_counter()
    plain = bpe.train_recount(part, n_merges)
    t2 = time.perf_counter()
    full = time.perf_counter()
    bpe.train(data, n_merges)
    return {"slice_bytes": len(part), "merges": n_merges, "incremental_s": t1 - t0, "recount_s": t2 - t1,
            "speedup": (t2 - t1) / (t1 - t0), "identical": fast == plain,
            "full_corpus_bytes": len(data), "full_corpus_s": time.perf_counter() - full}


def tiny_step(steps: int = 30) -> dict:
    import numpy as np
    import torch

    from ..tiny import TinyTransformer
    from ..tiny.artifacts import BOOK_MODEL, BOOK_TRAINING
    from ..tiny.train import make_optimizer, random_windows

    model = TinyTransformer(BOOK_MODEL)
    opt = make_optimizer(model, BOOK_TRAINING)
    data = np.random.default_rng(0).integers(0, BOOK_MODEL.vocab_size, 200_000).astype(np.uint16)
    gen = torch.Generator().manual_seed(0)

    def step():
        loss = model.loss(*random_windows(data, BOOK_TRAINING.batch_size, BOOK_MODEL.context_len, gen))
        opt.zero_grad()
        loss.backward()
        opt.step()

    results = {}
    for threads in (1, torch.get_num_threads()):
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        s = _median_seconds(step, steps)
        torch.set_num_threads(before)
        results[f"pytorch_{threads}_threads_step_s"] = s
    tokens = BOOK_TRAINING.batch_size * BOOK_MODEL.context_len
    results.update({"tokens_per_step": tokens,
                    "tokens_per_s_1_thread": tokens / results["pytorch_1_threads_step_s"]})
    return results


def _hosted() -> dict:
    """The whole book as Read the Docs builds it, from a fake hub written for the run."""
    import tempfile
    from pathlib import Path

    from ..testing.hub import write_fake_hub
    from .hosted import hosted_build

    with tempfile.TemporaryDirectory(prefix="llmbook-bench-hosted-") as tmp:
        write_fake_hub(Path(tmp) / "hub-home")
        r = hosted_build(Path(__file__).resolve().parents[2], Path(tmp) / "hub-home", Path(tmp) / "work")
    return {k: v for k, v in r.items() if k not in ("log", "html")}


def run(quick: bool = False, only: str | None = None) -> dict:
    models = ["distilgpt2"] if quick else ["distilgpt2", "tinyllama"]
    results = {}
    if only in (None, "capture"):
        results["capture"] = [capture_overhead(m, 3 if quick else 7) for m in models]
        if not quick:
            results["memory"] = _in_subprocess("capture_peak")
            results["standin_build"] = {"naive_s": _in_subprocess("standin_naive")["seconds"],
                                        "llmbook_s": _in_subprocess("standin_llmbook")["seconds"]}
    if only in (None, "bpe"):
        results["bpe"] = bpe_speed(50_000 if quick else 200_000)
    if only in (None, "tiny"):
        from .widget import widget_steps

        results["tiny"] = tiny_step(10 if quick else 30)
        results["widget"] = widget_steps(quick)
    if only == "live" or (only is None and not quick):
        from .live import live_engines

        results["live"] = live_engines()
    if only == "llama":                                   # minutes and 5 GB: only when asked for
        from .llama import llama_engines

        results["llama"] = llama_engines()
    if only == "load" or (only is None and not quick):
        from .load import load_peaks

        results["load"] = load_peaks()
    if only == "book" or (only is None and not quick):
        from .book import book_build

        results["book"] = book_build()
    if only == "hosted":
        results["hosted"] = _hosted()
    _print(results)
    return results


def _print(r: dict) -> None:
    print(f"{'measurement':<44}{'value':>12}{'baseline':>12}{'ratio':>8}")
    for c in r.get("capture", []):
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
    if "bpe" in r:
        b = r["bpe"]
        print(f"{'BPE ' + str(b['merges']) + ' merges, ' + str(b['slice_bytes'] // 1000) + ' kB: incr. vs recount':<44}"
              f"{b['incremental_s']:>11.2f}s{b['recount_s']:>11.2f}s{b['incremental_s'] / b['recount_s']:>8.3f}"
              f"  ({b['speedup']:.0f}x faster, identical merges: {b['identical']})")
        print(f"{'BPE ' + str(b['merges']) + ' merges, whole corpus (' + str(b['full_corpus_bytes'] // 10**6) + ' MB)':<44}"
              f"{b['full_corpus_s']:>11.2f}s")
    if "tiny" in r:
        t = r["tiny"]
        multi = [k for k in t if k.startswith("pytorch_") and not k.startswith("pytorch_1_")][0]
        print(f"{'tiny train step, PyTorch CPU: N threads vs 1':<44}{t[multi] * 1e3:>10.1f}ms"
              f"{t['pytorch_1_threads_step_s'] * 1e3:>10.1f}ms{t[multi] / t['pytorch_1_threads_step_s']:>8.2f}"
              f"  ({t['tokens_per_s_1_thread']:,.0f} tokens/s on 1 thread)")
    if "widget" in r:
        from .widget import print_widget

        print_widget(r["widget"], r["tiny"]["pytorch_1_threads_step_s"])
    if "live" in r:
        from .live import print_live

        print_live(r["live"])
    if "llama" in r:
        from .llama import print_llama

        print_llama(r["llama"])
    if "load" in r:
        from .load import print_load

        print_load(r["load"])
    if "book" in r:
        from .book import print_book

        print_book(r["book"])
    if "hosted" in r:
        from .hosted import summary

        print(summary(r["hosted"]))
