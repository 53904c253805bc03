"""Function-space view of the DEQ dynamics and the trust-region Newton link (Kawaguchi 2021, §3.2; spec B.6).

Gradient flow on θ = (A, B) moves the end-to-end map W = BU by vec(dW/dt) = −P_t vec(∇L_lin(W)), with the
preconditioner P_t = J_t J_tᵀ, J_t = ∂vec(W)/∂θ. Its B-block is exactly I ⊗ UᵀU and its A-block is PSD, so
P_t ⪰ λ_min(UᵀU)·I: W follows a preconditioned gradient flow of the convex shallow problem. A trust-region
Newton step v = −(H + μI)⁻¹∇ on the shallow model is the comparison (spec B.6 [R]).

vec(·) is row-major throughout: vec(W)[i·m + j] = W_ij, so the B-block is I_k ⊗ UᵀU.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.func import jacrev

from netoptima.conventions import check_choice, check_real
from netoptima.deq.model import DEQLinear, stochastic
from netoptima.deq.solvers import check_matrix

__all__ = ["function_space_preconditioner", "shallow_square_grad", "trust_region_step"]


def function_space_preconditioner(model: DEQLinear, *, method: str = "analytic") -> tuple[Tensor, Tensor]:
    """P_t = J Jᵀ with J = ∂vec(BU)/∂(A, B), and its B-part J_B J_Bᵀ = I_k ⊗ UᵀU (spec B.6).

    ``analytic``: dW = dB U + γW dσ U with the softmax Jacobian M_q = diag(s_q) − s_q s_qᵀ of column (row) q, so

        column σ: P_A = γ² Σ_q (W M_q² Wᵀ) ⊗ (u_q u_qᵀ),  u_q = row q of U;
        row σ:    P_A = γ² Σ_q (w_q w_qᵀ) ⊗ (Uᵀ M_q² U),  w_q = column q of W.

    ``jacrev``: ``torch.func.jacrev`` of an explicit W(A, B) = B(I − γσ(A))⁻¹, the slow independent reference.

    Arguments:
        model: a :class:`DEQLinear` (its current A, B, γ and σ normalisation).
        method: ``"analytic"`` or ``"jacrev"``.

    Returns:
        ``(P, P_B)``, each (k m, k m) with k = out_features, m = width.
    """
    check_choice("method", method, ("analytic", "jacrev"))
    gamma, normalize, m = model.gamma, model.normalize, model.width
    eye = torch.eye(m, dtype=model.A.dtype, device=model.A.device)
    A, B = model.A.detach(), model.B.detach()
    k = B.shape[0]
    if method == "jacrev":

        def vec_W(A: Tensor, B: Tensor) -> Tensor:
            U = torch.linalg.solve(eye - gamma * stochastic(A, normalize=normalize), eye)  # (m, m)
            return (B @ U).reshape(-1)  # (k m,)

        JA, JB = jacrev(vec_W, argnums=(0, 1))(A, B)  # (km, m, m), (km, k, m)
        JA = JA.reshape(JA.shape[0], -1)  # (km, m²)
        JB = JB.reshape(JB.shape[0], -1)  # (km, k m)
        P_B = JB @ JB.T
        return JA @ JA.T + P_B, P_B
    S = stochastic(A, normalize=normalize)  # (m, m)
    U = torch.linalg.solve(eye - gamma * S, eye)  # (m, m)
    W = B @ U  # (k, m)
    P_B = torch.kron(torch.eye(k, dtype=A.dtype, device=A.device), U.T @ U)
    s = S.T if normalize == "column" else S  # (m, m): row q holds column (row) q of σ
    M = torch.diag_embed(s) - s.unsqueeze(2) * s.unsqueeze(1)  # (m, m, m): softmax Jacobians M_q
    M2 = M @ M  # (m, m, m)
    if normalize == "column":
        left = torch.einsum("il,qlr,jr->qij", W, M2, W)  # (m, k, k): W M_q² Wᵀ
        right = U.unsqueeze(2) * U.unsqueeze(1)  # (m, m, m): u_q u_qᵀ
    else:
        left = W.T.unsqueeze(2) * W.T.unsqueeze(1)  # (m, k, k): w_q w_qᵀ
        right = torch.einsum("lj,qlr,rs->qjs", U, M2, U)  # (m, m, m): Uᵀ M_q² U
    P_A = gamma**2 * torch.einsum("qab,qcd->acbd", left, right).reshape(k * m, k * m)
    return P_A + P_B, P_B


def shallow_square_grad(W: Tensor, Phi: Tensor, Y: Tensor) -> Tensor:
    """∇L_lin(W) = (WΦᵀ − Yᵀ)Φ/n for L_lin(W) = (1/2n)‖ΦWᵀ − Y‖²_F.

    Arguments:
        W: (k, m); Phi: (n, m) features as rows; Y: (n, k).

    Returns:
        (k, m) gradient.
    """
    return (Phi @ W.T - Y).T @ Phi / Phi.shape[0]


def trust_region_step(G: Tensor, K: Tensor, radius: float) -> tuple[Tensor, float]:
    """The trust-region Newton step on the shallow square loss: argmin ⟨G, V⟩ + ½⟨V, VK⟩ s.t. ‖V‖_F ≤ Δ.

    The Hessian of L_lin acts as V ↦ VK (K = ΦᵀΦ/n), so in K's eigenbasis the step is V = −G̃/(λ + μ)
    column-wise, with μ = 0 if the Newton step fits in the region, else the μ > 0 with ‖V‖ = Δ (bisection on the
    monotone secular equation; Moré & Sorensen 1983).

    Arguments:
        G: (k, m) gradient; K: (m, m) PSD Hessian factor; radius: Δ > 0.

    Returns:
        ``(V, mu)``: the (k, m) step and the multiplier μ ≥ 0.
    """
    radius = check_real("radius", radius, low=0.0, low_open=True)
    check_matrix("G", G)
    check_matrix("K", K)
    if K.shape[0] != K.shape[1] or G.shape[1] != K.shape[0] or G.dtype != K.dtype:
        raise ValueError(f"G must be (k, m) and K (m, m) of one dtype, got {tuple(G.shape)} {G.dtype} and "
                         f"{tuple(K.shape)} {K.dtype}")
    lam, Q = torch.linalg.eigh(K)  # ascending
    Gt = G @ Q  # (k, m) in K's eigenbasis

    def norm(mu: float) -> float:
        return float(torch.linalg.matrix_norm(Gt / (lam + mu)))

    if float(lam[0]) > 0 and norm(0.0) <= radius:
        mu = 0.0
    else:
        lo, hi = max(0.0, -float(lam[0])), max(1.0, -float(lam[0]) + 1.0)
        while norm(hi) > radius:
            hi *= 2.0
        for _ in range(200):  # bisection to float precision: the secular function is monotone in μ
            mid = 0.5 * (lo + hi)
            if mid in (lo, hi):
                break
            lo, hi = (mid, hi) if norm(mid) > radius else (lo, mid)
        mu = hi
    return -(Gt / (lam + mu)) @ Q.T, mu
