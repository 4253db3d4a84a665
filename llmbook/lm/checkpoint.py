"""Weights streamed from a safetensors checkpoint into a built model, one tensor at a time.

Why not ``from_pretrained`` for the tensors: loading TinyLlama's bfloat16 file into a
float32 model, transformers 5 keeps the whole file mapped while it converts, so the load
peaks at the float32 weights plus the file: 7.0 GB resident for 4.4 GB of weights (1.59×,
measured by ``llmbook bench``), too close to Read the Docs' 7 GB. Here each tensor is read
into one reused buffer and copied (converted) into its parameter, so the peak is the
float32 weights plus the largest tensor. The files themselves are still found by
transformers/huggingface_hub (:func:`checkpoint_files`): the HF cache, ``HF_HOME``,
``HF_HUB_OFFLINE`` and local folders work as for ``from_pretrained``.

The format (a little-endian u64 header length, a JSON header of ``{name: {dtype, shape,
data_offsets}}``, then raw little-endian data) is read here directly; no pickle anywhere.
Names are the checkpoint's own, matched to the model's with or without GPT-2's
``transformer.`` prefix; GPT-2's causal-mask buffers (``attn.bias``, ``attn.masked_bias``)
are skipped. Not handled: dtypes other than F32/F16/BF16, big-endian machines.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

SKIPPED = re.compile(r"(^|\.)attn\.(bias|masked_bias)$")
MAX_HEADER = 100 * 2**20


class CheckpointError(ValueError):
    """A checkpoint file that is not safetensors, or not this model's."""


def _dtypes():
    import torch

    return {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def checkpoint_files(source: str, where: dict) -> list[Path]:
    """The checkpoint's safetensors file(s): ``model.safetensors``, or the shards its index lists."""
    from transformers.utils import cached_file

    single = cached_file(source, "model.safetensors", _raise_exceptions_for_missing_entries=False, **where)
    if single:
        return [Path(single)]
    index = cached_file(source, "model.safetensors.index.json", **where)
    shards = sorted(set(json.loads(Path(index).read_text())["weight_map"].values()))
    return [Path(cached_file(source, shard, **where)) for shard in shards]


def read_header(path: Path) -> tuple[dict, int]:
    """(header without __metadata__, offset of the data), refusing anything that is not safetensors."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise CheckpointError(f"{path}: {len(raw)} bytes, too short to be a safetensors file")
        (n,) = struct.unpack("<Q", raw)
        if n > MAX_HEADER:
            raise CheckpointError(f"{path}: header length {n:,} bytes; not a safetensors file")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CheckpointError(f"{path}: the header is not JSON ({err}); not a safetensors file") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: the header is not a JSON object")
    header.pop("__metadata__", None)
    return header, 8 + n


def torch_dtype(code: str):
    """The torch dtype of a safetensors dtype code."""
    return _dtypes()[code]


def tensor_plan(path: Path, params: dict) -> list[dict]:
    """Every tensor of ``path`` checked against ``params`` and placed in the file, in file order:
    ``{name, target, dtype, shape, numel, start, nbytes}`` with ``start`` an absolute byte offset."""
    header, data = read_header(path)
    size, plan = path.stat().st_size, []
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        target = _target(name, params)
        if target is None:
            if SKIPPED.search(name):
                continue
            raise CheckpointError(f"{path}: tensor {name!r} belongs to no parameter of this model")
        if info["dtype"] not in _dtypes():
            raise CheckpointError(f"{path}: tensor {name!r} is {info['dtype']}; llmbook reads F32, F16, BF16")
        if list(info["shape"]) != list(params[target].shape):
            raise CheckpointError(f"{path}: tensor {name!r} has shape {info['shape']}, "
                                  f"the model's {target} is {list(params[target].shape)}")
        begin, end = info["data_offsets"]
        if data + end > size:
            raise CheckpointError(f"{path}: tensor {name!r} runs past the end of the file (truncated download?)")
        plan.append({"name": name, "target": target, "dtype": info["dtype"], "shape": list(info["shape"]),
                     "numel": params[target].numel(), "start": data + begin, "nbytes": end - begin})
    return plan


def check_coverage(params: dict, plans: list[list[dict]], where: Path) -> None:
    """Every parameter of the model gets a tensor from the checkpoint."""
    missing = sorted(set(params) - {t["target"] for plan in plans for t in plan})
    if missing:
        raise CheckpointError(f"{where}: the checkpoint has no tensor for {len(missing)} parameter(s) "
                              f"of the model, e.g. {missing[:3]}")


def stream_weights_(model, files: list[Path]) -> None:
    """Copy every tensor of ``files`` into ``model``'s parameters (converting dtype); check coverage."""
    params = dict(model.named_parameters())          # tied weights appear once
    plans = [tensor_plan(path, params) for path in files]
    check_coverage(params, plans, files[0].parent)
    for path, plan in zip(files, plans):
        _stream_file(path, plan, params)


def _target(name: str, params: dict) -> str | None:
    for candidate in (name, f"transformer.{name}", name.removeprefix("transformer.")):
        if candidate in params:
            return candidate
    return None


def _stream_file(path: Path, plan: list[dict], params: dict) -> None:
    import torch

    buf = bytearray(0)
    with open(path, "rb") as f, torch.no_grad():
        for t in plan:
            if len(buf) < t["nbytes"]:
                buf = bytearray(t["nbytes"])
            view = memoryview(buf)[: t["nbytes"]]
            f.seek(t["start"])
            if f.readinto(view) != t["nbytes"]:
                raise CheckpointError(f"{path}: tensor {t['name']!r} runs past the end of the file")
            param = params[t["target"]]
            param.copy_(torch.frombuffer(view, dtype=torch_dtype(t["dtype"])).view(param.shape))
