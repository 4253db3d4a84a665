import json
import zipfile

import numpy as np
import pytest

from llmbook import Trace, TraceError, capture, load_model
from tests.conftest import PROMPTS, SMALL


@pytest.fixture(scope="module")
def trace():
    lm = load_model("distilgpt2", "standin", config_overrides=SMALL["distilgpt2"])
    return capture(lm, PROMPTS["distilgpt2"], max_new_tokens=2)


def test_round_trip_without_pickle(trace, tmp_path):
    path = trace.save(tmp_path / "t.npz")
    back = Trace.load(path)
    assert back.token_ids == trace.token_ids and back.tokens == trace.tokens
    assert back.generated_ids == trace.generated_ids and back.steps == trace.steps
    assert back.provenance == trace.provenance and back.vocab == trace.vocab
    assert set(back.arrays) == set(trace.arrays)
    for k in trace.arrays:
        np.testing.assert_array_equal(back.arrays[k], trace.arrays[k])
    with np.load(path, allow_pickle=False) as z:           # every member loads without pickle
        assert all(z[k].dtype != object for k in z.files)


def test_truncated_file_is_refused(trace, tmp_path):
    path = trace.save(tmp_path / "t.npz")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(TraceError, match="truncated"):
        Trace.load(path)


def test_tampered_array_is_refused(trace, tmp_path):
    path = trace.save(tmp_path / "t.npz")
    with np.load(path, allow_pickle=False) as z:
        members = {k: z[k] for k in z.files}
    members["logits"] = members["logits"] + 1.0             # rewritten with valid zip CRCs
    np.savez(path, **members)
    with pytest.raises(TraceError, match="SHA-256"):
        Trace.load(path)


def test_other_files_are_refused(tmp_path):
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(TraceError, match="not an llmbook trace"):
        Trace.load(tmp_path / "plain.npz")
    meta = np.frombuffer(json.dumps({"format": "llmbook-trace/99"}).encode(), np.uint8)
    np.savez(tmp_path / "future.npz", __meta__=meta)
    with pytest.raises(TraceError, match="llmbook-trace/1"):
        Trace.load(tmp_path / "future.npz")
    with pytest.raises(TraceError, match="no such trace"):
        Trace.load(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(TraceError):
        Trace.load(tmp_path / "text.npz")


def test_save_is_atomic(trace, tmp_path):
    path = trace.save(tmp_path / "t.npz")
    assert zipfile.is_zipfile(path) and not list(tmp_path.glob("*.part"))
