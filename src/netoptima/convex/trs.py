"""The trust-region subproblem max_{‖u‖=1} uᵀQu + gᵀu, solved exactly (spec §3.6).

Eigendecomposition Q = V diag(λ) Vᵀ, γ = Vᵀg, then the secular equation ‖(μI − Q)⁻¹ g/2‖ = 1 for the
multiplier μ ≥ λ_max (Moré & Sorensen 1983). The *hard case* (g orthogonal to the top eigenspace and
‖(λ_max I − Q)⁺ g/2‖ ≤ 1) is the normal case at a global optimum of the network problem, where the
maximisers are the network's own neurons: it is detected with a relative tolerance, not an exact zero.

Every solution carries a certified upper bound from TRS duality: for any μ > λ_max,
max_{‖u‖=1} q(u) ≤ μ + ¼ gᵀ(μI − Q)⁻¹g (maximise the concave −uᵀ(μI − Q)u + gᵀu without the constraint),
plus the slack of every tolerance decision (clustered eigenvalues are raised to λ_max, which can only
increase q; a zeroed top component γ_top costs at most ‖γ_top‖).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.optimize import brentq

from netoptima.conventions import check_real

__all__ = ["TRSSolution", "sphere_extrema", "trs_max", "trs_max_eig"]

_TINY = 1e-300


@dataclass(frozen=True)
class TRSSolution:
    """A maximiser of q(u) = uᵀQu + gᵀu on the unit sphere.

    Attributes:
        value: q(u) at the returned unit vector (attained, hence a lower bound on the maximum).
        upper: a certified upper bound on the maximum (TRS duality + tolerance slack); ``upper >= value``.
        u: the maximiser, shape (d,), unit norm.
        multiplier: μ with (μI − Q)u = g/2 and μ >= λ_max(Q).
        hard_case: whether the hard case was detected.
        null_weight: weight outside the subspace (see ``trs_max_eig(has_null=True)``), else 0.
    """

    value: float
    upper: float
    u: np.ndarray
    multiplier: float
    hard_case: bool
    null_weight: float = 0.0


def _trs_coefficients(lam: np.ndarray, gamma: np.ndarray, *, rtol: float, has_null: bool,
                      ) -> tuple[np.ndarray, float, float, float, float, bool]:
    """Solve the TRS in the eigenbasis: max Σ λ_i c_i² + γ_i c_i s.t. ‖c‖² + τ² = 1.

    ``has_null`` adds an eigenvalue 0 with γ = 0 whose eigenvector lies outside the basis (weight τ); it
    represents directions u with Xu = 0 when the problem is reduced to the row space of X.

    Returns:
        (c, τ, value, upper, multiplier, hard_case).
    """
    scale = max(float(np.abs(lam).max(initial=0.0)), float(np.linalg.norm(gamma)), _TINY)
    top = float(lam.max(initial=-math.inf))
    if has_null:
        top = max(top, 0.0)
    tol = rtol * scale
    delta = np.where(top - lam <= tol, 0.0, top - lam)  # (r,): gaps to λ_max, a cluster counts as λ_max
    cluster = delta == 0.0
    rest = ~cluster
    null_in_cluster = has_null and top <= tol
    g_top = float(np.linalg.norm(gamma[cluster]))
    c = np.zeros_like(lam)
    tau = 0.0
    u_rest = gamma[rest] / (2 * delta[rest])  # the hard-case solution off the top eigenspace
    n0 = float(np.linalg.norm(u_rest))
    if g_top <= tol and n0 <= 1.0:
        # hard case: μ = λ_max, the missing norm goes into the top eigenspace (or the null space)
        hard = True
        s = 0.0
        c[rest] = u_rest
        t = math.sqrt(max(0.0, 1.0 - n0 * n0))
        if g_top > 0:
            c[cluster] = t * gamma[cluster] / g_top  # aligned with γ_top: cannot lower q
        elif cluster.any():
            c[int(np.flatnonzero(cluster)[0])] = t
        elif null_in_cluster:
            tau = t
        upper = top + float((gamma[rest] ** 2 / (4 * delta[rest])).sum()) + g_top
    else:
        hard = False
        gam = gamma.copy()
        zeroed = 0.0
        if g_top <= tol:  # numerically orthogonal to the top eigenspace: treat as exactly so (n0 > 1 here)
            zeroed, gam[cluster] = g_top, 0.0

        nz = gam != 0.0
        g2, dz = gam[nz] ** 2 / 4, delta[nz]  # only the nonzero components enter ‖u(s)‖² = Σ (γ_i²/4)/(s + δ_i)²
        s = _secular_root(g2, dz, hi=float(np.linalg.norm(gam)) / 2)
        c = np.zeros_like(gam)
        c[nz] = gam[nz] / (2 * (s + dz))
        c = c / np.linalg.norm(c)
        dual = g2 / (s + dz)  # (γ_i²/4)/(μ − λ_i): TRS dual at μ = λ_max + s
        upper = top + s + float(dual.sum()) + zeroed
    value = float(lam @ (c * c) + gamma @ c)
    return c, tau, value, max(upper, value), top + s, hard


def _secular_root(g2: np.ndarray, dz: np.ndarray, *, hi: float) -> float:
    """The root s > 0 of ψ(s) = 1/‖u(s)‖ − 1 with ‖u(s)‖² = Σ g2_i/(s + dz_i)² (g2 > 0, dz >= 0, ψ(0⁺) < 0).

    ψ is increasing and concave, so Newton from a point with ψ < 0 climbs monotonically to the root
    (Moré & Sorensen 1983); brentq on the bracket is the fallback if rounding breaks that. The start
    s₀ = √Σ_{dz=0} g2 is a lower bound (‖u(s)‖ >= √Σ_{dz=0} g2 / s), and ‖u(hi)‖ <= 1 at hi = ‖γ‖/2.
    """

    def psi(s: float) -> tuple[float, float]:
        w = g2 / (s + dz) ** 2  # (k,)
        n2 = float(w.sum())
        return n2 ** -0.5 - 1.0, n2 ** -1.5 * float((w / (s + dz)).sum())  # ψ and ψ' = −½ n2^{-3/2} dn2/ds

    s = math.sqrt(float(g2[dz == 0].sum()))
    f, df = psi(s) if s > 0 or dz.min() > 0 else (-1.0, math.inf)
    for _ in range(100):
        if f >= 0 or not math.isfinite(df):
            break
        s_new = s - f / df
        if not (s < s_new <= hi):
            break
        s, (f, df) = s_new, psi(s_new)
    if abs(f) <= 1e-14:
        return s
    return brentq(lambda t: psi(t)[0] if t > 0 or dz.min() > 0 else -1.0, 0.0, hi, xtol=1e-300,
                  rtol=4 * np.finfo(float).eps, maxiter=500)


def trs_max_eig(lam: np.ndarray, V: np.ndarray, g: np.ndarray, *, rtol: float = 1e-10,
                has_null: bool = False) -> TRSSolution:
    """max uᵀQu + gᵀu over ‖u‖ = 1 from an eigendecomposition Q = V diag(lam) Vᵀ.

    Arguments:
        lam: eigenvalues (r,); V: eigenvectors (r, r) as columns; g: linear term (r,).
        rtol: relative tolerance (to max(|λ|, ‖g‖)) for clustering eigenvalues and detecting the hard case.
        has_null: the problem is the restriction of a larger one to an r-dimensional subspace, and the
            complement carries Q = 0 and g = 0 (e.g. directions u with Xu = 0); the solution may then put
            weight ``null_weight`` outside the subspace.

    Returns:
        A :class:`TRSSolution` (``u`` in R^r; with ``has_null``, ‖u‖² + null_weight² = 1).
    """
    rtol = check_real("rtol", rtol, low=0.0)
    gamma = V.T @ g  # (r,)
    c, tau, value, upper, mult, hard = _trs_coefficients(lam, gamma, rtol=rtol, has_null=has_null)
    return TRSSolution(value=value, upper=upper, u=V @ c, multiplier=mult, hard_case=hard, null_weight=tau)


def trs_max(Q: np.ndarray, g: np.ndarray, *, rtol: float = 1e-10) -> TRSSolution:
    """max_{‖u‖=1} uᵀQu + gᵀu exactly (eigendecomposition + secular equation, hard case handled).

    Arguments:
        Q: symmetric (d, d); g: (d,).
        rtol: relative tolerance of the hard-case test and the eigenvalue clustering.

    Returns:
        :class:`TRSSolution`.
    """
    Q, g = _check_qg(Q, g)
    lam, V = scipy.linalg.eigh(Q, driver="evd", check_finite=False)  # ascending
    return trs_max_eig(lam, V, g, rtol=rtol)


def sphere_extrema(Q: np.ndarray, g: np.ndarray, *, rtol: float = 1e-10) -> tuple[TRSSolution, TRSSolution]:
    """Maximum and minimum of uᵀQu + gᵀu on the sphere from one eigendecomposition.

    Returns:
        ``(hi, lo)`` where ``hi`` solves the max of q and ``lo`` the max of −q (so min q = −lo.value and
        min q >= −lo.upper).
    """
    Q, g = _check_qg(Q, g)
    lam, V = scipy.linalg.eigh(Q, driver="evd", check_finite=False)
    return trs_max_eig(lam, V, g, rtol=rtol), trs_max_eig(-lam, V, -g, rtol=rtol)


def _check_qg(Q: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    Q = np.asarray(Q, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    if Q.ndim != 2 or Q.shape[0] != Q.shape[1] or Q.shape[0] != g.shape[0] or g.shape[0] < 1:
        raise ValueError(f"Q must be square (d, d) and g of shape (d,), got {Q.shape} and {g.shape}")
    if not (np.isfinite(Q).all() and np.isfinite(g).all()):
        raise ValueError("Q and g must be finite")
    if not np.allclose(Q, Q.T, rtol=1e-10, atol=1e-12 * max(1.0, float(np.abs(Q).max()))):
        raise ValueError("Q must be symmetric")
    return 0.5 * (Q + Q.T), g
