"""Burer–Monteiro polish for fit_global: the SDP lift of each sign factored as Z = Y Yᵀ, Y = [V; t] (d+1, r).

The lift of the positive neurons is Z⁺ = Σ_{α_j>0} α_j [u_j; 1][u_j; 1]ᵀ with the one linear constraint
tr(Z₁) = Z₄, i.e. ‖V‖_F = ‖t‖ (spec §3.1); the negative neurons likewise. With s = ‖V‖_F ‖t‖ (= Σ|α_j| of
that sign), Ṽ = V/‖V‖_F and t̃ = t/‖t‖, the predictions are ŷ = Σ_± ± s (a ‖Ṽᵀx‖² + b xᵀṼ t̃ + c) and the penalty
β s, so every (V, t) with both parts nonzero maps to a feasible point: L-BFGS runs unconstrained. Only the
trace constraint is kept (not one per neuron), which gives the factorisation a benign landscape where the
neuron parametrisation has many poor local minima; the neurons are recovered exactly by the neural
decomposition of Z (at most rank(Z) per sign).
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.optimize
import scipy.sparse

from netoptima.convex.decomposition import rank_one_decomposition, rank_one_decomposition_factor
from netoptima.convex.model import loss_grad, loss_value


def neurons_to_factors(U: np.ndarray, alpha: np.ndarray) -> list[np.ndarray]:
    """[Y⁺, Y⁻], Y (d+1, k_±) with columns √|α_j| [u_j; 1]."""
    out = []
    for sign in (1.0, -1.0):
        sel = np.sign(alpha) == sign
        r = np.sqrt(np.abs(alpha[sel]))
        out.append(np.concatenate([U[sel].T * r, r[None, :]], axis=0))
    return out


_FACTOR_SVD_MIN_ROWS = 256


def factors_to_neurons(Ys: list[np.ndarray], tol: float = 1e-13) -> tuple[np.ndarray, np.ndarray]:
    """Neurons (U (k, d), α (k,)) of the lifts Y Yᵀ (neural decomposition)."""
    out_U, out_a = [], []
    d = Ys[0].shape[0] - 1
    for sign, Y in zip((1.0, -1.0), Ys, strict=True):
        if Y.shape[1] == 0 or not np.any(Y):
            continue
        # from the thin SVD of Y where d is large: a (d+1)×(d+1) eigh costs ~0.1 s at MNIST's d = 784 (~14% of a
        # class's time); below, the eigh of Y Yᵀ is as cheap and keeps the measured paths (d = 40: 0.32 vs 0.35 s
        # CPU, d = 200: 17.1 vs 19.3 s; an equally valid decomposition that takes a different path there)
        R = rank_one_decomposition_factor(Y, tol) if Y.shape[0] > _FACTOR_SVD_MIN_ROWS else \
            rank_one_decomposition(Y @ Y.T, tol)
        nv = np.linalg.norm(R[:, :-1], axis=1)
        keep = (np.abs(R[:, -1]) > 0) & (nv > 0)
        R, nv = R[keep], nv[keep]
        out_U.append(np.sign(R[:, -1:]) * R[:, :-1] / nv[:, None])
        out_a.append(sign * R[:, -1] ** 2)
    if not out_U:
        return np.zeros((0, d)), np.zeros(0)
    return np.concatenate(out_U), np.concatenate(out_a)


def _split(p: np.ndarray, d: int, r: tuple[int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    out, i = [], 0
    for k in r:
        V = p[i: i + d * k].reshape(d, k)
        i += d * k
        out.append((V, p[i: i + k]))
        i += k
    return out


# X in CSR form at or below this fraction of nonzeros: the objective's two passes over X (X @ V, Xᵀ @ B with
# k ~ 6-20 columns) are memory-bound, and MNIST (19% nonzero at n = 5,000, d = 784) reads 3x fewer bytes as CSR:
# 14 -> 4.5 ms per pair of products at k = 6, float64, identical to rounding (measured, issue 16)
SPARSE_MAX_DENSITY = 0.3
_SPARSE_MIN_SIZE = 100_000


def product_form(X: np.ndarray) -> np.ndarray | scipy.sparse.csr_matrix:
    """X as the objective should multiply it: CSR when it is large and mostly zeros, else X itself."""
    if X.size < _SPARSE_MIN_SIZE or np.count_nonzero(X) > SPARSE_MAX_DENSITY * X.size:
        return X
    return scipy.sparse.csr_matrix(X)


def bm_objective(p: np.ndarray, X: np.ndarray | scipy.sparse.csr_matrix, y: np.ndarray, r: tuple[int, int], *,
                 beta: float, abc: tuple[float, float, float], loss: str, delta: float) -> tuple[float, np.ndarray]:
    """Value and gradient of ℓ(ŷ) + β(s⁺ + s⁻) at p = [vec(V⁺); t⁺; vec(V⁻); t⁻] (scale-invariant map above).

    Both signs' columns are stacked, so one evaluation is two passes over X and ~30 array operations: at
    d = 40, n = 200 the evaluation is numpy-overhead bound (128 -> 84 µs measured, issue 16). X may be a CSR
    matrix (:func:`product_form`).
    """
    a, b, c = abc
    d = X.shape[1]
    parts = [(sign, V, t) for sign, (V, t) in zip((1.0, -1.0), _split(p, d, r), strict=True) if t.size]
    V = parts[0][1] if len(parts) == 1 else np.concatenate([parts[0][1], parts[1][1]], axis=1)  # (d, k)
    t = parts[0][2] if len(parts) == 1 else np.concatenate([parts[0][2], parts[1][2]])
    ks = [pt[2].size for pt in parts]
    g = np.repeat(np.arange(len(parts)), ks)  # group (sign) of each column
    sign = np.array([pt[0] for pt in parts])
    nV = np.sqrt(np.bincount(g, (V * V).sum(0)))
    nt = np.sqrt(np.bincount(g, t * t))
    s = nV * nt  # Σ|α| per sign
    Vn = V / nV[g]
    tn = t / nt[g]
    M = X @ Vn  # (n, k)
    wcol = (sign * s)[g]  # ŷ = Σ_j wcol_j (a M_j² + b tn_j M_j) + c Σ_g sign_g s_g
    A = (a * M + b * tn) * M
    yhat = A @ wcol + c * float(sign @ s)
    w = loss_grad(yhat, y, loss, delta=delta)
    f = loss_value(yhat, y, loss, delta=delta) + beta * float(s.sum())
    Mw = M.T @ w  # (k,)
    q = np.bincount(g, A.T @ w) + c * float(w.sum())  # wᵀq_g
    gs = sign * q + beta  # ∂f/∂s_g
    G = X.T @ (w[:, None] * ((2 * a * M + b * tn) * wcol))  # (d, k): ∂f/∂Ṽ
    Gt = wcol * b * Mw  # ∂f/∂t̃
    inV = np.bincount(g, (G * Vn).sum(0))
    int_ = np.bincount(g, Gt * tn)
    dV = (G - inV[g] * Vn) / nV[g] + (gs * nt)[g] * Vn
    dt = (Gt - int_[g] * tn) / nt[g] + (gs * nV)[g] * tn
    grads = []
    lo = 0
    for k in ks:
        grads += [dV[:, lo:lo + k].ravel(), dt[lo:lo + k]]
        lo += k
    return f, np.concatenate(grads)


def bm_polish(X: np.ndarray | scipy.sparse.csr_matrix, y: np.ndarray, Ys: list[np.ndarray], *, beta: float,
              abc: tuple[float, float, float], loss: str, delta: float, max_iter: int, ftol: float,
              deadline: float = math.inf, maxcor: int = 20,
              ) -> list[np.ndarray]:
    """L-BFGS (``maxcor`` stored pairs) on the factors (signs with no column are kept empty); returns feasible
    balanced factors."""
    d = X.shape[1]
    r = (Ys[0].shape[1], Ys[1].shape[1])
    if r == (0, 0):
        return Ys
    p0 = np.concatenate([np.concatenate([Y[:-1].ravel(), Y[-1]]) for Y in Ys])
    args = (X, y, r)
    kw = {"beta": beta, "abc": abc, "loss": loss, "delta": delta}
    f0 = bm_objective(p0, *args, **kw)[0]

    def stop(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        if time.perf_counter() >= deadline:
            raise StopIteration

    res = scipy.optimize.minimize(lambda z: bm_objective(z, *args, **kw), p0, jac=True, method="L-BFGS-B",
                                  callback=stop,
                                  options={"maxiter": max_iter, "ftol": ftol, "gtol": 1e-14, "maxcor": maxcor})
    p = res.x if np.isfinite(res.fun) and res.fun <= f0 else p0
    out = []
    for V, t in _split(p, d, r):
        if t.size == 0:
            out.append(np.zeros((d + 1, 0)))
            continue
        nV, nt = np.linalg.norm(V), np.linalg.norm(t)
        rho = np.sqrt(nV * nt)
        out.append(np.concatenate([V * (rho / nV), (t * (rho / nt))[None, :]], axis=0))
    return out
