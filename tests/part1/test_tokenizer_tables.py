"""The page's JavaScript GPT-2 and Llama tokenizers give the Python tokenizers' ids."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from llmbook.lm.specs import get_spec
from llmbook.part1.tokenizer_tables import gpt2_table, llama_table
from llmbook.lm.tokenizers import offline_tokenizer

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["To be, or not to be", " leading space", "ROMEO:\nWherefore art thou", "def add(a, b): return a + b",
         "今天天气很好", "I love 🍕 and 🎉!", "<script>alert('x')</script>", "  two  spaces\n\n\tTab",
         "don't I'll we've", "Café naïve — “quotes” 123.45", "", "x" * 3000]


def test_gpt2_table_is_bytes_then_merges():
    t = gpt2_table()
    assert sorted(t["byte_ids"]) == list(range(256)) and len(t["merges"]) == 2 * 50000


@pytest.mark.skipif(not shutil.which("node"), reason="Node.js is needed to run the JS tokenizers")
def test_javascript_tokenizers_match_python(tmp_path):
    (tmp_path / "in.json").write_text(json.dumps({"t": {"gpt2": gpt2_table(), "llama": llama_table()},
                                                  "texts": TEXTS}))
    script = f"""
        const fs = require("fs"); globalThis.window = globalThis;
        eval(fs.readFileSync({json.dumps(str(ROOT / "_static/tinylm/tokenizers/tokenizers.js"))}, "utf8"));
        const {{ t, texts }} = JSON.parse(fs.readFileSync({json.dumps(str(tmp_path / "in.json"))}, "utf8"));
        const g = window.llmbookTokenizers.gpt2(t.gpt2), l = window.llmbookTokenizers.llama(t.llama);
        console.log(JSON.stringify({{ gpt2: texts.map((x) => g.encode(x)), llama: texts.map((x) => l.encode(x)),
                                     pieces: l.encode("Hi\\nthere").map((i) => l.piece(i)) }}));
    """
    got = json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout)
    for name, key in (("distilgpt2", "gpt2"), ("tinyllama", "llama")):
        tok = offline_tokenizer(get_spec(name))
        assert got[key] == [tok.encode(t, add_special_tokens=False) for t in TEXTS], name
    assert got["pieces"] == [" Hi", "\n", "there"]
