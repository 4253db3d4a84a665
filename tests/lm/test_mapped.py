"""Mapped weights: the same numbers as streamed ones, in file-backed pages, a converted copy made once."""

from __future__ import annotations

import os

import pytest
import torch

from llmbook.lm.checkpoint import CheckpointError, stream_weights_
from llmbook.lm.mapped import converted_path, map_weights_, mapping_wanted
from llmbook.lm.models import _skeleton
from tests.lm.test_checkpoint import saved  # noqa: F401 - the fixture


def _rss_file_and_anon() -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return tuple(int(fields[k].split()[0]) * 1024 for k in ("RssFile", "RssAnon"))


def _in_a_mapping_of(path, address: int) -> bool:
    """Whether `address` lies in a mapping of the file `path` (/proc/self/maps)."""
    for line in open("/proc/self/maps"):
        fields = line.split()
        if len(fields) >= 6 and fields[5] == str(path):
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end:
                return True
    return False


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMBOOK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_mapped_weights_equal_streamed_ones_and_stay_tied(saved, cache):  # noqa: F811
    lm, folder = saved
    files = [folder / "model.safetensors"]
    streamed, mapped = (_skeleton(lm.spec, lm.model.config, "float32") for _ in range(2))
    stream_weights_(streamed, files)
    assert map_weights_(mapped, files, lm.name, "float32")
    for (name, a), (_, b) in zip(streamed.state_dict().items(), mapped.state_dict().items()):
        assert torch.equal(a, b), name
    head, emb = mapped.get_output_embeddings().weight, mapped.get_input_embeddings().weight
    assert (head.data_ptr() == emb.data_ptr()) == (lm.name == "distilgpt2")
    ids = torch.tensor([[1, 2, 3, 4]])
    assert torch.equal(streamed.eval()(ids).logits, mapped.eval()(ids).logits)


def test_a_float32_checkpoint_is_mapped_itself_a_bfloat16_one_converted_once(saved, cache):  # noqa: F811
    lm, folder = saved
    files = [folder / "model.safetensors"]
    copy = converted_path(files, lm.name, "float32")
    assert map_weights_(_skeleton(lm.spec, lm.model.config, "float32"), files, lm.name, "float32")
    assert copy.is_file() == (lm.name == "tinyllama")            # its checkpoint is bfloat16
    if copy.is_file():
        stamp = copy.stat().st_mtime_ns
        assert map_weights_(_skeleton(lm.spec, lm.model.config, "float32"), files, lm.name, "float32")
        assert copy.stat().st_mtime_ns == stamp                  # read again, not rewritten
        assert not [p for p in copy.parent.iterdir() if p.name.endswith(".tmp")]


def test_mapped_pages_are_file_backed_not_anonymous(tmp_path, cache):
    from llmbook.lm.specs import get_spec
    from safetensors.torch import save_file
    from transformers import GPT2Config

    spec = get_spec("distilgpt2")
    config = GPT2Config(n_layer=1, n_embd=1024, n_head=8, vocab_size=50257, n_positions=64)
    src = _skeleton(spec, config, "float32")
    weights = {k: v for k, v in src.state_dict().items() if k != "lm_head.weight"}
    save_file({k: torch.randn_like(v) for k, v in weights.items()}, tmp_path / "model.safetensors")
    model = _skeleton(spec, config, "float32")
    file0, anon0 = _rss_file_and_anon()
    assert map_weights_(model, [tmp_path / "model.safetensors"], "distilgpt2", "float32")
    sum(float(p.detach().sum()) for p in model.parameters())          # touch every page
    file1, anon1 = _rss_file_and_anon()
    size = (tmp_path / "model.safetensors").stat().st_size            # ~0.27 GB
    assert file1 - file0 > 0.8 * size
    assert anon1 - anon0 < 0.2 * size


def test_a_wrong_checkpoint_is_refused_before_anything_is_written(saved, cache, tmp_path):  # noqa: F811
    lm, folder = saved
    data = (folder / "model.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        map_weights_(_skeleton(lm.spec, lm.model.config, "float32"), [tmp_path / "cut.safetensors"], lm.name, "float32")
    assert not (cache / "weights").exists()


def test_mapping_is_asked_for_or_set_by_the_environment(monkeypatch):
    monkeypatch.delenv("LLMBOOK_MAP_WEIGHTS", raising=False)
    assert not mapping_wanted(None) and mapping_wanted(True)
    monkeypatch.setenv("LLMBOOK_MAP_WEIGHTS", "1")
    assert mapping_wanted(None) and not mapping_wanted(False)
    assert os.environ["LLMBOOK_MAP_WEIGHTS"] == "1"


def test_a_full_size_standin_is_seeded_once_then_mapped_from_the_cache(cache, monkeypatch):
    """Book builds (mapping on): the first load seeds and writes the file, later ones map it, with the
    same values as a stand-in seeded in memory; tied weights stay tied; another key replaces the old file."""
    from llmbook.lm import models
    from llmbook.lm.models import _load, load_model

    _load.cache_clear()
    first = load_model("distilgpt2", "standin", mapped=True)
    files = list((cache / "standin" / "distilgpt2").rglob("float32.safetensors"))
    assert len(files) == 1 and files[0].stat().st_size > 300e6
    _load.cache_clear()
    calls = []
    with monkeypatch.context() as m:
        m.setattr(models, "fill_standin_", lambda *a: calls.append(a))              # a mapped load seeds nothing
        again = load_model("distilgpt2", "standin", mapped=True)
    _load.cache_clear()
    plain = load_model("distilgpt2", "standin", mapped=False)
    assert not calls
    for (name, a), (_, b) in zip(plain.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(a, b), name
    head, emb = again.model.get_output_embeddings().weight, again.model.get_input_embeddings().weight
    assert head.data_ptr() == emb.data_ptr()
    assert _in_a_mapping_of(files[0], emb.data_ptr()) and _in_a_mapping_of(files[0], first.model.get_input_embeddings().weight.data_ptr())
    monkeypatch.setattr(models, "_standin_key", lambda spec, seed: "another")
    _load.cache_clear()
    load_model("distilgpt2", "standin", mapped=True)
    assert [p.parent.name for p in (cache / "standin" / "distilgpt2").rglob("float32.safetensors")] == ["another"]
    _load.cache_clear()
