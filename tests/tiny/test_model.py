import json
import math

import numpy as np
import pytest
import torch

from llmbook.tiny import TinyConfig, TinyTransformer, TrainConfig, TrainingDiverged, train, unigram_loss

CFG = TinyConfig(vocab_size=300, context_len=16, d_model=24, n_heads=3, n_layers=2)


def reference_logits(obj: dict, ids) -> np.ndarray:
    """CONTRACTS §4 written out in numpy from the JSON object alone."""
    c, W = obj["config"], {k: np.asarray(v["data"], np.float64).reshape(v["shape"]) for k, v in obj["tensors"].items()}
    d, H = c["d_model"], c["n_heads"]
    dh, T = d // H, len(ids)

    def ln(x, p):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * W[p + ".weight"] + W[p + ".bias"]

    x = W["tok_emb"][ids] + W["pos_emb"][:T]
    for i in range(c["n_layers"]):
        p = f"layers.{i}."
        qkv = ln(x, p + "ln1") @ W[p + "attn.w_qkv"]
        heads = []
        for j in range(H):
            q, k, v = (qkv[:, s * d + j * dh: s * d + (j + 1) * dh] for s in range(3))
            s_ = q @ k.T / math.sqrt(dh)
            s_[np.triu_indices(T, 1)] = -np.inf
            a = np.exp(s_ - s_.max(-1, keepdims=True))
            heads.append((a / a.sum(-1, keepdims=True)) @ v)
        x = x + np.concatenate(heads, -1) @ W[p + "attn.w_out"]
        h = ln(x, p + "ln2") @ W[p + "ffn.w1"]
        x = x + 0.5 * h * (1 + np.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3))) @ W[p + "ffn.w2"]
    return ln(x, "ln_f") @ W["tok_emb"].T


def test_forward_matches_the_contract_maths():
    model = TinyTransformer(CFG, seed=1)
    ids = [5, 17, 299, 0, 42, 42, 8]
    ref = reference_logits(model.to_json(), ids)
    for as_input in (ids, np.array(ids), torch.tensor(ids)):
        np.testing.assert_allclose(model(as_input).detach().numpy(), ref, atol=2e-5)


def test_json_round_trip_keeps_every_number(tmp_path):
    model = TinyTransformer(CFG, seed=2)
    path = model.save(tmp_path / "w.json", merges=[(97, 98)])
    back = TinyTransformer.from_json(path)
    for (n, p), (_, q) in zip(model.named_parameters(), back.named_parameters()):
        assert torch.equal(p, q), n
    assert back.merges == [(97, 98)]
    obj = json.loads(path.read_text())
    assert obj["format"] == "llmbook-tiny/1" and obj["config"]["d_ff"] == 96
    assert list(obj["tensors"]) [:3] == ["tok_emb", "pos_emb", "layers.0.ln1.weight"]


def _broken(mutate):
    obj = TinyTransformer(CFG).to_json()
    mutate(obj)
    return obj


@pytest.mark.parametrize("mutate,message", [
    (lambda o: o.update(format="other"), "not an llmbook-tiny/1"),
    (lambda o: o["tensors"].pop("ln_f.bias"), "missing"),
    (lambda o: o["tensors"]["tok_emb"].update(shape=[300, 25]), "shape"),
    (lambda o: o["tensors"]["pos_emb"]["data"].pop(), "expected 384 numbers"),
    (lambda o: o["tensors"]["pos_emb"]["data"].__setitem__(3, "x"), "must all be numbers"),
    (lambda o: o["tensors"]["pos_emb"]["data"].__setitem__(3, float("nan")), "NaN"),
    (lambda o: o["config"].update(n_heads=5), "not divisible"),
    (lambda o: o["config"].update(d_model=-1), "positive integer"),
    (lambda o: o["config"].update(dropout=0.1), "unknown config"),
    (lambda o: o.update(merges=[[999, 1]]), "merge 0"),
])
def test_malformed_weights_are_refused(mutate, message):
    with pytest.raises(ValueError, match=message):
        TinyTransformer.from_json(_broken(mutate))


def test_unreadable_files_are_refused(tmp_path):
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(ValueError, match="not a readable weights file"):
        TinyTransformer.from_json(tmp_path / "bad.json")


def test_bad_ids_and_lengths():
    model = TinyTransformer(CFG)
    with pytest.raises(ValueError, match="exceed the context"):
        model(list(range(17)))
    with pytest.raises(ValueError, match=r"\[0, 300\)"):
        model([300])
    with pytest.raises(ValueError, match="one sequence"):
        model([[1, 2]])


def _data(n=5000):
    text = np.frombuffer(("the cat sat on the mat. " * 400).encode(), np.uint8).astype(np.uint16)
    return text[:n]


def test_training_lowers_the_loss_and_is_seeded():
    data = _data()
    cfg = TrainConfig(steps=40, batch_size=8, lr=1e-2, eval_every=20, eval_batches=2, snapshot_steps=(0,))
    a, b = TinyTransformer(CFG), TinyTransformer(CFG)
    ha, hb = train(a, data, data, cfg), train(b, data, data, cfg)
    assert ha.step_loss == hb.step_loss                                  # reproducible
    assert ha.val_loss[-1] < ha.val_loss[0] - 1.5
    assert set(ha.snapshots) == {0, 40} and ha.tokens_per_second > 0
    assert not np.array_equal(ha.snapshots[0]["tok_emb"], ha.snapshots[40]["tok_emb"])


def test_divergence_is_reported():
    with pytest.raises(TrainingDiverged, match="learning rate"):
        train(TinyTransformer(CFG), _data(), _data(), TrainConfig(steps=50, batch_size=4, lr=1e30, eval_every=100))


def test_unigram_baseline_is_below_uniform():
    data = _data()
    assert unigram_loss(data, data, 300) < math.log(300)
