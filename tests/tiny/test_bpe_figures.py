from collections import Counter

from llmbook.tiny import bpe
from llmbook.tiny import bpe_figures as bf
from llmbook.tiny.figures import labels_for
from llmbook.tiny.model import TinyConfig, TinyTransformer

TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 20


def test_pair_counts_match_counter():
    ids = list("abab aa".encode())
    counts = bf.pair_counts(ids, 256)
    for (a, b), n in Counter(zip(ids, ids[1:])).items():
        assert counts[a, b] == n
    assert counts.sum() == len(ids) - 1


def test_recount_agrees_with_training():
    merges = bpe.train(TEXT.encode(), 3)
    tops = bf.recount_top_pairs(TEXT, merges, steps=3, k=2)
    assert [(a, b) for (a, b, _), *_ in tops] == merges


def test_pair_occurrences_explains_runner_up_drop():
    merges = bpe.train(TEXT.encode(), 1)
    a, b = merges[0]
    assert bf.pair_occurrences(TEXT, (a, b), []) == bf.pair_counts(list(TEXT.encode()), 256)[a, b]
    assert bf.pair_occurrences(TEXT, (a, b), merges) == 0


def test_merge_trace_ends_at_encode():
    merges = bpe.train(TEXT.encode(), 40)
    trace = bf.merge_trace("the question", merges)
    assert trace and trace[-1]["ids"] == bpe.encode("the question", merges)
    assert [t["step"] for t in trace] == sorted(t["step"] for t in trace)
    table = bf.trace_table("the question", merges, labels_for(merges))
    assert table.count("\n") == len(trace) + 2


def test_space_tokens_and_md_escape():
    labels = ["x"] * 256 + ["e␣", "␣t", "a␣b", "|"]
    assert bf.space_tokens(labels) == {"end": [256], "start": [257], "inside": [258]}
    assert bf.md_token("|") == "`¦`"


def test_param_groups_sum_to_total():
    model = TinyTransformer(TinyConfig(vocab_size=300, context_len=8, d_model=16, n_heads=2, n_layers=2))
    groups = bf.param_groups(model)
    assert sum(groups.values()) == sum(p.numel() for p in model.parameters())
    assert groups["token embedding"] == 300 * 16 and set(groups) >= {"block 0", "block 1"}


def test_top_next_probabilities():
    top = bf.top_next([0.0, 2.0, 1.0], k=2)
    assert [i for i, _ in top] == [1, 2] and 0 < top[1][1] < top[0][1] < 1


def test_pair_replacements_do_not_overlap():
    text = "aaa b aa"
    a = ord("a")
    assert bf.pair_occurrences(text, (a, a), []) == 3       # counted: aa·a twice, aa once
    assert bf.pair_replacements(text, (a, a), []) == 2      # replaced: once per run


def test_merge_lengths():
    merges = bpe.train(TEXT.encode(), 20)
    out = bf.merge_lengths(merges, n=5)
    table = bpe.vocab_bytes(merges)
    assert out["first_mean"] == sum(len(table[256 + i]) for i in range(5)) / 5
    assert all(len(table[i]) == 2 and i >= 256 + 15 for i in out["last_short"])
