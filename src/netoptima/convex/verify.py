"""An independent re-certification of a network, for judging solvers that stop on their own certificate.

``fit_global`` stops when *its* certificate (the reduced-subspace TRS oracle of :mod:`.certificate`, secular
equation and hard-case logic of :mod:`.trs`, optimal dual scaling) reports a gap below ``tol``; a verdict
resting on that number would hold by construction. This module recomputes the certificate from scratch along
another code path, for the squared loss only:

* the objective ½‖ŷ − y‖² + β‖α‖₁ from the network's arrays;
* Q = a Xᵀdiag(v)X on the full d×d space (no subspace reduction), one ``numpy.linalg.eigh``;
* the TRS maximum bounded by TRS duality alone — max_{‖u‖=1} uᵀQu + gᵀu ≤ μ + ¼ gᵀ(μI − Q)⁻¹g for *every*
  μ > λ_max(Q) — minimised over μ by a bounded 1-D search: any μ it stops at is a valid bound, so no root
  finding, tolerance or hard-case decision can make the bound too small;
* the lower bound −ℓ*(t v) at the best t with |t| ≤ β/M (closed form for the squared loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = ["IndependentCertificate", "independent_certificate"]


@dataclass(frozen=True)
class IndependentCertificate:
    """objective, lower_bound, relative_gap = (objective − lower_bound)/objective, and M/β."""

    objective: float
    lower_bound: float
    relative_gap: float
    dual_max_over_beta: float


def _sphere_max_bound(lam: np.ndarray, gamma: np.ndarray) -> float:
    """An upper bound on max_{‖c‖=1} Σ λ_i c_i² + γ_i c_i: min over μ > λ_max of μ + ¼ Σ γ_i²/(μ − λ_i)."""
    top = float(lam.max())
    scale = max(float(np.abs(lam).max()), float(np.linalg.norm(gamma)), 1e-300)
    slack = 10 * lam.size * np.finfo(float).eps * scale  # eigenvalue rounding: λ_max may be this much too small
    g2 = gamma * gamma / 4

    def phi(t: float) -> float:  # μ = λ_max + e^t
        s = math.exp(t)
        return top + s + float((g2 / (s + top - lam)).sum())

    lo, hi = math.log(1e-15 * scale), math.log(float(np.linalg.norm(gamma)) / 2 + 1e-15 * scale)
    res = minimize_scalar(phi, bounds=(lo, max(hi, lo + 1e-9)), method="bounded", options={"xatol": 1e-10})
    return min(phi(float(res.x)), phi(hi)) + slack


def independent_certificate(U: np.ndarray, alpha: np.ndarray, X: np.ndarray, y: np.ndarray, *, beta: float,
                            activation: tuple[float, float, float]) -> IndependentCertificate:
    """Re-certify the network (U (m, d), α (m,)) on squared loss + β‖α‖₁ along an independent code path."""
    a, b, c = activation
    U, alpha = np.asarray(U, dtype=np.float64), np.asarray(alpha, dtype=np.float64)
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    T = X @ U.T  # (n, m)
    yhat = ((a * T + b) * T + c) @ alpha if U.shape[0] else np.zeros(X.shape[0])  # (n,)
    v = yhat - y  # (n,) the residual: the dual direction of the squared loss
    primal = 0.5 * float(v @ v) + beta * float(np.abs(alpha).sum())
    Q = a * (X.T * v) @ X  # (d, d)
    lam, V = np.linalg.eigh(0.5 * (Q + Q.T))
    gamma = V.T @ (b * (X.T @ v))  # (d,)
    k = c * float(v.sum())
    M = max(_sphere_max_bound(lam, gamma) + k, _sphere_max_bound(-lam, -gamma) - k)
    vv = float(v @ v)
    if vv == 0.0:
        lower = 0.0
    else:
        bound = beta / M if M > 0 else math.inf
        t = float(np.clip(-(v @ y) / vv, -bound, bound))
        lower = -(t * float(v @ y) + 0.5 * t * t * vv)
    return IndependentCertificate(objective=primal, lower_bound=lower,
                                  relative_gap=(primal - lower) / max(abs(primal), 1e-300),
                                  dual_max_over_beta=M / beta)
