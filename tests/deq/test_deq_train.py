"""Global optimum oracles, the rate theorem's ingredients, and training to L* (spec B.3-B.5, B.8)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from netoptima.conventions import TrainingDiverged
from netoptima.deq import (
    DEQLinear,
    Trajectory,
    lambda_min_UtU,
    linear_optimum,
    loss_value,
    stochastic,
    train_deq,
    train_params,
)
from netoptima.deq.data import synthetic
from netoptima.deq.train import lambda_min_gram, rate_check

F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny matrices: one torch thread (the shared fixture, restored after)."""


def test_least_squares_optimum_matches_numpy():
    X, Y = synthetic(0, 6, 3, 40, "square")
    opt = linear_optimum(X, Y, loss="square")
    W_np, *_ = np.linalg.lstsq(X.numpy(), Y.numpy(), rcond=None)  # (d, k)
    assert np.allclose(opt.W.numpy(), W_np.T, atol=1e-12)
    assert opt.value == pytest.approx(0.5 * np.sum((X.numpy() @ W_np - Y.numpy()) ** 2) / 40, rel=1e-12)


def test_least_squares_optimum_rank_deficient_is_min_norm():
    # m > n: infinitely many interpolants, L* = 0, W* is the minimum-norm one (YΦ⁺)
    g = torch.Generator().manual_seed(1)
    Phi, Y = torch.randn(5, 9, generator=g, dtype=F64), torch.randn(5, 2, generator=g, dtype=F64)
    opt = linear_optimum(Phi, Y, loss="square")
    assert opt.value < 1e-25
    assert torch.allclose(opt.W, (torch.linalg.pinv(Phi) @ Y).T, atol=1e-12)


def test_cross_entropy_optimum_matches_cvxpy():
    cp = pytest.importorskip("cvxpy")
    X, y = synthetic(2, 5, 3, 120, "cross_entropy")
    opt = linear_optimum(X, y, loss="cross_entropy")
    n, k = X.shape[0], 3
    W = cp.Variable((k, X.shape[1]))
    Yn = np.eye(k)[y.numpy()]
    logits = X.numpy() @ W.T
    prob = cp.Problem(cp.Minimize(cp.sum(cp.log_sum_exp(logits, axis=1)) / n - cp.sum(cp.multiply(Yn, logits)) / n))
    prob.solve(solver=cp.CLARABEL)
    # Clarabel's interior point stops at ~1e-8 relative gap; Newton is exact to ~1e-14
    assert opt.attained and opt.value == pytest.approx(prob.value, abs=1e-7)
    assert opt.value <= prob.value + 1e-12  # Newton cannot be worse than another solver's optimum


def test_cross_entropy_separable_data_is_flagged_not_attained():
    X = torch.tensor([[1.0, 0.0], [2.0, 0.5], [-1.0, 0.2], [-2.0, -0.3]], dtype=F64)
    y = torch.tensor([0, 0, 1, 1])
    opt = linear_optimum(X, y, loss="cross_entropy", max_iter=30)
    assert not opt.attained and opt.value < 1e-3  # inf L = 0 is approached, never reached


def test_lambda_min_gram_on_row_space():
    g = torch.Generator().manual_seed(0)
    Phi = torch.randn(4, 7, generator=g, dtype=F64)  # n = 4 < m = 7: ΦᵀΦ/n has 3 exact zeros
    ev = torch.linalg.eigvalsh(Phi @ Phi.T / 4)  # the 4 non-zero eigenvalues, computed on the other side
    assert lambda_min_gram(Phi) == pytest.approx(float(ev[0]), rel=1e-10)


@pytest.mark.parametrize("normalize", ["column", "row"])
@pytest.mark.parametrize("a_std", [0.0, 1.0, 4.0, 20.0])
def test_lambda_min_UtU_bounds(normalize, a_std):
    # spec B.5: λ_min(UᵀU) = 1/‖I − γσ‖₂² ≥ 1/(1 + γ‖σ‖₂)² ≥ 1/(1 + γ√m)² for every A
    m, gamma = 9, 0.8
    net = DEQLinear(m, 2, gamma=gamma, normalize=normalize, a_std=a_std, generator=torch.Generator().manual_seed(4),
                    dtype=F64)
    lam = lambda_min_UtU(net)
    U = net.U().detach()
    assert lam == pytest.approx(float(torch.linalg.eigvalsh(U.T @ U)[0]), rel=1e-9)  # brute force
    s = float(torch.linalg.matrix_norm(net.sigma().detach(), ord=2))
    assert lam >= 1 / (1 + gamma * s) ** 2 * (1 - 1e-12)
    assert lam >= 1 / (1 + gamma * math.sqrt(m)) ** 2 * (1 - 1e-12)


def test_one_over_one_plus_gamma_squared_is_not_a_bound():
    # the spec's caution: σ(A) with all mass on one row gives λ_min(UᵀU) < 1/(1 + γ)² (0.147 < 0.309 at m = 10)
    m, gamma = 10, 0.8
    A = torch.zeros(m, m, dtype=F64)
    A[0] = 40.0
    S = stochastic(A)
    lam = 1 / float(torch.linalg.matrix_norm(torch.eye(m, dtype=F64) - gamma * S, ord=2)) ** 2
    assert lam == pytest.approx(0.147, abs=5e-4)
    assert lam < 1 / (1 + gamma) ** 2


def test_b_gradient_is_shallow_gradient_times_Ut():
    # spec B.4: ∂L/∂B = ∇L_lin(W) Uᵀ, the identity behind the rate bound
    X, Y = synthetic(3, 6, 2, 30, "square")
    net = DEQLinear(6, 2, gamma=0.8, generator=torch.Generator().manual_seed(5), dtype=F64)
    W = net.weight()
    gB, = torch.autograd.grad(loss_value(X @ W.T, Y, loss="square"), [net.B])
    W0 = W.detach().clone().requires_grad_()
    gW, = torch.autograd.grad(loss_value(X @ W0.T, Y, loss="square"), [W0])
    assert torch.allclose(gB, gW @ net.U().detach().T, atol=1e-13)


@pytest.mark.parametrize("loss", ["square", "cross_entropy"])
def test_training_reaches_global_optimum(loss):
    X, Y = synthetic(4, 5, 3, 60, loss)
    net = DEQLinear(5, 3, gamma=0.8, generator=torch.Generator().manual_seed(6), dtype=F64)
    opt = linear_optimum(X, Y, loss=loss)
    traj = train_deq(net, X, Y, loss=loss, lr=0.04 if loss == "square" else 0.1, steps=6000, L_star=opt.value,
                     stop_gap=1e-10, quiet=True)
    assert traj.gap[-1] <= 1e-10 and len(traj.gap) < 6000
    assert all(b <= a + 1e-14 for a, b in zip(traj.loss, traj.loss[1:], strict=False))  # GD descends
    if loss == "square":
        res = rate_check(traj, floor=1e-8)
        assert res["flow_ok"] and res["gd_ok"] and res["cumulative_ok"] and res["steps_checked"] > 100
        # W_T = B_T U_T converges to the unique W* (Φ has full column rank)
        assert torch.allclose(net.weight().detach(), opt.W, atol=1e-4)


def test_rate_check_rejects_a_too_slow_trajectory():
    # a gap decaying at half the bound's rate must fail every check (the check can fail)
    eta, bound = 0.01, 1.0
    gaps = [math.exp(-0.5 * bound * eta * t) for t in range(200)]
    traj = Trajectory(loss=[1 + g for g in gaps], gap=gaps, grad_sq=[0.5 * bound * g for g in gaps],
                      lambda_U=[1.0] * 200, sigma_norm=[1.0] * 200, rate_bound=[bound] * 200,
                      steps=list(range(200)), lambda_K=0.5, lr=eta)
    res = rate_check(traj, floor=1e-8)
    assert not res["flow_ok"] and not res["cumulative_ok"]
    assert res["min_flow_ratio"] == pytest.approx(0.5)


@pytest.mark.parametrize("deficit, ok", [(2.7e-7, True), (1e-3, False)])
def test_rate_check_allows_the_gaps_rounding_only(deficit, ok):
    # the paper-scale width-1 runs meet the flow bound with equality at L* = 12.5: at a gap of 1e-8, L − L* carries a
    # float64 cancellation error of ~ε·25/1e-8 ≈ 5.6e-7 relative; a deficit of that size is rounding, 1e-3 is not
    eta, bound, L_star = 0.01, 1.0, 12.5
    gaps = [1e-8 * math.exp(-bound * eta * t) + 1e-8 for t in range(50)]
    traj = Trajectory(loss=[L_star + g for g in gaps], gap=gaps, grad_sq=[(1 - deficit) * bound * g for g in gaps],
                      lambda_U=[1.0] * 50, sigma_norm=[1.0] * 50, rate_bound=[bound] * 50,
                      steps=list(range(50)), lambda_K=0.5, lr=eta)
    res = rate_check(traj, floor=1e-9)
    assert res["flow_ok"] is ok
    tols = [1e-9 + 64 * 2.220446e-16 * (L_star + g + L_star) / g for g in (max(gaps), min(gaps))]
    assert tols[0] * 0.999 <= res["flow_tol_at_min"] <= tols[1] * 1.001


def test_divergence_raises_training_diverged():
    X, Y = synthetic(0, 4, 2, 20, "square")
    net = DEQLinear(4, 2, gamma=0.8, generator=torch.Generator().manual_seed(0), dtype=F64)
    with pytest.raises(TrainingDiverged, match="learning rate 50"):
        train_deq(net, X, Y, lr=50.0, steps=500, quiet=True)


def test_train_deq_validates_arguments():
    X, Y = synthetic(0, 4, 2, 20, "square")
    net = DEQLinear(4, 2, dtype=F64)
    with pytest.raises(ValueError, match="lr must be"):
        train_deq(net, X, Y, lr=0.0, steps=1)
    with pytest.raises(ValueError, match="loss must be one of"):
        train_deq(net, X, Y, loss="hinge", lr=0.1, steps=1)
    with pytest.raises(ValueError, match="square loss needs Y"):
        train_deq(net, X, Y[:, :1], lr=0.1, steps=1)


@pytest.mark.parametrize("bad", ["X", "Y"])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_train_deq_refuses_non_finite_data_before_the_eigendecomposition(bad, value):
    """Issue 17 item 8: NaN in X used to fail inside torch.linalg.eigh with a LAPACK error."""
    X, Y = synthetic(0, 4, 2, 20, "square")
    (X if bad == "X" else Y)[3, 1] = value
    net = DEQLinear(4, 2, dtype=F64)
    with pytest.raises(ValueError, match=f"^{bad} must be finite, got 1 NaN or infinite values"):
        train_deq(net, X, Y, lr=0.1, steps=1, quiet=True)


def test_train_deq_refuses_empty_and_mismatched_data():
    X, Y = synthetic(0, 4, 2, 20, "square")
    net = DEQLinear(4, 2, dtype=F64)
    with pytest.raises(ValueError, match="X must have at least one sample"):
        train_deq(net, X[:0], Y[:0], lr=0.1, steps=1, quiet=True)
    with pytest.raises(ValueError, match="Y must have one target per row of X \\(20\\)"):
        train_deq(net, X, Y[:5], lr=0.1, steps=1, quiet=True)
    with pytest.raises(TypeError, match="X must be a torch.Tensor, got ndarray"):
        train_deq(net, X.numpy(), Y, lr=0.1, steps=1, quiet=True)


def test_trainer_contract_frozen_result_and_blow_up():
    X, Y = synthetic(0, 4, 2, 20, "square")
    net = DEQLinear(4, 2, gamma=0.8, generator=torch.Generator().manual_seed(0), dtype=F64)
    traj = train_deq(net, X, Y, steps=3, lr=0.01, device="cpu", dtype=F64, quiet=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        traj.lr = 1.0  # type: ignore[misc]
    assert len(traj.loss) == 3 and isinstance(traj.loss, tuple)
    # a finite blow-up (not NaN) past 1e4 × the starting loss is divergence too: check_finite_loss(start=)
    w = torch.ones(1, dtype=F64, requires_grad=True)
    with pytest.raises(TrainingDiverged, match="starting loss"):
        train_params([w], lambda: (w * 10.0).pow(2).sum(), steps=50, lr=1.0, quiet=True)
    with pytest.raises(TypeError):
        train_deq(net, X, Y, 3, 0.01)  # steps and lr are keyword-only
