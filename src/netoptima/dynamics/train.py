"""Full-batch training loops that record the loss at every step, and rate fits of the recorded curves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from netoptima.conventions import check_choice, check_finite_loss, check_int, progress
from netoptima.dynamics._checks import check_unit_rows
from netoptima.models import TwoLayerReLUNTK

__all__ = ["LOSSES", "FullBatchResult", "fit_exponential_rate", "fit_power_exponent", "train_full_batch"]

LOSSES = ("half_sum", "mse")


@dataclass(frozen=True)
class FullBatchResult:
    """What :func:`train_full_batch` recorded.

    Attributes:
        loss: (K + 1,) float64, the loss after 0, 1, …, K updates.
        errors: float64 errors e = u − y, (K + 1, n) with ``record_errors`` else (2, n) (first and last).
    """

    loss: np.ndarray
    errors: np.ndarray


def _lr(optimizer: Optimizer) -> float:
    return float(optimizer.param_groups[0].get("lr", float("nan")))


def train_full_batch(model: nn.Module, X: Tensor, y: Tensor, optimizer: Optimizer, *, steps: int,
                     loss: str = "half_sum", record_errors: bool = False, quiet: bool | None = None,
                     desc: str = "") -> FullBatchResult:
    """Run ``steps`` full-batch updates and record the loss before each update and after the last.

    Arguments:
        model: maps X (n, d) to (n,) or (n, 1) outputs.
        X: (n, d) inputs; y: (n,) targets.
        optimizer: any optimizer over the model's trainable parameters.
        steps: number of updates K ≥ 0.
        loss: ``"half_sum"`` = ½‖u − y‖² (the theory's L) or ``"mse"`` = mean (u − y)² (``nn.MSELoss``,
            the notebook's).
        record_errors: keep the error vector e = u − y after every update (else only the first and last).
        quiet: silence the progress bar.

    Returns:
        :class:`FullBatchResult`: ``loss`` (K + 1,) and ``errors`` (e = u − y, (K + 1, n) with
        ``record_errors`` else (2, n): before the first and after the last update); ``loss[k]`` is the
        loss after k updates, so the notebook's "loss at epoch E" (computed before that epoch's update) is
        ``loss[E − 1]``.

    Raises:
        TrainingDiverged: when the loss becomes NaN or infinite, or exceeds 1e4 × max(starting loss, 1)
            (``conventions.check_finite_loss``; names the step and learning rate).
        ValueError: bad ``steps`` / ``loss``, X or y not finite floating tensors of the model's dtype, or inputs
            without unit-norm rows for the theory model (``TwoLayerReLUNTK``: the analysis assumes ‖x_i‖ = 1).
    """
    steps = check_int("steps", steps, low=0)
    if isinstance(model, TwoLayerReLUNTK):
        check_unit_rows(X)
    check_choice("loss", loss, LOSSES)
    dtype = next((p.dtype for p in model.parameters()), None)
    for name, T in (("X", X), ("y", y)):
        if not isinstance(T, Tensor) or not T.is_floating_point() or (dtype is not None and T.dtype != dtype):
            got = f"{T.dtype} tensor" if isinstance(T, Tensor) else type(T).__name__
            raise ValueError(f"{name} must be a floating tensor of the model's dtype {dtype}, got a {got}")
        if not bool(torch.isfinite(T).all()):
            raise ValueError(f"{name} must be finite, got {int((~torch.isfinite(T)).sum())} NaN or infinite values")
    if X.ndim == 0 or X.shape[0] == 0:
        raise ValueError(f"X must have at least one sample (row), got shape {tuple(X.shape)}")
    y = y.reshape(-1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one target per row of X ({X.shape[0]}), got shape {tuple(y.shape)}")
    lr = _lr(optimizer)
    history = np.empty(steps + 1)

    def evaluate() -> tuple[Tensor, Tensor]:
        e = model(X).reshape(-1) - y  # (n,)
        value = 0.5 * (e * e).sum() if loss == "half_sum" else (e * e).mean()
        return value, e

    kept: list[Tensor] = []
    for k in progress(range(steps + 1), desc=desc or "train", total=steps + 1, quiet=quiet):
        optimizer.zero_grad(set_to_none=True)
        value, e = evaluate()
        history[k] = check_finite_loss(value.detach(), step=k, lr=lr, start=history[0] if k else None)
        if record_errors or k in (0, steps):
            kept.append(e.detach().to(torch.float64).cpu())
        if k == steps:
            break
        value.backward()
        optimizer.step()
    if not record_errors and len(kept) == 1:  # steps == 0: the first error is also the last
        kept.append(kept[0])
    return FullBatchResult(loss=history, errors=torch.stack(kept).numpy())


def _window(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    if np.iscomplexobj(x) or np.iscomplexobj(y):
        raise ValueError("the times and losses of a rate fit must be real, got complex values")
    x, y = np.asarray(x, dtype=np.float64).reshape(-1), np.asarray(y, dtype=np.float64).reshape(-1)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"need two equally long arrays with at least 2 points, got {x.shape} and {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y) & (y > 0)
    if ok.sum() < 2:
        raise ValueError("need at least two points with a finite positive loss to fit a rate")
    return x[ok], y[ok]


def fit_exponential_rate(t: Any, loss: Any) -> float:
    """Linear-convergence rate ρ of loss ≈ C exp(−ρ t): minus the least-squares slope of log loss vs t."""
    t, loss = _window(t, loss)
    return float(-np.polyfit(t, np.log(loss), 1)[0])


def fit_power_exponent(t: Any, loss: Any) -> float:
    """Polynomial exponent p of loss ≈ C t^p: the least-squares slope of log loss vs log t (t > 0)."""
    t, loss = _window(t, loss)
    if (t <= 0).any():
        raise ValueError("t must be > 0 for a log-log fit")
    return float(np.polyfit(np.log(t), np.log(loss), 1)[0])
