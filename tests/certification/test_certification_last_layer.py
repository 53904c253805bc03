"""The last-layer certificate (exact least squares on the current features) against numpy.linalg.lstsq."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from netoptima.certification import certify
from netoptima.models import mlp

DT = torch.float64


def _setup(n: int = 40, width: int = 8, c: int = 2, seed: int = 0) -> tuple[nn.Sequential, torch.Tensor,
                                                                               torch.Tensor]:
    torch.manual_seed(seed)
    model = mlp([3, 16, width, c], activation=nn.Tanh, dtype=DT)
    X = torch.randn(n, 3, dtype=DT)
    Y = torch.randn(n, c, dtype=DT)
    return model, X, Y


def _features(model: nn.Sequential, X: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return model[:-1](X).numpy()


def test_last_layer_optimum_matches_numpy_lstsq(one_thread: None) -> None:
    model, X, Y = _setup()
    n = X.shape[0]
    D = np.hstack([_features(model, X), np.ones((n, 1))])  # (n, 9): overdetermined, the optimum is > 0
    sol, *_ = np.linalg.lstsq(D, Y.numpy(), rcond=None)
    optimum = float(((D @ sol - Y.numpy()) ** 2).sum()) / (2 * n)
    with torch.no_grad():
        current = float((model(X) - Y).pow(2).sum()) / (2 * n)
    cert = certify(model, X, Y, last_layer=True)
    assert cert.method == "last_layer_least_squares"
    assert optimum > 0.05
    assert cert.lower_bound == pytest.approx(optimum, rel=1e-10)
    assert cert.objective == pytest.approx(current, rel=1e-12)
    assert cert.gap == pytest.approx(current - optimum, rel=1e-9)
    assert not cert.certified and "not optimal on the current features" in cert.details["reason"]
    assert any("conditional on the features" in a for a in cert.assumptions)

    with torch.no_grad():  # put numpy's solution in: now the last layer is optimal
        model[-1].weight.copy_(torch.from_numpy(sol[:-1].T))
        model[-1].bias.copy_(torch.from_numpy(sol[-1]))
    at_opt = certify(model, X, Y, last_layer=True)
    assert at_opt.certified and 0 <= at_opt.gap <= 1e-12
    assert at_opt.objective == pytest.approx(optimum, rel=1e-10)


def test_ridge_and_frozen_bias_against_closed_forms(one_thread: None) -> None:
    model, X, Y = _setup(seed=1)
    n, wd = X.shape[0], 0.05
    D = np.hstack([_features(model, X), np.ones((n, 1))])
    theta = np.linalg.solve(D.T @ D + n * wd * np.eye(D.shape[1]), D.T @ Y.numpy())  # ridge normal equations
    others = sum(float(p.detach().pow(2).sum()) for name, p in model.named_parameters() if not name.startswith("4."))
    optimum = float(((D @ theta - Y.numpy()) ** 2).sum()) / (2 * n) + wd / 2 * float((theta**2).sum())
    cert = certify(model, X, Y, last_layer=True, weight_decay=wd)
    assert cert.lower_bound == pytest.approx(optimum + wd / 2 * others, rel=1e-10)
    assert cert.lower_bound <= cert.objective

    model[-1].bias.requires_grad_(False)  # the frozen bias is part of the target, not of the problem
    A = _features(model, X)
    T = Y.numpy() - model[-1].bias.detach().numpy()
    sol, *_ = np.linalg.lstsq(A, T, rcond=None)
    optimum = float(((A @ sol - T) ** 2).sum()) / (2 * n)
    cert = certify(model, X, Y, last_layer=True)
    assert cert.lower_bound == pytest.approx(optimum, rel=1e-10)
    assert cert.details["last_layer_parameters"] == 8 * 2


def test_last_layer_needs_a_final_linear() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4, dtype=DT), nn.Tanh(), nn.Linear(4, 1, dtype=DT), nn.Sigmoid())
    with pytest.raises(ValueError, match="output of its last nn.Linear"):
        certify(model, torch.randn(5, 3, dtype=DT), torch.randn(5, dtype=DT), last_layer=True)
