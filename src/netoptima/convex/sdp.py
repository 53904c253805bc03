"""The exact SDP lift of the quadratic-activation network problem (Bartan & Pilanci, spec §3.1).

min ℓ(ŷ, y) + β (Z4 + Z4′) over Z, Z′ ∈ S_+^{d+1}, tr(Z1) = Z4, tr(Z1′) = Z4′, where
ŷ_i = a x_iᵀ(Z1 − Z1′)x_i + b x_iᵀ(Z2 − Z2′) + c (Z4 − Z4′) = ⟨M_i, Z − Z′⟩, M_i = [[a x xᵀ, b x/2], [b xᵀ/2, c]].
The lifted feature vector [a vec(x xᵀ); b x; c] has dimension d² + d + 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from netoptima.conventions import check_choice, check_int, check_positive
from netoptima.convex.model import (
    QuadraticActivationNet,
    as_activation,
    as_data,
    check_loss,
    loss_value,
    net_arrays,
)

__all__ = ["LiftedProblemTooLarge", "SDPResult", "SOLVERS", "SolverFailed", "fit_sdp", "lift",
           "lifted_dimension", "lifted_objective", "lifted_predictions"]

SOLVERS: tuple[str, ...] = ("SCS", "CLARABEL")
MAX_LIFTED = 10_000  # d² + d + 1 <= 10,000  <=>  d <= 99


class LiftedProblemTooLarge(ValueError):
    """The SDP lift would be too large to build; use :func:`netoptima.convex.fit_global`."""


class SolverFailed(RuntimeError):
    """The conic solver ended in a status other than optimal."""


@dataclass(frozen=True)
class SDPResult:
    """Solution of the lifted SDP.

    Attributes:
        value: the solver's optimal objective value.
        Z, Z_prime: the (d+1, d+1) PSD blocks for the positive and negative output weights.
        status: CVXPY status string ("optimal").
        solve_time: wall-clock seconds of ``problem.solve`` (including CVXPY's compilation).
        solver_time: the solver's own reported time (seconds; NaN if it reports none).
        solver: "SCS" or "CLARABEL".
        iterations: solver iterations (or -1 if not reported).
    """

    value: float
    Z: np.ndarray
    Z_prime: np.ndarray
    status: str
    solve_time: float
    solver_time: float
    solver: str
    iterations: int


def lifted_dimension(d: int) -> int:
    """d² + d + 1: the length of the lifted feature vector [a vec(xxᵀ); b x; c]."""
    return d * d + d + 1


def _lifted_features(X: np.ndarray, abc: tuple[float, float, float]) -> np.ndarray:
    """Rows vec(M_i) (column-major), M_i = [[a x xᵀ, b x/2], [b xᵀ/2, c]], so ŷ = F vec(Z − Z′): (n, (d+1)²)."""
    a, b, c = abc
    n, d = X.shape
    M = np.empty((n, d + 1, d + 1))
    M[:, :d, :d] = a * X[:, :, None] * X[:, None, :]
    M[:, :d, d] = M[:, d, :d] = 0.5 * b * X
    M[:, d, d] = c
    return M.transpose(0, 2, 1).reshape(n, -1)  # column-major vec of each M_i (symmetric anyway)


def lifted_predictions(Z: np.ndarray, Z_prime: np.ndarray, X: Any, activation: Any) -> np.ndarray:
    """ŷ_i = ⟨M_i, Z − Z′⟩ for every row of X: (n,)."""
    Xn, _ = as_data(X)
    a, b, c = as_activation(activation)
    D = np.asarray(Z, dtype=np.float64) - np.asarray(Z_prime, dtype=np.float64)
    d = Xn.shape[1]
    if D.shape != (d + 1, d + 1):
        raise ValueError(f"Z and Z_prime must have shape ({d + 1}, {d + 1}) for d = {d}, got {D.shape}")
    D = 0.5 * (D + D.T)
    return a * np.einsum("ij,jk,ik->i", Xn, D[:d, :d], Xn) + b * Xn @ D[:d, d] + c * D[d, d]


def lifted_objective(Z: np.ndarray, Z_prime: np.ndarray, X: Any, y: Any, *, activation: Any, beta: float,
                     loss: str = "squared", delta: float = 1.0) -> float:
    """ℓ(ŷ(Z, Z′), y) + β (Z4 + Z4′), the SDP's objective evaluated at any (Z, Z′)."""
    beta = check_positive("beta", beta)
    loss, delta = check_loss(loss, delta)
    Xn, yn = as_data(X, y)
    yhat = lifted_predictions(Z, Z_prime, Xn, activation)
    return loss_value(yhat, yn, loss, delta=delta) + beta * float(Z[-1, -1] + Z_prime[-1, -1])


def lift(net: QuadraticActivationNet) -> tuple[np.ndarray, np.ndarray]:
    """The forward map network → feasible (Z, Z′) (spec §3.1, "why it is exact").

    Z = Σ_{α_j>0} α_j [u_j; 1][u_j; 1]ᵀ, Z′ = Σ_{α_j<0} |α_j| [u_j; 1][u_j; 1]ᵀ; tr(Z1) = Σ α_j ‖u_j‖² = Z4
    for unit-norm u_j, and ŷ and the ℓ1 penalty are preserved.

    Returns:
        (Z, Z′), each (d+1, d+1) PSD.
    """
    U, alpha = net_arrays(net)
    Y = np.concatenate([U, np.ones((U.shape[0], 1))], axis=1)  # (m, d+1) rows [u_j; 1]
    pos, neg = np.clip(alpha, 0, None), np.clip(-alpha, 0, None)
    return (Y.T * pos) @ Y, (Y.T * neg) @ Y


def fit_sdp(X: Any, y: Any, *, activation: Any, beta: float, loss: str = "squared", solver: str = "SCS",
            tol: float = 1e-8, delta: float = 1.0, max_iters: int = 100_000, max_lifted: int = MAX_LIFTED,
            verbose: bool = False) -> SDPResult:
    """Solve the lifted SDP in CVXPY (spec §3.1): the global optimum of the non-convex network problem.

    Arguments:
        X: inputs (n, d); y: targets (n,).
        activation: (a, b, c) of σ(t) = a t² + b t + c.
        beta: ℓ1 weight β > 0.
        loss: ``"squared"`` (½‖·‖²), ``"l1"`` or ``"huber"`` (``delta``).
        solver: ``"SCS"`` (eps_abs = eps_rel = tol) or ``"CLARABEL"`` (interior point; gap and feasibility
            tolerances = tol).
        tol: solver tolerance.
        max_iters: solver iteration cap.
        max_lifted: largest allowed lifted dimension d² + d + 1 (default 10,000, i.e. d <= 99).
        verbose: print the solver log.

    Returns:
        :class:`SDPResult`.

    Raises:
        ValueError: bad arguments or data.
        LiftedProblemTooLarge: d² + d + 1 > ``max_lifted`` (the message says how large and points to
            ``fit_global``).
        SolverFailed: the solver ended in a non-optimal status (named) or raised.
    """
    import cvxpy as cp

    beta = check_positive("beta", beta)
    loss, delta = check_loss(loss, delta)
    solver = check_choice("solver", str(solver).upper(), SOLVERS)
    tol = check_positive("tol", tol)
    max_iters = check_int("max_iters", max_iters, low=1)
    max_lifted = check_int("max_lifted", max_lifted, low=3)
    abc = as_activation(activation)
    Xn, yn = as_data(X, y)
    n, d = Xn.shape
    p = lifted_dimension(d)
    if p > max_lifted:
        gb = n * (d + 1) ** 2 * 8 / 1e9
        raise LiftedProblemTooLarge(
            f"fit_sdp: d = {d} gives a lifted problem of dimension d² + d + 1 = {p:,} (two PSD variables of size "
            f"{d + 1}×{d + 1} and an {n} × {(d + 1) ** 2:,} lifted feature matrix, {gb:.2g} GB), above "
            f"max_lifted = {max_lifted:,}; use netoptima.convex.fit_global(X, y, activation=..., beta=...), "
            "which certifies the same optimum with d×d eigendecompositions only")
    F = _lifted_features(Xn, abc)  # (n, (d+1)²)
    Z = cp.Variable((d + 1, d + 1), PSD=True)
    Zp = cp.Variable((d + 1, d + 1), PSD=True)
    yhat = F @ cp.vec(Z - Zp, order="F")  # (n,)
    r = yhat - yn
    fit = {"squared": 0.5 * cp.sum_squares(r), "l1": cp.norm1(r), "huber": 0.5 * cp.sum(cp.huber(r, delta))}[loss]
    constraints = [cp.trace(Z[:d, :d]) == Z[d, d], cp.trace(Zp[:d, :d]) == Zp[d, d]]
    problem = cp.Problem(cp.Minimize(fit + beta * (Z[d, d] + Zp[d, d])), constraints)
    opts: dict[str, Any] = ({"eps_abs": tol, "eps_rel": tol, "max_iters": max_iters} if solver == "SCS" else
                            {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol, "max_iter": max_iters})
    t0 = time.perf_counter()
    try:
        problem.solve(solver=solver, verbose=verbose, **opts)
    except cp.error.SolverError as exc:
        raise SolverFailed(f"fit_sdp: solver {solver} failed: {exc}") from None
    seconds = time.perf_counter() - t0
    if problem.status != cp.OPTIMAL:
        raise SolverFailed(f"fit_sdp: solver {solver} ended with status {problem.status!r}, not 'optimal' "
                           f"(tol={tol:g}, max_iters={max_iters}); loosen tol, raise max_iters or try "
                           f"solver={'CLARABEL' if solver == 'SCS' else 'SCS'!r}")
    stats = problem.solver_stats
    return SDPResult(value=float(problem.value), Z=_sym(Z.value), Z_prime=_sym(Zp.value), status=problem.status,
                     solve_time=seconds, solver_time=float(stats.solve_time) if stats.solve_time else float("nan"),
                     solver=solver, iterations=int(stats.num_iters) if stats.num_iters is not None else -1)


def _sym(A: np.ndarray) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    return 0.5 * (A + A.T)
