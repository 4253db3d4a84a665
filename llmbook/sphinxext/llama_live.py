"""The live TinyLlama page's files (``try/llama``): its scripts, its data and the parity reference.

Before any chapter is read, if the book holds the page named by ``llmbook_conf["llama_page"]``,
these files are written to the generated static folder's ``tinylm/``:

=====================  ==========================================================================
``llama-live.js``      the page's ES modules bundled (:mod:`.bundle`): llama.js and its helpers; the
                       page starts its engine worker (llama-worker.js) from this same text
``llama-data.js``      where the weights come from and their size, TinyLlama's config, the special
                       tokens, the chat template as parts (text with the message's place, special ids)
``llama-tables.js``    Llama's tokenizer pieces alone (:mod:`llmbook.part1.tokenizer_tables`)
``llama-parity.js``    the book prompt's last-position logits and the weights they came from,
                       float32 base64 (loaded only when the reader asks for the check)
=====================  ==========================================================================

The parity reference is the book's TinyLlama trace when it was built from the published weights
(bfloat16 on the hub, computed in float32: exactly the values the page holds). A stand-in trace
is float32 random values, which the hub-style stand-in file (:mod:`llmbook.testing.hub`) stores
rounded to bfloat16; for it the reference is recomputed once from those rounded values (float32
compute, cached under ``LLMBOOK_CACHE``) so that the stand-in file gives a green badge, and the
gap between the two is kept for the page to quote. Not handled: sharded checkpoints, another
chat template than the spec's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import numpy as np

from .assets import generated_static, write_if_changed
from .bundle import bundle
from .settings import path, settings

_IMPORT_FROM = re.compile(r'^(?:import|export) \{[^}]*\} from "((?:\./|\.\./[\w-]+/)[\w-]+)\.js";', re.M)
ENTRIES = ("live/llama-worker", "live/llama-page")   # the bundle is these and everything they import
MESSAGE = "\ue000message\ue001"              # the user's message's place in a template part (never typed text)
BOOK_TRACE = "tinyllama-colors"


def modules(folder: Path, entries=ENTRIES) -> tuple[str, ...]:
    """The modules the entries need, in dependency order (each after what it imports), read from their
    import lines: the engines' own split into files (llama.js and its kernels) can change without this list."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise ValueError(f"import cycle: {' -> '.join((*path, name))}")
        source = (folder / f"{name}.js").read_text()
        for target in _IMPORT_FROM.findall(source):
            here = name.rsplit("/", 1)[0]
            visit(_resolve(here, target), (*path, name))
        order.append(name)

    for entry in entries:
        visit(entry, ())
    return tuple(order)


def _resolve(here: str, target: str) -> str:
    """"./x" from folder "live" -> "live/x"; "../engines/x" -> "engines/x"."""
    return f"{here}/{target[2:]}" if target.startswith("./") else target[3:]


def has_llama_page(app, docnames) -> bool:
    return settings(app.config)["llama_page"] in docnames


def publish_llama_files(app, env, docnames) -> None:
    """env-before-read-docs: the live TinyLlama page's scripts, data and parity reference."""
    if not has_llama_page(app, env.found_docs):
        return
    from ..part1.tokenizer_tables import llama_table

    out, sources = generated_static(app) / "tinylm", path(app, "static_sources") / "tinylm"
    write_if_changed(out / "llama-live.js", bundle(sources, modules(sources), expose="llmbookLlama", source="llmbookLlamaSource").encode())
    table = llama_table()
    tables = json.dumps({"llama": {"pieces": table["pieces"], "unk": table["unk"]}}, separators=(",", ":"), ensure_ascii=False)
    write_if_changed(out / "llama-tables.js", f"window.LLMBOOK_TOKENIZER_TABLES = {tables};\n".encode())
    reference = parity_reference()
    data = {**page_data(settings(app.config)["llama_weights_url"]), "book_prompt": reference["prompt"],
            "parity_script": "../_static/tinylm/llama-parity.js"}
    write_if_changed(out / "llama-data.js", f"window.LLMBOOK_LLAMA = {json.dumps(data, ensure_ascii=False)};\n".encode())
    write_if_changed(out / "llama-parity.js",
                     f"window.LLMBOOK_LLAMA_PARITY = {json.dumps(reference, separators=(',', ':'))};\n".encode())


def hub_config() -> dict:
    """TinyLlama-1.1B-Chat's config.json as the hub serves it."""
    from ..testing.hub import HUB_CONFIGS

    return dict(HUB_CONFIGS["tinyllama"])


def weights_bytes(config: dict | None = None) -> int:
    """Bytes of the bfloat16 tensors of a Llama with this config (the file adds a small header)."""
    c = config or hub_config()
    d, ff, L, V = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    hd = c.get("head_dim") or d // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    per_layer = 2 * d + d * q + 2 * d * kv + q * d + 3 * d * ff
    return 2 * (2 * V * d + d + L * per_layer)


def memory_margin() -> float:
    """The share of memory the page asks for beyond the weights (KV cache, working arrays), read from
    llama-math.js's ``MEMORY_MARGIN`` so the article quotes the page's own rule of thumb."""
    source = (Path(__file__).parents[2] / "_static" / "tinylm" / "live" / "llama-math.js").read_text()
    return float(re.search(r"export const MEMORY_MARGIN = ([\d.]+);", source).group(1))


def template_parts() -> list[dict]:
    """The chat template for one user message with the generation prompt, as parts the page encodes
    one by one exactly as :func:`llmbook.lm.tokenizers.template_ids` does: ``{"special": id, "name"}``
    or ``{"text": stretch}`` (each stretch encoded on its own; ``MESSAGE`` marks where the message goes).
    The BOS the model reads first (``spec.add_bos``) is the first part."""
    import re

    from transformers.utils.chat_template_utils import _compile_jinja_template

    from ..lm.specs import get_spec
    from ..lm.tokenizers import offline_tokenizer

    spec = get_spec("tinyllama")
    tok = offline_tokenizer(spec)
    markers = {"\ue000bos\ue001": (tok.bos_token_id, tok.bos_token), "\ue000eos\ue001": (tok.eos_token_id, tok.eos_token)}
    text = _compile_jinja_template(getattr(tok, "chat_template", None) or spec.chat_template).render(
        messages=[{"role": "user", "content": MESSAGE}], add_generation_prompt=True,
        bos_token="\ue000bos\ue001", eos_token="\ue000eos\ue001")
    parts = [{"special": tok.bos_token_id, "name": tok.bos_token}] if spec.add_bos else []
    for piece in re.split("(" + "|".join(map(re.escape, markers)) + ")", text):
        if piece in markers:
            parts.append({"special": markers[piece][0], "name": markers[piece][1]})
        elif piece:
            parts.append({"text": piece})
    return parts


def page_data(weights_url: str) -> dict:
    c = hub_config()
    keys = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "rope_theta", "rms_norm_eps", "max_position_embeddings", "tie_word_embeddings")
    return {"weights_url": weights_url, "weights_bytes": weights_bytes(c), "config": {k: c[k] for k in keys},
            "special_tokens": {"0": "<unk>", "1": "<s>", "2": "</s>"}, "eos_id": 2,
            "template": template_parts(), "message_marker": MESSAGE}


def parity_reference() -> dict:
    """The book's TinyLlama prompt: ids, last-position logits (float32, base64), their weights, and for a
    stand-in build the largest change that rounding the stand-in to bfloat16 made to those logits."""
    from ..lm.models import _load
    from ..part1.book_traces import book_trace

    trace = book_trace(BOOK_TRACE)
    _load.cache_clear()                        # the chapters' kernels load their own
    ids = [int(i) for i in trace.token_ids]
    logits = np.ascontiguousarray(trace.arrays["logits"][len(ids) - 1], dtype="<f4")
    rounding = None
    if trace.is_standin:
        stored = standin_file_logits(ids)
        rounding = float(np.max(np.abs(stored - logits)))
        logits = stored
        label = ("the stand-in weights (seeded random values, real architecture) as the hub-style stand-in file "
                 "stores them, in bfloat16, computed in float32")
    else:
        label = (f"the published TinyLlama-1.1B-Chat weights (revision {trace.provenance.get('revision') or 'unknown'}), "
                 "bfloat16, computed in float32")
    return {"prompt": trace.settings["prompt"], "ids": ids, "label": label, "is_standin": trace.is_standin,
            "rounding_delta": rounding, "logits_b64": base64.b64encode(logits.tobytes()).decode()}


def standin_file_logits(ids: list[int]) -> np.ndarray:
    """Last-position logits [V] of the stand-in as ``llmbook.testing.hub`` writes its file (the seeded
    float32 values rounded to bfloat16), computed in float32 with eager attention. Cached on disk:
    the first call holds about 4.5 GB for some seconds."""
    import torch
    import transformers

    from ..lm.cache import cache_root
    from ..lm.models import _standin
    from ..lm.specs import get_spec
    from ..lm.weights import STANDIN_SEED

    key = hashlib.sha256(json.dumps(["v2", ids, STANDIN_SEED, torch.__version__, transformers.__version__,
                                     _weights_code()]).encode()).hexdigest()[:20]
    target = cache_root() / "llama-parity" / f"standin-bf16-{key}.npy"
    if target.is_file():
        return np.load(target)
    model = _standin(get_spec("tinyllama"), "float32", STANDIN_SEED, {}).eval()
    with torch.no_grad():
        for p in model.parameters():          # the file's values: each rounded to bfloat16 as the hub file stores it
            p.copy_(p.to(torch.bfloat16))      # (buffers such as RoPE's inv_freq stay float32, as transformers keeps them)
        out = model(torch.tensor([ids])).logits[0, -1].numpy().astype("<f4")
    del model
    target.parent.mkdir(parents=True, exist_ok=True)
    np.save(target, out)
    return out


def _weights_code() -> str:
    """What decides the stand-in's values: the code that fills them."""
    from pathlib import Path

    from ..lm import weights

    return hashlib.sha256(Path(weights.__file__).read_bytes()).hexdigest()[:16]
