"""Plain SGD on the abc-parametrized weights (TP IV §3) with the MSE loss: the trainer of the μP experiments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from netoptima.conventions import check_finite_loss, check_int, check_positive, progress
from netoptima.mup.models import MLP, param_groups

__all__ = ["SGDResult", "mse_loss", "sgd_step", "train_sgd"]


def mse_loss(f: Tensor, Y: Tensor) -> Tensor:
    """Mean squared error over all N·k entries (``F.mse_loss``, the same as mup's coord-check ``"mse"``)."""
    return F.mse_loss(f, Y)


@torch.no_grad()
def sgd_step(groups: list[dict]) -> None:
    """w ← w − lr·∇w for every parameter of every group: ``torch.optim.SGD`` without momentum or decay.

    Written out because constructing ``torch.optim.SGD`` imports ``torch._dynamo`` (seconds per fresh worker
    process); the tests check it against ``torch.optim.SGD`` step for step.

    Raises:
        ValueError: ``groups`` is not a list of ``{"params": [...], "lr": float}`` (as :func:`param_groups` makes).
    """
    if not isinstance(groups, (list, tuple)) or not all(isinstance(g, dict) and {"params", "lr"} <= g.keys()
                                                         for g in groups):
        raise ValueError(f"groups must be a list of dicts with 'params' and 'lr' (see param_groups), got "
                         f"{type(groups).__name__}")
    for g in groups:
        for p in g["params"]:
            if p.grad is not None:
                p.add_(p.grad, alpha=-g["lr"])


@dataclass(frozen=True)
class SGDResult:
    """What :func:`train_sgd` did: the minibatch loss before each step, the base rate and the step count."""

    losses: tuple[float, ...]
    lr: float
    steps: int


def _check_data(model: MLP, X: Tensor, Y: Tensor) -> None:
    if not isinstance(X, Tensor) or X.ndim != 2 or X.shape[1] != model.in_features:
        shape = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
        raise ValueError(f"X must have shape (M, {model.in_features}) (the model's in_features), got {shape}")
    if not isinstance(Y, Tensor) or Y.ndim != 2 or Y.shape != (X.shape[0], model.out_features):
        shape = tuple(Y.shape) if isinstance(Y, Tensor) else type(Y).__name__
        raise ValueError(f"Y must have shape ({X.shape[0]}, {model.out_features}) (M rows of X, the model's "
                         f"out_features), got {shape}; a (M, 1) target would broadcast onto every output")
    if X.shape[0] < 1:
        raise ValueError("X and Y need at least one row")


def train_sgd(model: MLP, X: Tensor, Y: Tensor, *, steps: int, lr: float, batch_size: int | None = None,
              seed: int = 0, callback: Callable[[int, MLP], None] | None = None, every: int = 1,
              device: str | torch.device | None = None, dtype: torch.dtype | None = None,
              quiet: bool | None = True) -> SGDResult:
    """Plain SGD on the abc-parametrized weights with :func:`param_groups` (TP IV §3), MSE loss.

    Arguments:
        model: the :class:`MLP` (moved to ``device``/``dtype`` and trained in place).
        X, Y: training inputs (M, d) and targets (M, k), d and k the model's in and out features.
        steps: number of SGD steps (≥ 0).
        lr: base learning rate η (each layer gets η (n/n0)^{-c}).
        batch_size: minibatch size, drawn with replacement each step; ``None`` = full batch (GD).
        seed: seeds the minibatch draws.
        callback: called as ``callback(t, model)`` before step t for t = 0, every, 2·every, … and after the
            last step (t = steps).
        every: callback period (≥ 1).
        device, dtype: where and in which precision to train; ``None`` keeps the model's.
        quiet: no progress bar when True.

    Returns:
        :class:`SGDResult` with the minibatch training loss before each step (length ``steps``).

    Raises:
        ValueError: a bad argument, or X / Y whose shapes do not fit the model.
        TrainingDiverged: the loss became non-finite or rose above 1e4 × max(first loss, 1)
            (:func:`netoptima.conventions.check_finite_loss`).
    """
    if not isinstance(model, MLP):
        raise ValueError(f"model must be a netoptima.mup.MLP, got {type(model).__name__}")
    steps = check_int("steps", steps, low=0)
    every = check_int("every", every, low=1)
    lr = check_positive("lr", lr)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, low=1)
    _check_data(model, X, Y)
    model.to(device=device, dtype=dtype)
    w = model.layers[0].weight
    X, Y = X.to(device=w.device, dtype=w.dtype), Y.to(device=w.device, dtype=w.dtype)
    M = X.shape[0]
    groups = param_groups(model, lr)
    gen = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    start: float | None = None
    for t in progress(range(steps), desc=f"SGD {model.parametrization} n={model.width}", quiet=quiet):
        if callback is not None and t % every == 0:
            callback(t, model)
        if batch_size is None:
            xb, yb = X, Y
        else:
            idx = torch.randint(0, M, (batch_size,), generator=gen).to(X.device)  # (B,)
            xb, yb = X[idx], Y[idx]
        loss = mse_loss(model(xb), yb)
        value = check_finite_loss(loss.detach(), step=t, lr=lr, start=start)
        start = value if start is None else start
        losses.append(value)
        model.zero_grad(set_to_none=True)
        loss.backward()
        sgd_step(groups)
    if callback is not None:
        callback(steps, model)
    return SGDResult(losses=tuple(losses), lr=lr, steps=steps)
