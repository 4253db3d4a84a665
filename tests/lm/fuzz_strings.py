"""A seeded generator of strings that tokenizers get wrong: the fuzz suite's inputs.

``fuzz_strings(n, seed)`` returns ``n`` strings (the same ones for the same seed), each built
from a few fragments of the kinds below, glued with random separators. A few fixed cases come
first (the examples the issue names). ``LONE_SURROGATES`` are kept apart: Python refuses them,
the page reads them as U+FFFD.
"""

from __future__ import annotations

import random

FIXED = [" hello", "a  b", "hello", "", " ", "  ", "\n", "\t", "<s>", "</s>", "<unk>", "<|user|>",
         "<|endoftext|>", "<s>hi</s>", "<|user|>\nhi</s>\n<|assistant|>\n", "▁", "▁▁x", "x" * 3000,
         " " * 40 + "x", "\u00a0\u00a0", "\u200b", "e\u0301", "👩\u200d👩\u200d👧\u200d👦", "今天天气很好",
         "Name three primary colors.", "January, February, March,", "def f():\n    return  1\n"]

WORDS = ["hello", "world", "the", "The", "cat", "don't", "I'll", "we've", "primary", "colors", "tokenizer",
         "Wherefore", "naïve", "café", "Ångström", "straße", "ÉCOLE", "123", "3.14159", "1,000,000", "0x1F",
         "x", "a", "I", "e", "--", "...", "!!", "?", "(", ")", "{", "}", "[1]", "#", "@user", "http://x.y/z?q=1",
         "snake_case", "camelCase", "ALLCAPS", "éé", "ﬁ", "½", "²", "™"]
SCRIPTS = ["今天天气很好", "東京都", "한국어 텍스트", "こんにちは世界", "Привет, мир", "Ελληνικά", "עברית",
           "العربية", "हिन्दी", "ภาษาไทย", "ქართული", "Tiếng Việt", "Ελλάδα", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𠀋𠀍"]
EMOJI = ["🍕", "🎉", "👍🏽", "👩\u200d💻", "👨\u200d👩\u200d👧\u200d👦", "🏳\ufe0f\u200d🌈", "❤\ufe0f", "🇫🇷",
         "🧑🏿\u200d🚀", "☃", "✔\ufe0e", "1\ufe0f\u20e3"]
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "Z\u0351\u0352\u0357", "\u0301", "q\u0307\u0331"]
ODD_SPACE = ["\u00a0", "\u200b", "\u200c", "\u200d", "\u2009", "\u3000", "\u2028", "\ufeff", "\u202f", "\u00ad",
             "\u0085", "\x0b", "\x0c", "\r\n", "\r", "\x00", "\x1b[0m", "\u2581", "\u2581\u2581"]
LOOKALIKES = ["<s>", "</s>", "<unk>", "<pad>", "<|user|>", "<|assistant|>", "<|system|>", "<|endoftext|>",
              "<|im_start|>", "[INST]", "<<SYS>>", "<0x0A>", "<0xE4>", "< s >", "<s", "s>", "</s", "<|", "|>",
              "<<s>>", "<s></s>", "<|user|>\n", "\n<|assistant|>\n"]


def _space_run(rng: random.Random) -> str:
    return rng.choice([" ", "\t", "\n", "\u00a0"]) * rng.choice([1, 2, 3, 4, 5, 8, 16, 17, 33])


def _long_run(rng: random.Random) -> str:
    unit = rng.choice(["a", "ab", " ", "  a", "0", "🍕", "é", "\n", "-", "=", "今", "▁", "the "])
    return unit * rng.randint(20, 400)


FRAGMENTS = [
    lambda r: r.choice(WORDS), lambda r: r.choice(WORDS), lambda r: r.choice(SCRIPTS), lambda r: r.choice(EMOJI),
    lambda r: r.choice(COMBINING), lambda r: r.choice(ODD_SPACE), lambda r: r.choice(LOOKALIKES), _space_run,
    lambda r: "".join(chr(r.randint(0x20, 0x7E)) for _ in range(r.randint(1, 12))),      # printable ASCII
    lambda r: "".join(chr(r.randint(0xA0, 0x2FFF)) for _ in range(r.randint(1, 6))),     # Latin-1 .. CJK symbols
    lambda r: "".join(chr(r.randint(0x4E00, 0x9FFF)) for _ in range(r.randint(1, 6))),   # CJK ideographs
    lambda r: "".join(chr(r.randint(0x1F300, 0x1FAFF)) for _ in range(r.randint(1, 3))),  # emoji planes
    lambda r: chr(r.choice([r.randint(0xE000, 0xF8FF), r.randint(0x10000, 0x10FFFF)])),  # private use, astral
]
SEPARATORS = ["", "", " ", " ", "  ", "\n", "\t", " \n ", "\u00a0", "\u200b"]


def fuzz_strings(n: int = 1200, seed: int = 2024) -> list[str]:
    """``n`` strings: the fixed cases, then random ones (1-8 fragments, maybe leading/trailing spaces)."""
    rng = random.Random(seed)
    out = list(FIXED)
    while len(out) < n:
        parts = [rng.choice(FRAGMENTS)(rng) for _ in range(rng.randint(1, 8))]
        if rng.random() < 0.05:
            parts.append(_long_run(rng))
        text = "".join(p + rng.choice(SEPARATORS) for p in parts)
        if rng.random() < 0.3:
            text = rng.choice([" ", "  ", "\t", "\n", "   "]) + text
        if rng.random() < 0.3:
            text = text + rng.choice([" ", "  ", "\n", "\t "])
        out.append(text)
    return out[:n]


LONE_SURROGATES = ["\ud800", "a\udfffb", "x\ud83d", "\ude00y", "🍕\ud83c", " \udc00 hello"]
