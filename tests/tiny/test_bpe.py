import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from llmbook.tiny import bpe

ROOT = Path(__file__).resolve().parents[2]

TEXTS = {
    "shakespeare": "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 20,
    "runs": "aaaaaaabaaaaaaabbbbbbbb aaa ab ab abab" * 30,
    "unicode": "今天天气很好 🍕🎉 é\u0301 naïve café — 'quoted' " * 25,
    "random": "".join(random.Random(0).choice("ab c\n") for _ in range(3000)),
}


def encode_reference(text: str, merges) -> list[int]:
    """minbpe-style: repeatedly merge the adjacent pair with the lowest merge index."""
    rank = {pair: i for i, pair in enumerate(merges)}
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        pairs = set(zip(ids, ids[1:]))
        best = min(pairs, key=lambda p: rank.get(p, float("inf")))
        if best not in rank:
            break
        ids = bpe._merge_list(ids, best, 256 + rank[best])
    return ids


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_training_matches_the_recount_algorithm(name):
    data = TEXTS[name].encode("utf-8")
    assert bpe.train(data, 60) == bpe.train_recount(data, 60)


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_encode_matches_reference_and_round_trips(name):
    merges = bpe.train(TEXTS["shakespeare"].encode() + TEXTS["unicode"].encode(), 80)
    text = TEXTS[name]
    ids = bpe.encode(text, merges)
    assert ids == encode_reference(text, merges)
    assert bpe.decode(ids, merges) == text
    if name == "shakespeare":                       # text like the training text compresses
        assert len(ids) < len(text.encode()) / 2


def test_first_merges_on_a_known_text():
    # "ab" occurs 3 times, the rest fewer: it is merge 0; ties go to the smallest pair
    assert bpe.train(b"abxabyab", 1) == [(97, 98)]
    assert bpe.train(b"ba ab", 1) == [(32, 97)]          # all pairs once: smallest (left, right)
    assert bpe.train(b"aaaa", 2) == [(97, 97), (256, 256)]   # overlapping pairs count, merges don't overlap


def test_training_stops_when_nothing_is_left_to_merge():
    assert bpe.train(b"ab", 5) == [(97, 98)]
    assert bpe.train(b"", 5) == []


def test_top_pairs_orders_by_count_then_pair():
    seen = []
    bpe.train(b"abab cdcd", 1, on_merge=lambda s, p, c: seen.append(bpe.top_pairs(c, 3)))
    assert seen[0] == [(97, 98, 2), (99, 100, 2), (32, 99, 1)]


def test_decode_shows_invalid_utf8_as_replacement():
    merges = [(0xE4, 0xBB)]                               # the first two bytes of 今
    assert bpe.decode([256], merges) == "\ufffd"
    with pytest.raises(ValueError, match="outside this vocabulary"):
        bpe.decode([300], merges)


def test_lone_surrogates_and_types():
    assert bpe.encode("a\ud800b", []) == list("a\ufffdb".encode())
    with pytest.raises(TypeError):
        bpe.encode(b"bytes", [])
    with pytest.raises(TypeError):
        bpe.train("text", 3)


@pytest.mark.parametrize("bad", [[[300, 1]], [[1]], [["a", "b"]], {"x": 1}, [[True, 1]], [[256, 0]]])
def test_malformed_merges_are_refused(bad, tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"merges": bad}))
    with pytest.raises(ValueError):
        bpe.load_merges(path)


def test_merges_file_round_trip(tmp_path):
    merges = bpe.train(TEXTS["shakespeare"].encode(), 20)
    assert bpe.load_merges(bpe.save_merges(merges, tmp_path / "m.json")) == merges
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a readable merges file"):
        bpe.load_merges(tmp_path / "junk.json")


@pytest.mark.skipif(not shutil.which("node"), reason="Node.js is needed to run the JS encoder")
def test_javascript_encoder_gives_the_same_ids(tmp_path):
    merges = bpe.train("".join(TEXTS.values()).encode(), 120)
    texts = list(TEXTS.values()) + ["", "<script>alert(1)</script>", "x" * 100_000, "a\ud800b"]
    (tmp_path / "in.json").write_text(json.dumps({"merges": merges, "texts": texts}))
    script = f"""
        import {{ encode, decode }} from {json.dumps((ROOT / "_static/tinylm/tokenizers/bpe.js").as_uri())};
        import {{ readFileSync }} from "node:fs";
        const {{ merges, texts }} = JSON.parse(readFileSync({json.dumps(str(tmp_path / "in.json"))}, "utf8"));
        const ids = texts.map((t) => Array.from(encode(t, merges)));
        const back = ids.map((i) => decode(i, merges));
        console.log(JSON.stringify({{ ids, back }}));
    """
    out = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    assert got["ids"] == [bpe.encode(t, merges) for t in texts]
    assert got["back"] == [bpe.decode(bpe.encode(t, merges), merges) for t in texts]
