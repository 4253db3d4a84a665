"""The whole book built as Read the Docs builds it, on the real-weights paths, under 7 GB.

``READTHEDOCS=True``, ``HF_HUB_OFFLINE=1``, ``HF_HOME`` = a fake hub shaped like the real
repositories (float32 distilgpt2, bfloat16 TinyLlama, the hub's older configs), an empty
``LLMBOOK_CACHE``, none of llmbook's variables (:mod:`llmbook.bench.hosted`). Every page
must take the real path: no stand-in banner, the real-weights captions, the snapshot
revision in the provenance. Wall time and peak memory go to the terminal summary.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest

from llmbook.bench.hosted import HEADROOM_FLOOR, HEADROOM_GOAL, RTD_MEMORY, hosted_build, summary
from llmbook.testing.hub import revision_of
from tests.conftest import SUMMARY

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.shipped, pytest.mark.hosted]
MODEL_PAGES = ["part1/walkthrough-distilgpt2", "part1/walkthrough-tinyllama", "part1/block-distilgpt2",
               "part1/block-tinyllama", "part1/embedding-distilgpt2", "part1/embedding-tinyllama",
               "part1/gpt2-vs-llama", "part1/verify"]


@pytest.fixture(scope="module")
def hosted(fake_hub):
    """The build's result; LLMBOOK_HOSTED_KEEP=DIR keeps the site there (to look at it)."""
    import os

    keep = os.environ.get("LLMBOOK_HOSTED_KEEP")
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="llmbook-hosted-"))
    try:
        beside = os.environ.get("LLMBOOK_CI_BESIDE")       # .ci/run: it runs beside the book build...
        shared = os.environ.get("LLMBOOK_HOSTED_TINY")     # ...and trains Part II's model once with it
        result = hosted_build(ROOT, fake_hub, work, tiny_from=Path(shared) if shared else None)
        SUMMARY.append(summary(result) + (f" [ran beside {beside}: the wall time is shared, not Read the Docs']"
                                          if beside else ""))
        yield result
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _page(hosted, doc: str) -> str:
    return (Path(hosted["html"]) / f"{doc}.html").read_text()


def test_the_hosted_build_succeeds_under_7_gb_with_room_to_spare(hosted):
    """Inside the 7 GB cgroup, no process was killed; the anon peak keeps at least 1.5 GB spare,
    and even counting the mapped weights' pages the tree stays 0.75 GB under the limit."""
    assert hosted["returncode"] == 0, hosted["log"][-4000:]
    assert hosted.get("oom_kills", 0) == 0
    assert hosted["peak_anon_bytes"] <= RTD_MEMORY - HEADROOM_GOAL, summary(hosted)
    assert hosted["peak_rss_bytes"] <= RTD_MEMORY - HEADROOM_FLOOR, summary(hosted)


def test_every_model_page_took_the_real_path(hosted):
    for doc in MODEL_PAGES:
        html = _page(hosted, doc)
        assert "Stand-in weights" not in html and "stand-in weights (seed" not in html, doc
        assert "Real weights" in html, doc
    assert re.search(r"pick after the prompt is .{1,40}? with probability (0\.\d\d|[\d.]+e-\d+)\.",
                     _page(hosted, "part1/walkthrough-distilgpt2"))          # never "0.00"
    answer = _page(hosted, "part1/walkthrough-tinyllama")
    assert "The whole answer" in answer and ("ended its turn" in answer or "had not ended its turn" in answer)
    gallery = (Path(hosted["html"]) / "auto_examples" / "inside" / "plot_attention_heads.html").read_text()
    assert "Weights: real weights" in gallery and "NOTE: stand-in" not in gallery


def test_the_provenance_names_the_hub_revision(hosted):
    html = _page(hosted, "part1/verify")
    for model in ("distilgpt2", "tinyllama"):
        assert revision_of(model) in html, model
    assert "revision None" not in html and not re.search(r"<code[^>]*>None</code>", html)


def test_the_live_pages_parity_reference_is_the_real_models(hosted):
    """The live page compares a reader's logits with the real weights' (named by revision)."""
    parity = (Path(hosted["html"]) / "_static" / "tinylm" / "live-parity.js").read_text()
    assert '"is_standin":false' in parity and revision_of("distilgpt2") in parity
