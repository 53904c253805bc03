"""Gradient dynamics of the potentials: the Jacobian J = ∂r/∂w and the decoupling of J Jᵀ (spec §6a).

Under gradient flow on the weights w, the potentials move as ṙ = −J Jᵀ ∇_r ℓ. At a random init with q nodes
each diagonal entry of J Jᵀ is a sum of q positive terms while an off-diagonal one is a sum of q random phases,
so ‖offdiag(J Jᵀ)‖ / ‖diag(J Jᵀ)‖ should fall like q^{-1/2}: over-parameterisation decouples the potentials.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from netoptima.cogo.fourier import fourier_weights
from netoptima.cogo.model import QuadraticNet, Weights, check_odd_modulus
from netoptima.conventions import check_choice, check_int

__all__ = ["decoupling_ratio", "potential_gram", "potential_indices"]


def potential_indices(d: int) -> Tensor:
    """The independent r_{k1k2k}: k1, k2 ∈ Z_d and output k = 1..(d−1)/2 (−k are conjugates), ``(P, 3)``."""
    d = check_odd_modulus(d)
    k1, k2, k = torch.meshgrid(torch.arange(d), torch.arange(d), torch.arange(1, (d - 1) // 2 + 1), indexing="ij")
    return torch.stack([k1.flatten(), k2.flatten(), k.flatten()], dim=1)


def potential_gram(model: QuadraticNet | Weights, *, chunk: int = 256, device: str | torch.device = "cpu",
                   dtype: torch.dtype = torch.float64) -> Tensor:
    """J Jᵀ of the real and imaginary parts of every r_{k1k2k} (paper units) w.r.t. the real weights.

    Rows are ordered [Re r_α for α in :func:`potential_indices`] then [Im r_α]. Per node j the gradients are
    ∂r/∂W_a[j,g] = 2ω^{−k1 g} B[k2,j] C[k,j], ∂r/∂W_b[j,g] = 2ω^{−k2 g} A[k1,j] C[k,j],
    ∂r/∂W_c[g,j] = 2ω^{kg} A[k1,j] B[k2,j]; J Jᵀ sums the per-node blocks, ``chunk`` nodes at a time, on
    ``device`` in ``dtype`` (float64 by default; float32 for large q on a GPU).

    Returns:
        ``(2P, 2P)`` in ``dtype`` on the CPU, with P = d²(d−1)/2.
    """
    chunk = check_int("chunk", chunk, low=1)
    check_choice("dtype", dtype, [torch.float32, torch.float64])
    cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    A, B, C = (x.to(device, cdtype) for x in fourier_weights(model))
    if A.ndim != 2:
        raise ValueError("potential_gram takes one net (unbatched weights)")
    d, q = A.shape
    check_odd_modulus(d)
    idx = potential_indices(d).to(A.device)
    k1, k2, k = idx[:, 0], idx[:, 1], idx[:, 2]
    g = torch.arange(d, dtype=dtype, device=A.device)
    w = lambda s, kk: torch.exp(s * 2j * math.pi * kk[:, None].to(dtype) * g[None, :] / d)  # noqa: E731  (P, d)
    Ea, Eb, Ec = w(-1, k1), w(-1, k2), w(1, k)  # (P, d) each
    P = idx.shape[0]
    G = torch.zeros(2 * P, 2 * P, dtype=dtype, device=A.device)
    for s in range(0, q, chunk):
        sl = slice(s, min(q, s + chunk))
        a, b, c = A[k1, sl], B[k2, sl], C[k, sl]  # (P, n) each
        J = torch.cat([2 * Ea[:, None, :] * (b * c)[:, :, None],  # (P, n, d): ∂/∂W_a[j, ·]
                       2 * Eb[:, None, :] * (a * c)[:, :, None],  # ∂/∂W_b[j, ·]
                       2 * Ec[:, None, :] * (a * b)[:, :, None]], dim=2).reshape(P, -1)  # (P, n·3d)
        Jr = torch.cat([J.real, J.imag], dim=0)  # (2P, n·3d)
        G += Jr @ Jr.T
    return G.cpu()


def decoupling_ratio(model: QuadraticNet | Weights, *, device: str | torch.device = "cpu",
                     dtype: torch.dtype = torch.float64) -> float:
    """‖offdiag(J Jᵀ)‖_F / ‖diag(J Jᵀ)‖_2 of :func:`potential_gram` (spec §6a): → 0 like q^{-1/2}."""
    G = potential_gram(model, device=device, dtype=dtype)
    diag = torch.diagonal(G)
    off = G - torch.diag(diag)
    return float(torch.linalg.norm(off) / torch.linalg.norm(diag))
