"""Argument checks shared inside the dynamics part (on top of ``netoptima.conventions``)."""

from __future__ import annotations

from typing import Any

import torch

from netoptima.conventions import check_real

UNIT_NORM_RTOL = 1e-6


def check_momentum(name: str, value: Any) -> float:
    """A momentum coefficient in [0, 1): ValueError naming the argument otherwise."""
    ok = True
    try:
        value = check_real(name, value)
    except ValueError:
        ok = False
    if not ok or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a finite number in [0, 1), got {value!r}")
    return float(value)


def check_unit_rows(X: Any, *, name: str = "X") -> torch.Tensor:
    """Require a floating (n, d) tensor whose rows have unit Euclidean norm (the NTK theory's ‖x_i‖ = 1)."""
    if not isinstance(X, torch.Tensor) or X.ndim != 2 or X.shape[0] == 0 or not X.is_floating_point():
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"{name} must be a floating (n, d) tensor with n >= 1, got {shape}")
    norms = torch.linalg.vector_norm(X, dim=1)  # (n,)
    bad = (~((norms - 1).abs() <= UNIT_NORM_RTOL)).nonzero().flatten().tolist()  # NaN norms are bad too
    if bad:
        shown = [round(float(norms[i]), 6) for i in bad[:5]]
        raise ValueError(f"{name} must have unit-norm rows (within {UNIT_NORM_RTOL:g}) for the NTK theory "
                         f"model; rows {bad[:5]} have norms {shown}. Use netoptima.ntk.unit_normalize(X)")
    return X
