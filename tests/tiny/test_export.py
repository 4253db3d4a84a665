"""The data the tiny model publishes for the widget: checkpoint, corpus slice, parity logits."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch

from llmbook.tiny.export import TRAIN_SLICE, widget_payload


@pytest.mark.slow
def test_widget_payload_holds_the_checkpoint_corpus_and_pytorch_logits(tiny_artifacts):
    from llmbook.tiny.artifacts import load_book_model

    folder = tiny_artifacts
    data = json.loads(json.dumps(widget_payload(folder)))      # JSON-ready
    model = load_book_model(folder)
    for name, p in model.named_parameters():
        t = data["checkpoint"]["tensors"][name]
        got = np.frombuffer(base64.b64decode(t["base64"]), "<f4").reshape(t["shape"])
        np.testing.assert_array_equal(got, p.detach().numpy())
    parity = data["parity"]
    logits = np.frombuffer(base64.b64decode(parity["logits"]), "<f4").reshape(len(parity["ids"]), -1)
    with torch.no_grad():
        np.testing.assert_array_equal(logits, model.forward(parity["ids"]).numpy())
    train = np.frombuffer(base64.b64decode(data["corpus"]["train"]), "<u2")
    np.testing.assert_array_equal(train, np.load(folder / "train_ids.npy")[:TRAIN_SLICE])
    assert parity["computed_by"]["torch"] == torch.__version__
    assert len(data["checkpoint"]["merges"]) == 512
