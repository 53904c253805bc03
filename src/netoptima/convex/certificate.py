"""A certificate of global optimality that needs no SDP: a dual point from the residual (spec §3.6).

For min over networks of ℓ(ŷ) + β Σ|α_j|, ŷ = Σ α_j σ(Xu_j), ‖u_j‖ = 1, weak duality gives, for every w with
max_{‖u‖=1} |wᵀσ(Xu)| <= β, the lower bound −ℓ*(w). The candidate w is ∇ℓ at the network's predictions
(the residual for the squared loss), scaled into the feasible set. The constraint is a trust-region
subproblem: wᵀσ(Xu) = uᵀQu + gᵀu + c Σw with Q = a Xᵀdiag(w)X and g = b Xᵀw.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import torch

from netoptima.conventions import check_positive, check_real
from netoptima.convex.model import (
    QuadraticActivationNet,
    as_activation,
    as_data,
    check_loss,
    features_np,
    loss_conjugate,
    loss_grad,
    loss_value,
    net_arrays,
)
from netoptima.convex.trs import TRSSolution, trs_max_eig

__all__ = ["Certificate", "Correlation", "CorrelationOracle", "best_dual_scale", "certificate",
           "certificate_arrays", "certify_with"]

NORM_TOL = 1e-6  # how far from the unit sphere a neuron may be before the net is outside the problem's set


@dataclass(frozen=True)
class Correlation:
    """max_{‖u‖=1} |wᵀσ(Xu)| and its maximiser.

    Attributes:
        upper: certified upper bound M on the maximum (what makes the scaled dual point feasible).
        value: |wᵀσ(Xu)| attained at ``u`` (a lower bound on the maximum).
        u: the maximiser (d,): the neuron to add.
        sign: the sign of wᵀσ(Xu) at ``u`` (+1: add it with α < 0; −1: with α > 0).
        hard_case: whether the maximising TRS was in the hard case.
    """

    upper: float
    value: float
    u: np.ndarray
    sign: float
    hard_case: bool


class CorrelationOracle:
    """Exact max and min of wᵀσ(Xu) over the unit sphere for a fixed X and many w (spec §3.6).

    X is reduced once to a subspace holding its rows: Xu depends only on the component of u in it, and the
    complement carries Q = 0 and g = 0 (a TRS "null" direction), so each call needs an r×r
    eigendecomposition. For n >= d the subspace drops the all-zero columns (dead MNIST pixels: exact and
    free); for n < d it is the row space from a thin SVD (r <= n).

    Arguments:
        X: (n, d) float64 inputs; activation: (a, b, c).
        rtol: TRS tolerance (hard case, eigenvalue clusters).
        reduce: use the reduction (otherwise r = d).
    """

    def __init__(self, X: np.ndarray, activation: Any, *, rtol: float = 1e-10, reduce: bool = True,
                 validated: bool = False) -> None:
        # ``validated``: X is already a finite float64 (n, d) array (skip the second check of the data)
        self.X = X if validated else as_data(X)[0]
        self.abc = as_activation(activation)
        self.rtol = check_real("rtol", rtol, low=0.0)
        n, d = self.X.shape
        self.basis: np.ndarray | None = None  # (d, r) orthonormal columns, or None with ``live``
        self.live = np.arange(d)  # coordinates kept when reducing by zero columns
        self.null_vector: np.ndarray | None = None  # (d,) unit, orthogonal to the subspace
        self.Xr = self.X  # (n, r)
        if reduce and n < d:
            _, S, Vh = scipy.linalg.svd(self.X, full_matrices=False, lapack_driver="gesdd")
            r = int((S > S[0] * max(n, d) * np.finfo(float).eps).sum()) if S[0] > 0 else 0
            self.basis = Vh[:r].T  # (d, r)
            self.Xr = self.X @ self.basis  # (n, r)
            self.null_vector = _orthogonal_unit_vector(self.basis)
        elif reduce:
            dead = ~self.X.any(axis=0)  # (d,)
            if dead.any():
                self.live = np.flatnonzero(~dead)
                self.Xr = self.X[:, self.live]  # (n, r)
                self.null_vector = np.zeros(d)
                self.null_vector[int(np.flatnonzero(dead)[0])] = 1.0
        self.rank = self.Xr.shape[1]

    def _embed(self, sol: TRSSolution) -> np.ndarray:
        """The maximiser in R^d."""
        if self.basis is not None:
            u = self.basis @ sol.u  # (d,)
        else:
            u = np.zeros(self.X.shape[1])
            u[self.live] = sol.u
        if sol.null_weight > 0 and self.null_vector is not None:
            u = u + sol.null_weight * self.null_vector
        return u

    def extrema(self, w: np.ndarray) -> tuple[TRSSolution, TRSSolution, float]:
        """(max of q, max of −q, c Σw) where wᵀσ(Xu) = q(u) + c Σw; the solutions' ``u`` are in R^d."""
        hi, lo, k, _ = self._solve(w, extra=0)
        return hi, lo, k

    def _solve(self, w: np.ndarray, *, extra: int, steps: int = 20,
               ) -> tuple[TRSSolution, TRSSolution, float, list[tuple[np.ndarray, float]]]:
        a, b, c = self.abc
        k = c * float(w.sum())
        if self.rank == 0:  # X = 0: wᵀσ(Xu) = c Σw for every u
            u = np.zeros(self.X.shape[1])
            u[0] = 1.0
            zero = TRSSolution(0.0, 0.0, u, 0.0, True)
            return zero, zero, k, []
        Q = a * (self.Xr.T * w) @ self.Xr  # (r, r)
        g = b * (self.Xr.T @ w)  # (r,)
        lam, V = scipy.linalg.eigh(0.5 * (Q + Q.T), driver="evd", check_finite=False)  # one for both signs
        has_null = self.null_vector is not None
        hi = trs_max_eig(lam, V, g, rtol=self.rtol, has_null=has_null)
        lo = trs_max_eig(-lam, V, -g, rtol=self.rtol, has_null=has_null)
        extras: list[tuple[np.ndarray, float]] = []
        if extra > 0:
            gamma = V.T @ g  # (r,)
            for side in (1.0, -1.0):
                for cvec, val in _local_maxima(side * lam, side * gamma, extra, steps):
                    extras.append((self._embed_coef(V @ cvec), side * val + k))
        return (dataclasses.replace(hi, u=self._embed(hi), null_weight=0.0),
                dataclasses.replace(lo, u=self._embed(lo), null_weight=0.0), k, extras)

    def _embed_coef(self, ur: np.ndarray) -> np.ndarray:
        return self._embed(TRSSolution(0.0, 0.0, ur, 0.0, False))

    def max_abs(self, w: np.ndarray) -> Correlation:
        """max_{‖u‖=1} |wᵀσ(Xu)| with a certified upper bound and the maximiser."""
        return self.scan(w)[0]

    def scan(self, w: np.ndarray, *, extra: int = 0) -> tuple[Correlation, list[tuple[np.ndarray, float]]]:
        """:meth:`max_abs` plus up to ``2 · extra`` further local maximisers of ±wᵀσ(Xu) as ``(u, wᵀσ(Xu))``.

        The extra candidates come free with the eigendecomposition: minorise–maximise ascent from the top
        eigenvectors of ±Q, in the eigenbasis. Column generation may add several violators per oracle call.
        """
        hi, lo, k, extras = self._solve(w, extra=extra)
        upper = max(hi.upper + k, lo.upper - k)
        if hi.value + k >= lo.value - k:
            corr = Correlation(upper, abs(hi.value + k), hi.u, 1.0 if hi.value + k >= 0 else -1.0, hi.hard_case)
        else:
            corr = Correlation(upper, abs(lo.value - k), lo.u, 1.0 if k - lo.value >= 0 else -1.0, lo.hard_case)
        return corr, extras


def _local_maxima(lam: np.ndarray, gamma: np.ndarray, count: int, steps: int,
                  ) -> list[tuple[np.ndarray, float]]:
    """Local maximisers of Σλ_i c_i² + γ_i c_i on the sphere by minorise–maximise, from the top eigenvectors.

    With P = diag(λ − λ_min) ⪰ 0 the objective plus a constant is convex on the sphere, so the update
    c ← normalise(2Pc + γ) never decreases it. Returns (c, value) pairs.
    """
    r = lam.size
    idx = np.argsort(lam)[::-1][:count]
    C = np.zeros((r, idx.size))  # (r, p) one start per column
    C[idx, np.arange(idx.size)] = np.where(gamma[idx] >= 0, 1.0, -1.0)  # ±e_i, aligned with γ
    p = (lam - lam.min())[:, None]  # (r, 1)
    for _ in range(steps):
        C = 2 * p * C + gamma[:, None]
        C /= np.linalg.norm(C, axis=0, keepdims=True)
    vals = lam @ (C * C) + gamma @ C  # (p,)
    return [(C[:, j], float(vals[j])) for j in range(idx.size)]


def _orthogonal_unit_vector(B: np.ndarray) -> np.ndarray:
    """A unit vector orthogonal to the orthonormal columns of B (d, r), r < d."""
    i = int(np.argmin((B * B).sum(axis=1)))  # the coordinate least covered by B
    e = -B @ B[i]  # (d,)
    e[i] += 1.0
    e -= B @ (B.T @ e)  # second Gram-Schmidt pass for accuracy
    return e / np.linalg.norm(e)


def best_dual_scale(w: np.ndarray, y: np.ndarray, bound: float, loss: str, delta: float) -> float:
    """argmax over t in [−bound, bound] ∩ dom of −ℓ*(t w): the best feasible multiple of the dual direction.

    The spec scales by t = min(1, β/M); any |t| <= β/M is dual feasible, so the best such t gives a bound at
    least as tight (closed form: −ℓ*(tw) is a concave quadratic or linear in t).
    """
    wmax = float(np.abs(w).max(initial=0.0))
    if wmax == 0.0:
        return 0.0
    if loss == "l1":
        T = min(bound, 1.0 / wmax)
        return -T if w @ y > 0 else T
    if loss == "huber":
        bound = min(bound, delta / wmax)
    return float(np.clip(-(w @ y) / (w @ w), -bound, bound))


@dataclass(frozen=True)
class Certificate:
    """Primal objective, certified lower bound on the global optimum, and the most violating neuron.

    Attributes:
        objective: ℓ(f(X), y) + β Σ|α_j| of the network.
        lower_bound: −ℓ*(w') at the scaled dual point w' (a lower bound on the global optimum).
        gap: objective − lower_bound (>= 0 up to rounding; ≈ 0 certifies global optimality).
        worst_neuron: u* (d,) maximising |wᵀσ(Xu)|, the neuron to add.
        dual_max: M, certified upper bound on max_{‖u‖=1} |wᵀσ(Xu)| at w = ∇ℓ (M <= β ⟺ w is dual feasible).
        beta: the β used.
        scale: t with w' = t w.
        hard_case: whether the worst neuron's TRS was in the hard case.
        worst_sign: sign of wᵀσ(Xu*) (+1: the neuron enters with α < 0).
    """

    objective: float
    lower_bound: float
    gap: float
    worst_neuron: torch.Tensor
    dual_max: float
    beta: float = math.nan
    scale: float = math.nan
    hard_case: bool = False
    worst_sign: float = 1.0

    @property
    def relative_gap(self) -> float:
        """(objective − lower_bound) / |objective|."""
        return self.gap / max(abs(self.objective), 1e-300)

    def __str__(self) -> str:
        return (f"objective     {self.objective:.12g}\nlower bound   {self.lower_bound:.12g}\n"
                f"gap           {self.gap:.3e} (relative {self.relative_gap:.3e})\n"
                f"max_u |vᵀσ(Xu)| = {self.dual_max:.12g} vs beta = {self.beta:.6g} "
                f"(ratio {self.dual_max / self.beta:.9f}){'; TRS hard case' if self.hard_case else ''}")


def certify_with(U: np.ndarray, alpha: np.ndarray, X: np.ndarray, y: np.ndarray, *, beta: float, abc: Any,
                 loss: str, delta: float, oracle: CorrelationOracle, extra: int = 0,
                 ) -> tuple[Certificate, list[tuple[np.ndarray, float]]]:
    """The certificate of the network (U, α) plus ``extra`` candidate neurons per sign (see ``scan``)."""
    yhat = features_np(X, U, abc) @ alpha if U.shape[0] else np.zeros(X.shape[0])  # (n,)
    primal = loss_value(yhat, y, loss, delta=delta) + beta * float(np.abs(alpha).sum())
    w = loss_grad(yhat, y, loss, delta=delta)  # (n,) the dual direction
    corr, extras = oracle.scan(w, extra=extra)
    t = best_dual_scale(w, y, beta / corr.upper if corr.upper > 0 else math.inf, loss, delta)
    lower = -loss_conjugate(t * w, y, loss, delta=delta)
    cert = Certificate(objective=primal, lower_bound=lower, gap=primal - lower,
                       worst_neuron=torch.as_tensor(corr.u), dual_max=corr.upper, beta=beta, scale=t,
                       hard_case=corr.hard_case, worst_sign=corr.sign)
    return cert, extras


def certificate_arrays(U: np.ndarray, alpha: np.ndarray, X: np.ndarray, y: np.ndarray, *, beta: float,
                       activation: Any, loss: str = "squared", delta: float = 1.0,
                       oracle: CorrelationOracle | None = None) -> Certificate:
    """:func:`certificate` on raw float64 arrays (no validation; ``oracle`` reuses the reduction of X)."""
    abc = as_activation(activation)
    return certify_with(U, alpha, X, y, beta=beta, abc=abc, loss=loss, delta=delta,
                        oracle=oracle or CorrelationOracle(X, abc))[0]


def certificate(net: QuadraticActivationNet, X: Any, y: Any, *, beta: float, activation: Any = None,
                loss: str = "squared", delta: float = 1.0, rtol: float = 1e-10) -> Certificate:
    """Certify how far a network is from the global optimum of ℓ(f(X), y) + β Σ|α_j| (spec §3.6).

    Works for any net of the family: trained by backprop, decoded from the SDP, built by hand. Cost: one
    (n, d) × (d, d) product and one d×d eigendecomposition.

    Arguments:
        net: the network; its neurons must be on the unit sphere (call ``net.project_()``).
        X: inputs (n, d); y: targets (n,).
        beta: β > 0.
        activation: (a, b, c); defaults to the net's, and must match it when given.
        loss: ``"squared"``, ``"l1"`` (valid but generally loose bound: the subgradient is not unique)
            or ``"huber"`` (threshold ``delta``).
        rtol: relative tolerance of the trust-region hard-case test.

    Returns:
        :class:`Certificate`.

    Raises:
        ValueError: bad β, data, loss, a mismatched activation, or neurons off the unit sphere.
    """
    beta = check_positive("beta", beta)
    loss, delta = check_loss(loss, delta)
    Xn, yn = as_data(X, y)
    if not isinstance(net, QuadraticActivationNet):
        raise ValueError(f"net must be a QuadraticActivationNet, got {type(net).__name__}")
    if Xn.shape[1] != net.d:
        raise ValueError(f"X has {Xn.shape[1]} features but the net expects d = {net.d}")
    abc = net.abc
    if activation is not None and not np.allclose(as_activation(activation), abc, rtol=1e-12, atol=0):
        raise ValueError(f"activation {tuple(activation)} does not match the net's {abc}")
    if not all(bool(torch.isfinite(t).all()) for t in (net.U, net.alpha)):
        raise ValueError("the net's weights U and alpha must be finite, got NaN or infinite values")
    err = net.max_norm_error()
    if err > NORM_TOL:
        raise ValueError(f"the net's neurons must have unit norm (max |‖u_j‖ − 1| = {err:.3g} > {NORM_TOL:g}); "
                         "call net.project_() first")
    U, alpha = net_arrays(net)
    return certificate_arrays(U, alpha, Xn, yn, beta=beta, activation=abc, loss=loss, delta=delta,
                              oracle=CorrelationOracle(Xn, abc, rtol=rtol, validated=True))
