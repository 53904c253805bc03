"""Function-space preconditioner P_t and the trust-region Newton step (spec B.6, B.8 check 7)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from netoptima.deq import (
    DEQLinear,
    function_space_preconditioner,
    lambda_min_UtU,
    loss_value,
    trust_region_step,
)
from netoptima.deq.analysis import shallow_square_grad
from netoptima.deq.data import synthetic

F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny matrices: one torch thread (the shared fixture, restored after)."""


def model(normalize="column", seed=0, d=5, k=3, a_std=1.0):
    return DEQLinear(d, k, gamma=0.8, normalize=normalize, a_std=a_std, generator=torch.Generator().manual_seed(seed),
                     dtype=F64)


@pytest.mark.parametrize("normalize", ["column", "row"])
@pytest.mark.parametrize("a_std", [0.5, 3.0])
def test_analytic_preconditioner_matches_jacrev(normalize, a_std):
    net = model(normalize, a_std=a_std)
    P, P_B = function_space_preconditioner(net)
    P_ref, P_B_ref = function_space_preconditioner(net, method="jacrev")
    # both are exact formulas for the same matrix: only float rounding (~1e-15 relative) separates them
    assert float((P - P_ref).norm() / P_ref.norm()) < 1e-12
    assert float((P_B - P_B_ref).norm() / P_B_ref.norm()) < 1e-12


@pytest.mark.parametrize("normalize", ["column", "row"])
def test_preconditioner_structure_and_lower_bound(normalize):
    net = model(normalize, seed=2)
    P, P_B = function_space_preconditioner(net)
    U = net.U().detach()
    assert torch.allclose(P_B, torch.kron(torch.eye(3, dtype=F64), U.T @ U), atol=1e-12)  # B-path: I_k ⊗ UᵀU
    ev = torch.linalg.eigvalsh(P)
    assert float(ev[0]) >= lambda_min_UtU(net) * (1 - 1e-10)  # P ⪰ λ_min(UᵀU) I (A-path is PSD)
    assert float(torch.linalg.eigvalsh(P - P_B)[0]) >= -1e-12 * float(ev[-1])


def test_function_space_velocity_is_minus_P_grad():
    # a small GD step on (A, B) moves W by −ε P vec∇L_lin(W) + O(ε²): central difference in ε removes O(ε²)
    X, Y = synthetic(1, 5, 3, 40, "square")
    net = model(seed=1)
    P, _ = function_space_preconditioner(net)
    W = net.weight()
    gA, gB = torch.autograd.grad(loss_value(X @ W.T, Y, loss="square"), [net.A, net.B])
    G = shallow_square_grad(W.detach(), X, Y)
    predicted = -(P @ G.reshape(-1)).reshape(G.shape)
    A0, B0 = net.A.detach().clone(), net.B.detach().clone()
    eps = 1e-5
    Ws = []
    for sgn in (1, -1):
        with torch.no_grad():
            net.A.copy_(A0 - sgn * eps * gA)
            net.B.copy_(B0 - sgn * eps * gB)
            Ws.append(net.weight().detach())
    velocity = (Ws[0] - Ws[1]) / (2 * eps)
    # truncation O(ε²)·‖W'''‖ ~ 1e-10, rounding eps_mach·‖W‖/ε ~ 1e-11
    assert float((velocity - predicted).norm() / predicted.norm()) < 1e-7
    # spec B.8 check 7: ⟨dW/dt, −∇L_lin⟩ ≥ λ_min(UᵀU) ‖∇L_lin‖²
    assert float((velocity * -G).sum()) >= lambda_min_UtU(net) * float(G.pow(2).sum()) * (1 - 1e-9)


def test_shallow_gradient_matches_autograd():
    X, Y = synthetic(2, 4, 2, 30, "square")
    W = torch.randn(2, 4, dtype=F64, requires_grad=True)
    g, = torch.autograd.grad(loss_value(X @ W.T, Y, loss="square"), [W])
    assert torch.allclose(shallow_square_grad(W.detach(), X, Y), g, atol=1e-14)


@pytest.mark.parametrize("radius", [1e-3, 0.3, 100.0])
def test_trust_region_step_satisfies_kkt_and_matches_cvxpy(radius):
    cp = pytest.importorskip("cvxpy")
    g = torch.Generator().manual_seed(3)
    Phi = torch.randn(30, 4, generator=g, dtype=F64) * torch.tensor([1.0, 0.5, 0.2, 0.05], dtype=F64)
    K = Phi.T @ Phi / 30  # ill-conditioned PSD factor
    G = torch.randn(2, 4, generator=g, dtype=F64)
    V, mu = trust_region_step(G, K, radius)
    # KKT of min ⟨G,V⟩ + ½⟨V,VK⟩ s.t. ‖V‖ ≤ Δ: V(K + μI) = −G, μ ≥ 0, ‖V‖ ≤ Δ, μ(‖V‖ − Δ) = 0
    assert torch.allclose(V @ (K + mu * torch.eye(4, dtype=F64)), -G, atol=1e-10)
    assert float(V.norm()) <= radius * (1 + 1e-9) and mu >= 0
    assert mu == 0 or float(V.norm()) == pytest.approx(radius, rel=1e-9)
    v = cp.Variable((2, 4))
    L = np.linalg.cholesky(K.numpy() + 1e-14 * np.eye(4))
    obj = cp.sum(cp.multiply(G.numpy(), v)) + 0.5 * cp.sum_squares(v @ L)
    prob = cp.Problem(cp.Minimize(obj), [cp.norm(v, "fro") <= radius])
    prob.solve(solver=cp.CLARABEL)
    ours = float((G * V).sum() + 0.5 * (V @ K * V).sum())
    # the interior-point optimum is accurate to ~1e-8 relative; ours solves the secular equation to float precision
    assert ours <= prob.value + 1e-7 * max(1.0, abs(prob.value))
    assert ours == pytest.approx(prob.value, rel=1e-6, abs=1e-9)


def test_small_radius_trust_region_step_is_steepest_descent():
    g = torch.Generator().manual_seed(4)
    K = torch.diag(torch.tensor([10.0, 1.0, 0.1], dtype=F64))
    G = torch.randn(1, 3, generator=g, dtype=F64)
    V, mu = trust_region_step(G, K, 1e-8)
    cos = float((V * -G).sum() / (V.norm() * G.norm()))
    assert cos > 1 - 1e-6 and mu > 1e6
