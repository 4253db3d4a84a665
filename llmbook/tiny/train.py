"""Training the tiny transformer: AdamW on random windows, seeded, with a loss history.

The optimiser is ``torch.optim.AdamW`` with a constant learning rate, so the
browser widget's AdamW can reproduce it step for step. Weight snapshots are kept at
chosen steps for the training chapter's heatmaps. A NaN or infinite loss stops
training with :class:`TrainingDiverged` (the last good weights are kept).
Not handled: learning-rate schedules, gradient accumulation, mixed precision.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .model import TinyTransformer


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1500
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    eval_every: int = 100
    eval_batches: int = 16
    seed: int = 0
    snapshot_steps: tuple[int, ...] = (0, 25, 100, 400)   # plus the final step


@dataclass
class History:
    steps: list[int] = field(default_factory=list)          # where losses were measured
    train_loss: list[float] = field(default_factory=list)   # mean over eval_batches random windows
    val_loss: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)    # every step's minibatch loss
    seconds: float = 0.0
    tokens_per_second: float = 0.0
    snapshots: dict[int, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)

    def summary(self) -> dict:
        out = asdict(self)
        out.pop("snapshots")
        return out


TRAIN_THREADS = 2     # torch threads while training: the same model on any machine (see train())


def random_windows(data: np.ndarray, batch: int, T: int, gen: torch.Generator):
    """[B, T] inputs and their next-token targets from random offsets of ``data``."""
    if len(data) < T + 1:
        raise ValueError(f"the text has {len(data)} tokens; a training window needs {T + 1}")
    starts = torch.randint(0, len(data) - T, (batch,), generator=gen)
    idx = starts[:, None] + torch.arange(T + 1)                                   # [B, T+1]
    windows = torch.from_numpy(data.astype(np.int64))[idx]
    return windows[:, :-1], windows[:, 1:]


@torch.no_grad()
def estimate_loss(model: TinyTransformer, data: np.ndarray, cfg: TrainConfig, seed: int) -> float:
    gen = torch.Generator().manual_seed(seed)
    T = model.config.context_len
    losses = [float(model.loss(*random_windows(data, cfg.batch_size, T, gen))) for _ in range(cfg.eval_batches)]
    return float(np.mean(losses))


def make_optimizer(model: TinyTransformer, cfg: TrainConfig) -> torch.optim.AdamW:
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps,
                             weight_decay=cfg.weight_decay)


def train(model: TinyTransformer, train_ids: np.ndarray, val_ids: np.ndarray,
          cfg: TrainConfig = TrainConfig(), progress: bool = False) -> History:
    """Train in place; returns the loss history and weight snapshots.

    Deterministic algorithms are on while training: the embedding's backward pass
    otherwise accumulates gradients in a thread-dependent order, and two runs with
    the same seed drift apart in the last digits. The thread count is pinned too
    (``TRAIN_THREADS``, whatever the machine or ``OMP_NUM_THREADS`` says): a build
    with one torch thread trained a model whose attention chapter's checks failed.
    Not handled: other CPUs' kernels (AVX-512 against AVX2) may still round differently.
    """
    before, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(TRAIN_THREADS)
    try:
        return _train(model, train_ids, val_ids, cfg, progress)
    finally:
        torch.use_deterministic_algorithms(before)
        torch.set_num_threads(threads)


def train_step(model: TinyTransformer, opt: torch.optim.Optimizer,
               inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """One optimisation step on [B, T] inputs and their targets (the inputs shifted by one).

    Returns the loss measured *before* the update. A NaN or infinite loss raises
    :class:`TrainingDiverged` before any weight changes.
    """
    loss = model.loss(inputs, targets)   # mean cross-entropy: -ln p(target) over all B·T positions
    if not math.isfinite(loss.item()):
        raise TrainingDiverged(f"loss became {loss.item()}")
    opt.zero_grad(set_to_none=True)   # gradients add up in .grad: clear last step's
    loss.backward()                   # backpropagation: d loss / d every parameter
    opt.step()                        # AdamW moves each weight against its gradient
    return loss.item()


def _train(model, train_ids, val_ids, cfg, progress) -> History:
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(cfg.seed)
    opt = make_optimizer(model, cfg)
    hist, T = History(), model.config.context_len
    start = time.perf_counter()
    # in a log (CI, Read the Docs) a bar redrawn ten times a second is thousands of lines: every 15 s there
    bar = tqdm(range(cfg.steps + 1), desc="training", unit="step", disable=not progress,
               mininterval=0.1 if sys.stderr.isatty() else 15)
    for step in bar:
        if step in cfg.snapshot_steps or step == cfg.steps:
            hist.snapshots[step] = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
        if step % cfg.eval_every == 0 or step == cfg.steps:
            model.eval()
            hist.steps.append(step)
            hist.train_loss.append(estimate_loss(model, train_ids, cfg, seed=step + 1))
            hist.val_loss.append(estimate_loss(model, val_ids, cfg, seed=step + 1))
            model.train()
            bar.set_postfix(train=f"{hist.train_loss[-1]:.3f}", val=f"{hist.val_loss[-1]:.3f}")
        if step == cfg.steps:
            break
        inputs, targets = random_windows(train_ids, cfg.batch_size, T, gen)
        try:
            hist.step_loss.append(train_step(model, opt, inputs, targets))
        except TrainingDiverged as err:
            raise TrainingDiverged(f"{err} at step {step} (learning rate {cfg.lr} too high?); "
                                   f"the weights are from step {step - 1}") from None
    hist.seconds = time.perf_counter() - start
    hist.tokens_per_second = cfg.steps * cfg.batch_size * T / hist.seconds
    model.eval()
    return hist


def unigram_loss(train_ids: np.ndarray, val_ids: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy on val of the train unigram distribution (add-one smoothed): the baseline
    a model must beat to have learned anything beyond token frequencies."""
    counts = np.bincount(train_ids, minlength=vocab_size).astype(np.float64) + 1
    p = counts / counts.sum()
    return float(-np.log(p[val_ids]).mean())
