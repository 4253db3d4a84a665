"""Parity cases for the widget's engines, with PyTorch's answers.

A case is a seeded ``llmbook.tiny`` model plus a prompt and training batches; the
reference is what ``TinyTransformer`` and ``torch.optim.AdamW`` (via
``llmbook.tiny.train.make_optimizer``) compute for it. ``check.mjs`` runs the same
case in JavaScript, and the tests compare.
"""

from __future__ import annotations

import numpy as np
import torch

from llmbook.tiny.model import TinyConfig, TinyTransformer
from llmbook.tiny.train import TrainConfig, make_optimizer

BOOK_SIZE = TinyConfig(vocab_size=768, context_len=64, d_model=64, n_heads=4, n_layers=2)


def make_case(config: TinyConfig = BOOK_SIZE, batch: int = 4, steps: int = 10, lr: float = 3e-3, seed: int = 0) -> dict:
    """Weights after a few real steps (so LayerNorm weights are not all 1), random prompt and batches."""
    model = TinyTransformer(config, seed=seed)
    rng = np.random.default_rng(seed)
    T = config.context_len
    opt = make_optimizer(model, TrainConfig(lr=1e-2))
    for _ in range(3):                                 # move off the init so every tensor matters
        x = torch.from_numpy(rng.integers(0, config.vocab_size, (batch, T + 1)))
        opt.zero_grad()
        model.loss(x[:, :-1], x[:, 1:]).backward()
        opt.step()
    windows = rng.integers(0, config.vocab_size, (steps, batch, T + 1))
    return {"weights": model.to_json(), "ids": rng.integers(0, config.vocab_size, T - 7).tolist(),
            "seqLen": T, "lr": lr,
            "batches": [{"inputs": w[:, :-1].reshape(-1).tolist(), "targets": w[:, 1:].reshape(-1).tolist()}
                        for w in windows]}


def reference(case: dict) -> dict:
    """PyTorch's logits, first-batch loss and gradients, per-step losses and final weights."""
    model = TinyTransformer.from_json(case["weights"])
    T = case["seqLen"]
    batches = [(torch.tensor(b["inputs"]).view(-1, T), torch.tensor(b["targets"]).view(-1, T))
               for b in case["batches"]]
    with torch.no_grad():
        logits = model.forward(case["ids"]).numpy()
    loss = model.loss(*batches[0])
    loss.backward()
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    model.zero_grad()
    opt = make_optimizer(model, TrainConfig(lr=case["lr"]))
    losses = []
    for x, y in batches:
        opt.zero_grad()
        step_loss = model.loss(x, y)
        step_loss.backward()
        opt.step()
        losses.append(step_loss.item())
    final = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    return {"logits": logits, "loss": loss.item(), "grads": grads, "losses": losses, "final": final}


def compare(got: dict, ref: dict, config: TinyConfig = BOOK_SIZE) -> dict:
    """Every measured difference, named; the tests hold each to its bound."""
    V = config.vocab_size
    logits = np.asarray(got["logits"], dtype=np.float32).reshape(-1, V)
    out = {"logits_max_abs": float(np.abs(logits - ref["logits"]).max()),
           "loss_rel": abs(got["loss"] - ref["loss"]) / abs(ref["loss"]),
           "losses_rel": float(np.max(np.abs(np.subtract(got["losses"], ref["losses"])) / np.abs(ref["losses"])))}
    out["grad_rel"] = {n: float(np.abs(np.asarray(got["grads"][n]).reshape(g.shape) - g).max() / np.abs(g).max())
                       for n, g in ref["grads"].items()}
    out["final_max_abs"] = {n: float(np.abs(np.asarray(got["final"][n]).reshape(w.shape) - w).max())
                            for n, w in ref["final"].items()}
    return out


def assert_parity(got: dict, ref: dict) -> dict:
    """The issue's bounds: logits ≤ 1e-4 absolute; loss, gradients, ten steps' losses ≤ 1e-4
    relative; final weights ≤ 1e-4 absolute. Returns the differences."""
    diff = compare(got, ref)
    assert diff["logits_max_abs"] <= 1e-4, diff
    assert diff["loss_rel"] <= 1e-4, diff
    assert max(diff["grad_rel"].values()) <= 1e-4, diff["grad_rel"]
    assert diff["losses_rel"] <= 1e-4, (got["losses"], ref["losses"])
    assert max(diff["final_max_abs"].values()) <= 1e-4, diff["final_max_abs"]
    return diff
