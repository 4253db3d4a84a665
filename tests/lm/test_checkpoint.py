"""The streamed safetensors reader: the same weights as from_pretrained, clear refusals otherwise."""

from __future__ import annotations

import copy
import struct

import pytest
import torch

from llmbook import load_model
from llmbook.lm.checkpoint import CheckpointError, read_header, stream_weights_
from llmbook.lm.models import _model_class, _skeleton
from tests.conftest import SMALL


@pytest.fixture(params=["distilgpt2", "tinyllama"])
def saved(request, tmp_path):
    """A small stand-in saved by save_pretrained in bfloat16 (Llama) or float32 (GPT-2)."""
    lm = load_model(request.param, "standin", config_overrides=SMALL[request.param])
    dtype = torch.bfloat16 if request.param == "tinyllama" else torch.float32
    # a copy: load_model memoises its models, and a round trip through bfloat16 in place would leave the
    # other tests a model whose RoPE buffers are rounded (test_block's recomputation then disagrees)
    copy.deepcopy(lm.model).to(dtype).save_pretrained(tmp_path / "ckpt")
    return lm, tmp_path / "ckpt"


def test_streamed_weights_equal_from_pretrained(saved):
    lm, folder = saved
    reference = _model_class(lm.spec).from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    model = _skeleton(lm.spec, reference.config, "float32")
    stream_weights_(model, [folder / "model.safetensors"])
    for (name, a), (_, b) in zip(model.state_dict().items(), reference.state_dict().items()):
        assert torch.equal(a, b), name


def _write(path, header: bytes, data: bytes = b""):
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)
    return path


@pytest.mark.parametrize("content, message", [
    (b"", "too short"),
    (struct.pack("<Q", 2**40), "not a safetensors file"),
    (struct.pack("<Q", 5) + b"{oops", "not JSON"),
])
def test_what_is_not_safetensors_is_refused(tmp_path, content, message):
    (tmp_path / "x.safetensors").write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        read_header(tmp_path / "x.safetensors")


def test_another_models_tensors_are_refused_by_name_and_shape(saved, tmp_path):
    lm, folder = saved
    model = _skeleton(lm.spec, lm.model.config, "float32")
    wrong = _write(tmp_path / "a.safetensors", b'{"not.a.param": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}',
                   b"\0" * 4)
    with pytest.raises(CheckpointError, match="'not.a.param' belongs to no parameter"):
        stream_weights_(model, [wrong])
    name, param = next(iter(model.named_parameters()))
    bad = _write(tmp_path / "b.safetensors",
                 f'{{"{name}": {{"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}}}'.encode(), b"\0" * 12)
    with pytest.raises(CheckpointError, match=r"has shape \[3\]"):
        stream_weights_(model, [bad])


def test_a_truncated_download_and_a_partial_checkpoint_are_named(saved, tmp_path):
    lm, folder = saved
    model = _skeleton(lm.spec, lm.model.config, "float32")
    data = (folder / "model.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        stream_weights_(model, [tmp_path / "cut.safetensors"])
    name, param = next(iter(model.named_parameters()))
    n = param.numel() * 4
    one = _write(tmp_path / "one.safetensors",
                 f'{{"{name}": {{"dtype": "F32", "shape": {list(param.shape)}, "data_offsets": [0, {n}]}}}}'.encode(),
                 b"\0" * n)
    with pytest.raises(CheckpointError, match="has no tensor for"):
        stream_weights_(model, [one])
