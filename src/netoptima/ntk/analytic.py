"""Infinite-width NTK Gram matrices in closed form (the arccos kernel of Du et al. 2019)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["relu_ntk_infinite", "unit_normalize"]

_UNIT_RTOL = 1e-6


def _check_matrix(X: Tensor) -> None:
    if not isinstance(X, Tensor) or X.ndim != 2 or X.shape[0] == 0 or not X.is_floating_point():
        shape = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
        raise ValueError(f"X must be a floating (n, d) tensor with n >= 1, got {shape}")
    if not torch.isfinite(X).all():
        raise ValueError("X must be finite, got NaN or infinite entries")


def unit_normalize(X: Tensor) -> Tensor:
    """Scale every row of X to unit Euclidean norm, x_i / ||x_i||.

    Arguments:
        X: (n, d) floating tensor with no zero row.

    Returns:
        (n, d) tensor with unit-norm rows.
    """
    _check_matrix(X)
    norms = torch.linalg.vector_norm(X, dim=1, keepdim=True)  # (n, 1)
    zero = (norms[:, 0] == 0).nonzero().flatten().tolist()
    if zero:
        raise ValueError(f"X has zero rows {zero[:10]}; they cannot be normalised to unit norm")
    return X / norms  # (n, d)


def relu_ntk_infinite(X: Tensor) -> Tensor:
    """H∞ of the two-layer ReLU net (dynamics.md §1.1): H∞_ij = x_iᵀx_j (π − arccos(x_iᵀx_j)) / (2π).

    This is E_{w~N(0,I)}[x_iᵀx_j 1{wᵀx_i ≥ 0, wᵀx_j ≥ 0}], the expected NTK Gram at initialisation of
    ``TwoLayerReLUNTK`` w.r.t. its hidden weights; its diagonal is 1/2.

    Arguments:
        X: (n, d) inputs with unit-norm rows (within 1e-6 relative); see ``unit_normalize``.

    Returns:
        (n, n) symmetric positive semi-definite tensor, same dtype as X.
    """
    _check_matrix(X)
    norms = torch.linalg.vector_norm(X, dim=1)  # (n,)
    bad = ((norms - 1).abs() > _UNIT_RTOL).nonzero().flatten().tolist()
    if bad:
        shown = [round(float(norms[i]), 6) for i in bad[:10]]
        raise ValueError(f"relu_ntk_infinite needs unit-norm rows of X (within {_UNIT_RTOL:g}); rows "
                         f"{bad[:10]} have norms {shown}. Normalise first, e.g. X = unit_normalize(X)")
    inner = X @ X.T  # (n, n)
    inner = (inner + inner.T) / 2  # blocked gemm need not be bitwise symmetric
    # arccos has infinite slope at ±1, so a cosine off by one ulp near 1 moves H∞ by ~1e-8: take the
    # angle between the normalised rows, clamp rounding overshoot and make θ_ii = 0 exactly.
    cos = (inner / torch.outer(norms, norms)).clamp_(-1.0, 1.0).fill_diagonal_(1.0)  # (n, n)
    return inner * (math.pi - torch.arccos(cos)) / (2 * math.pi)  # (n, n)
