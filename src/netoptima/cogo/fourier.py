"""Fourier view of the weights, monomial (sum) potentials and the exact loss decomposition (spec §2).

Conventions of the official ``analyze_util.load_model_traj`` with ω = e^{2πi/d}:

    A[k, j] = (1/d) Σ_g W_a[j, g] ω^{-kg},   B likewise,   C[k, j] = (1/d) Σ_g W_c[g, j] ω^{+kg}

so W_a[j, g] = Σ_k A[k, j] ω^{kg} and W_c[g, j] = Σ_k C[k, j] ω^{-kg}. Potentials are in paper units (×2d):
r_{k1k2k} = 2d Σ_j A[k1,j] B[k2,j] C[k,j] and r^p_{k1k2k} = 2d Σ_j P[k1,j] P[k2,j] C[k,j], p ∈ {a, b}.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from netoptima.cogo.model import QuadraticNet, Weights, check_weights

__all__ = [
    "Potentials",
    "fourier_loss",
    "fourier_weights",
    "loss_decomposition",
    "monomial_potentials",
    "weights_from_fourier",
]


class Potentials(NamedTuple):
    """Monomial potentials in paper units, each ``(…, d, d, d)`` complex, indexed ``[k1, k2, k]``."""

    r: Tensor  # r_{k1 k2 k} = 2d Σ_j A[k1,j] B[k2,j] C[k,j]
    ra: Tensor  # r^a_{k1 k2 k} = 2d Σ_j A[k1,j] A[k2,j] C[k,j]
    rb: Tensor  # r^b_{k1 k2 k} = 2d Σ_j B[k1,j] B[k2,j] C[k,j]


def _as_weights(model: QuadraticNet | Weights) -> Weights:
    if isinstance(model, QuadraticNet):
        return model.W_a.detach(), model.W_b.detach(), model.W_c.detach()
    check_weights(model, batched=None)
    return model[0].detach(), model[1].detach(), model[2].detach()


def fourier_weights(model: QuadraticNet | Weights) -> tuple[Tensor, Tensor, Tensor]:
    """(A, B, C) of a model or of ``(W_a, W_b, W_c)`` in the spec's sign conventions (spec §2).

    Arguments:
        model: a :class:`QuadraticNet` or real weights ``(W_a (…, q, d), W_b, W_c (…, d, q))``; a leading seed
            axis is allowed.

    Returns:
        ``(A, B, C)``, complex128 tensors of shape ``(…, d, q)`` indexed ``[k, j]``.
    """
    W_a, W_b, W_c = (w.to(torch.float64) for w in _as_weights(model))
    d = W_a.shape[-1]
    A = torch.fft.fft(W_a, dim=-1).transpose(-1, -2) / d  # (…, d, q): Σ_g W ω^{-kg} / d
    B = torch.fft.fft(W_b, dim=-1).transpose(-1, -2) / d  # (…, d, q)
    C = torch.fft.ifft(W_c, dim=-2)  # (…, d, q): Σ_g W_c ω^{+kg} / d
    return A, B, C


def weights_from_fourier(A: Tensor, B: Tensor, C: Tensor, *, atol: float = 1e-9) -> Weights:
    """Inverse of :func:`fourier_weights`: real ``(W_a, W_b, W_c)`` in float64.

    Arguments:
        A, B, C: complex ``(…, d, q)`` with the real-weight symmetry X[−k] = conj(X[k]).
        atol: largest imaginary part tolerated in the reconstructed weights (relative to their scale).

    Raises:
        ValueError: shapes differ, or the blocks are not conjugate-symmetric (complex weights).
    """
    if not (A.shape == B.shape == C.shape) or A.ndim < 2:
        raise ValueError(f"A, B, C must share a shape (…, d, q), got {tuple(A.shape)}, {tuple(B.shape)}, "
                         f"{tuple(C.shape)}")
    d = A.shape[-2]
    A, B, C = (x.to(torch.complex128) for x in (A, B, C))
    W_a = (torch.fft.ifft(A, dim=-2) * d).transpose(-1, -2)  # (…, q, d): Σ_k A ω^{kg}
    W_b = (torch.fft.ifft(B, dim=-2) * d).transpose(-1, -2)  # (…, q, d)
    W_c = torch.fft.fft(C, dim=-2)  # (…, d, q): Σ_k C ω^{-kg}
    for name, w in (("A", W_a), ("B", W_b), ("C", W_c)):
        scale = max(1.0, float(w.abs().max())) if w.numel() else 1.0
        if w.numel() and float(w.imag.abs().max()) > atol * scale:
            raise ValueError(f"{name} is not conjugate-symmetric ({name}[-k] != conj {name}[k]): the weights "
                             f"would be complex (max imaginary part {float(w.imag.abs().max()):.3g})")
    return W_a.real.contiguous(), W_b.real.contiguous(), W_c.real.contiguous()


def _check_fourier(A: Tensor, B: Tensor, C: Tensor) -> None:
    """A, B, C: floating or complex tensors of one shape (…, d, q), d and q ≥ 1."""
    for name, x in (("A", A), ("B", B), ("C", C)):
        if not isinstance(x, Tensor) or not (x.is_floating_point() or x.is_complex()):
            raise ValueError(f"{name} must be a floating or complex torch.Tensor (…, d, q), got "
                             f"{getattr(x, 'dtype', type(x).__name__)}")
    if not (A.shape == B.shape == C.shape) or A.ndim < 2 or A.shape[-1] < 1 or A.shape[-2] < 1:
        raise ValueError(f"A, B, C must share a shape (…, d, q) with d, q ≥ 1, got {tuple(A.shape)}, "
                         f"{tuple(B.shape)}, {tuple(C.shape)}")


def monomial_potentials(A: Tensor, B: Tensor, C: Tensor) -> Potentials:
    """All r_{k1k2k}, r^a_{k1k2k}, r^b_{k1k2k} in paper units (×2d, as ``draw_dyn_fig3.py``), spec §2.

    Arguments:
        A, B, C: complex ``(…, d, q)`` Fourier weights.

    Returns:
        :class:`Potentials` of ``(…, d, d, d)`` complex tensors indexed ``[k1, k2, k]``.

    Raises:
        ValueError: A, B, C are not complex or real floating tensors of one shape (…, d, q) with d ≥ 1, q ≥ 1.
    """
    _check_fourier(A, B, C)
    d, q = A.shape[-2], A.shape[-1]
    Ct = C.transpose(-1, -2)  # (…, q, d)

    def tri(X: Tensor, Y: Tensor) -> Tensor:
        XY = (X[..., :, None, :] * Y[..., None, :, :]).reshape(*X.shape[:-2], d * d, q)  # (…, d², q)
        return (2 * d * (XY @ Ct)).reshape(*X.shape[:-2], d, d, d)  # (…, d, d, d)

    return Potentials(tri(A, B), tri(A, A), tri(B, B))


def loss_decomposition(A: Tensor, B: Tensor, C: Tensor) -> Tensor:
    """Per-output-frequency terms ℓ_k with ℓ = (1/d) Σ_{k≠0} ℓ_k, ℓ_k = Σ_{u,v} |X^{(k)}_{uv}|² (spec §2).

    X_{uv} = r_{uvk} − δ_{u=k}δ_{v=k} (u, v ≠ 0); X_{m0} = r_{m0k} + ½ Σ_{k'} r^a_{k',m−k',k};
    X_{0m} = r_{0mk} + ½ Σ_{k'} r^b_{k',m−k',k}; X_{00} gets both sums. ℓ_0 is returned as 0 (P⊥ removes it).

    Returns:
        ``(…, d)`` real float64 tensor of ℓ_k.
    """
    r, ra, rb = monomial_potentials(A, B, C)
    d = A.shape[-2]
    k = torch.arange(d, device=A.device)
    m_minus = (k[:, None] - k[None, :]) % d  # (m, k'): m − k'
    Sa = 0.5 * ra[..., k[None, :], m_minus, :].sum(-2)  # (…, m, k): ½ Σ_k' r^a_{k', m−k', k}
    Sb = 0.5 * rb[..., k[None, :], m_minus, :].sum(-2)  # (…, m, k)
    X = r.clone()  # (…, u, v, k)
    X[..., k, k, k] -= 1.0
    X[..., :, 0, :] += Sa  # X_{m0}
    X[..., 0, :, :] += Sb  # X_{0m}; X_{00} receives both
    ell = (X.abs() ** 2).sum((-3, -2))  # (…, k)
    ell[..., 0] = 0.0
    return ell


def fourier_loss(A: Tensor, B: Tensor, C: Tensor) -> Tensor:
    """ℓ over all d² pairs from the decomposition, (1/d) Σ_{k≠0} ℓ_k (equals the direct loss)."""
    return loss_decomposition(A, B, C).sum(-1) / A.shape[-2]
