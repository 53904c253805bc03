"""Neural decomposition: a feasible SDP point (Z, Z′) → a network with the same objective (spec §3.2).

Z = Σ_j y_j y_jᵀ with y_jᵀ G y_j = 0, G = diag(1, …, 1, −1) (Pólik & Terlaky, Lemma 2.4, as in the official
code); y_j = [v_j; s_j] with ‖v_j‖ = |s_j| decodes to u_j = sign(s_j) v_j/‖v_j‖ and α_j = ±s_j².
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from netoptima.conventions import check_real
from netoptima.convex.model import QuadraticActivationNet, as_activation

__all__ = ["neural_decomposition", "rank_one_decomposition", "rank_one_decomposition_factor"]


def rank_one_decomposition(Z: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """Z ≈ Σ_j y_j y_jᵀ with y_jᵀ G y_j = 0 (exact when ⟨Z, G⟩ = 0), one y_j per eigenvalue above tol.

    Arguments:
        Z: symmetric PSD (d+1, d+1) with tr(Z1) = Z4.
        tol: eigenvalues <= tol · max(1, λ_max) are dropped.

    Returns:
        Y of shape (k, d+1), rows y_j, k = number of kept eigenvalues.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] != Z.shape[1] or Z.shape[0] < 2:
        raise ValueError(f"Z must be square (d+1, d+1) with d >= 1, got shape {Z.shape}")
    tol = check_real("tol", tol, low=0.0)
    lam, V = np.linalg.eigh(0.5 * (Z + Z.T))
    return _decompose(lam, V, tol)


def rank_one_decomposition_factor(Y: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """:func:`rank_one_decomposition` of Z = Y Yᵀ from its factor Y (d+1, k): the eigenpairs of Z come from the
    thin SVD of Y (λ = σ²), a (d+1)×k problem instead of a (d+1)×(d+1) eigendecomposition (MNIST: d = 784)."""
    W, sv, _ = np.linalg.svd(np.asarray(Y, dtype=np.float64), full_matrices=False)
    return _decompose(sv[::-1] ** 2, W[:, ::-1], check_real("tol", tol, low=0.0))


def _decompose(lam: np.ndarray, V: np.ndarray, tol: float) -> np.ndarray:
    """The rotation of Pólik & Terlaky on the eigenpairs (λ ascending, V columns) of Z."""
    keep = lam > tol * max(1.0, float(lam.max(initial=0.0)))
    P = [V[:, i] * math.sqrt(lam[i]) for i in np.flatnonzero(keep)[::-1]]  # columns p_j = √λ_j v_j
    g = np.ones(V.shape[0])
    g[-1] = -1.0  # G = diag(1, …, 1, −1)

    def gnorm(p: np.ndarray, q: np.ndarray) -> float:
        return float(p @ (g * q))

    out: list[np.ndarray] = []
    while len(P) > 1:
        p1 = P.pop(0)
        n1 = gnorm(p1, p1)
        scale = float(p1 @ p1)
        if abs(n1) <= 1e-15 * scale:
            out.append(p1)
            continue
        j = next((k for k, p in enumerate(P) if n1 * gnorm(p, p) < 0), None)
        if j is None:  # ⟨Z, G⟩ ≠ 0 (inexact solver output): emit as is, decoding rescales it
            out.append(p1)
            continue
        pj = P[j]
        nj, m = gnorm(pj, pj), gnorm(p1, pj)
        # root of n1 + 2 m t + nj t² = 0 (real: n1 nj < 0); the rotation keeps y yᵀ + p′ p′ᵀ = p1 p1ᵀ + pj pjᵀ
        t = (-2 * m + math.sqrt(4 * m * m - 4 * n1 * nj)) / (2 * nj)
        r = math.sqrt(1 + t * t)
        out.append((p1 + t * pj) / r)
        P[j] = (pj - t * p1) / r
    out.extend(P)
    return np.array(out).reshape(len(out), V.shape[0])


def neural_decomposition(Z: np.ndarray, Z_prime: np.ndarray, tol: float = 1e-10, *, activation: Any,
                         ) -> QuadraticActivationNet:
    """A network whose objective equals the SDP's at (Z, Z′): width <= rank Z + rank Z′ <= 2(d+1) (spec §3.2).

    Arguments:
        Z, Z_prime: feasible SDP blocks, (d+1, d+1) each.
        tol: relative eigenvalue threshold of :func:`rank_one_decomposition`.
        activation: (a, b, c) of the decoded network.

    Returns:
        :class:`QuadraticActivationNet` with α_j = +s_j² for the neurons of Z and −s_j² for those of Z′.
    """
    abc = as_activation(activation)
    Z, Zp = np.asarray(Z, dtype=np.float64), np.asarray(Z_prime, dtype=np.float64)
    if Z.shape != Zp.shape:
        raise ValueError(f"Z and Z_prime must have the same shape, got {Z.shape} and {Zp.shape}")
    U, alpha = [], []
    for M, sign in ((Z, 1.0), (Zp, -1.0)):
        for yv in rank_one_decomposition(M, tol):
            v, s = yv[:-1], yv[-1]
            nv = float(np.linalg.norm(v))
            if nv == 0.0 or s == 0.0:  # y = [0; s] or [v; 0] cannot occur when y ᵀG y = 0 and y ≠ 0
                continue
            U.append(math.copysign(1.0, s) * v / nv)
            alpha.append(sign * s * s)  # as the official code; ‖v‖ = |s| on the neural spectrahedron
    d = Z.shape[0] - 1
    if not U:
        return QuadraticActivationNet(d, 0, activation=abc)
    return QuadraticActivationNet.from_neurons(np.array(U), np.array(alpha), activation=abc)
