"""Feature metrics of Chen et al. (2025) Fig. 1: relative feature movement and feature-Gram λ_min."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from netoptima.claims import loglog_slope

__all__ = ["feature_change", "feature_gram_min_eig", "width_slope", "width_slopes"]


def _check_features(name: str, h: Tensor) -> Tensor:
    if not isinstance(h, Tensor) or h.ndim != 2 or h.shape[0] < 1 or h.shape[1] < 1:
        shape = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
        raise ValueError(f"{name} must be a 2-D tensor of features (N probes, width n) with N, n >= 1, got {shape}")
    if not torch.isfinite(h).all():
        raise ValueError(f"{name} holds non-finite values (NaN or inf); the features are unusable")
    return h


def feature_change(h: Tensor, h0: Tensor) -> Tensor:
    """Relative feature change ‖h(x) − h0(x)‖₂ / ‖h0(x)‖₂ per probe x (Chen et al. 2025, Fig. 1 left).

    Arguments:
        h: features after training, shape (N, n) (one row per probe input).
        h0: the same layer's features at initialisation on the same probes, shape (N, n).

    Returns:
        Float64 tensor of shape (N,), one ratio per probe (take the median for a summary).

    Raises:
        ValueError: shapes differ or are not 2-D, non-finite values, or a probe with h0(x) = 0 (the ratio
            is undefined there).
    """
    h, h0 = _check_features("h", h), _check_features("h0", h0)
    if h.shape != h0.shape:
        raise ValueError(f"h and h0 must have the same shape (N, n), got {tuple(h.shape)} and {tuple(h0.shape)}")
    h, h0 = h.detach().double(), h0.detach().double()
    base = torch.linalg.vector_norm(h0, dim=1)  # (N,)
    if (base == 0).any():
        bad = torch.nonzero(base == 0).flatten().tolist()
        raise ValueError(f"h0 is exactly zero for probe(s) {bad[:5]}: the relative change is undefined there "
                         "(e.g. a ReLU layer that is dead on that input)")
    return torch.linalg.vector_norm(h - h0, dim=1) / base  # (N,)


def feature_gram_min_eig(h: Tensor, *, normalize: bool = False) -> float:
    """λ_min of the feature Gram K = H Hᵀ, K_ij = ⟨h(x_i), h(x_j)⟩ (Chen et al. 2025, Fig. 1 right).

    The paper's K is unnormalised; ``normalize=True`` gives λ_min(K/n), our normalisation, whose
    infinite-width limit is λ_min of the kernel Σ[i,j] = E[Z^{h(x_i)} Z^{h(x_j)}] (mup.md §4.2), so widths
    are comparable. Computed as σ_min(H)² in float64 (a singular value, not an eigenvalue of the squared
    matrix, so it stays accurate when K is ill-conditioned).

    Arguments:
        h: features of N probes, shape (N, n), with N ≤ n.
        normalize: divide K by the width n.

    Returns:
        λ_min(K) (or λ_min(K/n)) as a float, ≥ 0.

    Raises:
        ValueError: ``h`` not 2-D or not finite, or N > n: then rank K ≤ n < N and λ_min = 0 for any
            features, which says nothing about diversity.
    """
    h = _check_features("h", h)
    N, n = h.shape
    if N > n:
        raise ValueError(f"the probe set (N={N}) is larger than the width (n={n}): K = H Hᵀ has rank at most "
                         f"n < N, so λ_min(K) = 0 whatever the features are. Use N <= n probes (N < n as in "
                         "the paper) or a wider layer")
    if not isinstance(normalize, bool):
        raise ValueError(f"normalize must be True or False, got {normalize!r}")
    smin = torch.linalg.svdvals(h.detach().double())[-1]  # smallest of N singular values
    lam = float(smin) ** 2
    return lam / n if normalize else lam


def width_slope(runs: Sequence[Mapping[str, Any]], key: str, layer: int) -> float:
    """Log-log slope against width of ``run[key][layer]`` over the runs that finished with a positive value.

    NaN when fewer than two widths are left (e.g. the others diverged).
    """
    ok = [r for r in runs if not r["diverged"] and r[key] is not None and r[key][layer] > 0]
    if len({r["width"] for r in ok}) < 2:
        return math.nan
    return loglog_slope([r["width"] for r in ok], [r[key][layer] for r in ok])


def width_slopes(by: Mapping[str, Sequence[Mapping[str, Any]]], key: str) -> dict[str, list[float]]:
    """:func:`width_slope` of every hidden layer for every group of runs (``{label: runs}``)."""
    layers = next(len(r["lam0"]) for rs in by.values() for r in rs)
    return {v: [width_slope(rs, key, l) for l in range(layers)] for v, rs in by.items()}
