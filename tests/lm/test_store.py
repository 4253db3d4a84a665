import pytest

from llmbook import Sampling
from llmbook.lm import store
from llmbook.lm.trace import Trace


def _never_load(*a, **k):
    raise AssertionError("the model was loaded although the trace was cached")


def test_second_request_is_a_cache_hit(monkeypatch):
    first = store.get_trace("distilgpt2", "one two", weights="standin", max_new_tokens=1)
    monkeypatch.setattr(store, "load_model", _never_load)
    again = store.get_trace("distilgpt2", "one two", weights="standin", max_new_tokens=1)
    assert again.generated_ids == first.generated_ids
    with pytest.raises(AssertionError, match="was loaded"):
        store.get_trace("distilgpt2", "one two three", weights="standin", max_new_tokens=1)


def test_keys_change_with_what_decides_the_contents():
    k = store.trace_key("distilgpt2", "standin:seed=0", "float32", "hi", max_new_tokens=1)
    assert k == store.trace_key("distilgpt2", "standin:seed=0", "float32", "hi", max_new_tokens=1)
    others = [store.trace_key("distilgpt2", "standin:seed=1", "float32", "hi", max_new_tokens=1),
              store.trace_key("distilgpt2", "standin:seed=0", "bfloat16", "hi", max_new_tokens=1),
              store.trace_key("distilgpt2", "standin:seed=0", "float32", "hi!", max_new_tokens=1),
              store.trace_key("distilgpt2", "standin:seed=0", "float32", "hi", max_new_tokens=2),
              store.trace_key("distilgpt2", "standin:seed=0", "float32", "hi", max_new_tokens=1,
                              sampling=Sampling(temperature=1.0))]
    assert len({k, *others}) == 6


def test_corrupt_cache_entry_is_recomputed(tmp_path):
    tr = store.get_trace("distilgpt2", "red green", weights="standin")
    [path] = list(store.cache_dir().glob("distilgpt2-*.npz"))
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="corrupt cached trace"):
        again = store.get_trace("distilgpt2", "red green", weights="standin")
    assert again.token_ids == tr.token_ids
    assert Trace.load(path).token_ids == tr.token_ids                 # rewritten


def test_shipped_traces_are_used_first(monkeypatch, tmp_path):
    tr = store.get_trace("distilgpt2", "blue", weights="standin")
    [path] = list(store.cache_dir().glob("*.npz"))
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    path.rename(shipped / path.name)
    monkeypatch.setenv("LLMBOOK_TRACES", str(shipped))
    monkeypatch.setattr(store, "load_model", _never_load)
    assert store.get_trace("distilgpt2", "blue", weights="standin").token_ids == tr.token_ids
