"""Weights as file-backed pages: a float32 checkpoint mapped into the model, not copied.

Why: the book runs TinyLlama in five chapters, each in its own kernel, and each load puts
4.4 GB of float32 weights in anonymous memory (:mod:`.checkpoint` streams them there).
Mapped from a float32 file instead, the same pages belong to the page cache: shared by
every kernel that maps the file, reclaimable under a memory limit (a cgroup evicts and
re-reads them rather than killing the build), and a second load takes a fraction of a
second. ``llmbook bench --only load`` measures the three loaders side by side.

Which file is mapped:

- the checkpoint itself when every tensor is already in the model's dtype and aligned
  (distilgpt2's float32 ``model.safetensors``);
- otherwise a converted copy written once, tensor by tensor, to llmbook's cache
  (``weights/<model>/<key>/<dtype>.safetensors``; the key hashes the checkpoint files'
  paths, sizes and times, so a new download gets a new copy). TinyLlama's bfloat16 file
  becomes a 4.4 GB float32 file: the cache is safe to delete at any time;
- for a full-size stand-in (:func:`map_standin_`), the seeded values written once to
  ``standin/<model>/<key>/<dtype>.safetensors`` (the key hashes the seed, the config and
  the seeding code), so only the first chapter pays for seeding.

The mapping is private (copy-on-write): a write to a mapped parameter copies that page
into anonymous memory and never reaches the file. Not handled: training mapped weights
(possible, but every page written becomes anonymous memory), big-endian machines, a
disk too small for the converted copy (:func:`map_weights_` returns ``False`` and the
caller streams instead).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from pathlib import Path

from .cache import cache_root
from .checkpoint import CheckpointError, check_coverage, tensor_plan, torch_dtype

MAP_ENV = "LLMBOOK_MAP_WEIGHTS"
ALIGN = 64                      # the data section starts on a 64-byte boundary
SIZES = {"F32": 4, "F16": 2, "BF16": 2}
NAMES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}


def mapping_wanted(mapped: bool | None) -> bool:
    """``mapped`` as given, else ``LLMBOOK_MAP_WEIGHTS=1`` (the book's Sphinx extension sets it)."""
    return os.environ.get(MAP_ENV) == "1" if mapped is None else mapped


def map_weights_(model, files: list[Path], name: str, dtype: str) -> bool:
    """Point ``model``'s parameters at a mapped ``dtype`` file holding ``files``' tensors.

    Returns ``False``, leaving the model untouched, when a converted copy is needed and
    the disk has no room for it. Raises :class:`CheckpointError` as streaming does
    (wrong names or shapes, truncated files).
    """
    params = dict(model.named_parameters())
    plans = [tensor_plan(path, params) for path in files]
    check_coverage(params, plans, files[0].parent)
    if all(_mappable(plan, dtype) for plan in plans):
        sources = list(files)
    else:
        target = converted_path(files, name, dtype)
        if not target.is_file() and not _write_converted(files, plans, target, dtype):
            return False
        sources, plans = [target], [tensor_plan(target, params)]
    for path, plan in zip(sources, plans):
        _point_at_file_(path, plan, params, dtype)
    return True


def converted_path(files: list[Path], name: str, dtype: str) -> Path:
    """Where the ``dtype`` copy of ``files`` lives in llmbook's cache."""
    h = hashlib.sha256()
    for path in files:
        st = Path(path).resolve().stat()
        h.update(f"{Path(path).resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return cache_root() / "weights" / name / h.hexdigest()[:16] / f"{dtype}.safetensors"


def _mappable(plan: list[dict], dtype: str) -> bool:
    size = SIZES[NAMES[dtype]]
    return all(t["dtype"] == NAMES[dtype] and t["start"] % size == 0 for t in plan)


def _point_at_file_(path: Path, plan: list[dict], params: dict, dtype: str) -> None:
    import torch

    storage = torch.UntypedStorage.from_file(str(path), shared=False, nbytes=path.stat().st_size)
    for t in plan:
        param = params[t["target"]]
        mapped = torch.empty(0, dtype=getattr(torch, dtype)).set_(
            storage, t["start"] // SIZES[t["dtype"]], tuple(param.shape))
        param.data = mapped              # the same Parameter object: tied weights stay tied


def _write_converted(files: list[Path], plans: list[list[dict]], target: Path, dtype: str) -> bool:
    """Write every tensor converted to ``dtype`` into ``target`` (atomically); False if no room."""
    import torch

    out_dt = getattr(torch, dtype)
    tensors = [(t["name"], t["shape"], t["numel"]) for plan in plans for t in plan]

    def body(out):
        for path, plan in zip(files, plans):
            _copy_converted(path, plan, out, out_dt)
    return _write_file(target, dtype, tensors, body)


def _write_file(target: Path, dtype: str, tensors: list[tuple[str, list[int], int]], body) -> bool:
    """A safetensors file of ``tensors`` ([(name, shape, numel)], all ``dtype``, in this order) whose
    data ``body(out)`` writes: atomically (a temporary name, then a rename); False if the disk would
    keep less than 1 GB free."""
    size, header, offset = SIZES[NAMES[dtype]], {}, 0
    for name, shape, numel in tensors:
        header[name] = {"dtype": NAMES[dtype], "shape": list(shape), "data_offsets": [offset, offset + numel * size]}
        offset += numel * size
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-(8 + len(head)) % ALIGN)
    target.parent.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(target.parent).free < 8 + len(head) + offset + 2**30:   # keep 1 GB free
        return False
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(struct.pack("<Q", len(head)) + head)
            body(out)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _copy_converted(path: Path, plan: list[dict], out, out_dt) -> None:
    import torch

    with open(path, "rb") as f:
        for t in plan:
            f.seek(t["start"])
            raw = bytearray(f.read(t["nbytes"]))
            if len(raw) != t["nbytes"]:
                raise CheckpointError(f"{path}: tensor {t['name']!r} runs past the end of the file")
            out.write(torch.frombuffer(raw, dtype=torch_dtype(t["dtype"])).to(out_dt).view(torch.uint8).numpy().tobytes())


def map_standin_(model, name: str, dtype: str, key: str, fill) -> bool:
    """Point ``model``'s parameters at the stand-in file ``key`` in llmbook's cache, writing it first
    (``fill(model)``, then every parameter, atomically) when it is not there yet.

    The book's chapters each load TinyLlama's stand-in in their own kernel: seeding 1.1 B values
    costs seconds of every core each time, mapping the file once written costs nothing and shares
    its pages. Returns ``False`` (the model filled in memory, no file) when the disk has no room.
    Files of other keys (older code or libraries) are removed when a new one is written.
    Not handled: two processes writing the same key at once (both write; the last rename wins,
    with the same bytes).
    """
    target = cache_root() / "standin" / name / key / f"{dtype}.safetensors"
    params = dict(model.named_parameters())
    if not target.is_file():
        fill(model)
        for old in target.parents[1].glob("*") if target.parents[1].is_dir() else ():
            if old.name != key:
                shutil.rmtree(old, ignore_errors=True)
        if not _write_params(params, target, dtype):
            return False
    _point_at_file_(target, tensor_plan(target, params), params, dtype)
    return True


def _write_params(params: dict, target: Path, dtype: str) -> bool:
    """Every parameter as stored in memory (``dtype``) into ``target`` (atomically); False if no room."""
    import torch

    def body(out):
        for p in params.values():
            out.write(p.detach().contiguous().view(-1).view(torch.uint8).numpy().data)
    return _write_file(target, dtype, [(name, list(p.shape), p.numel()) for name, p in params.items()], body)
