"""QuadraticActivationNet, losses and their conjugates, input validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from netoptima.convex.model import (
    PAPER_ACTIVATION,
    QuadraticActivationNet,
    loss_conjugate,
    loss_grad,
    loss_value,
    objective,
    torch_loss,
)


def test_forward_matches_a_float64_loop():
    gen = torch.Generator().manual_seed(0)
    net = QuadraticActivationNet(4, 3, activation=(0.3, -0.2, 0.7), generator=gen)
    X = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    U, alpha = net.U.detach(), net.alpha.detach()
    ref = [sum(float(alpha[j]) * (0.3 * float(X[i] @ U[j]) ** 2 - 0.2 * float(X[i] @ U[j]) + 0.7)
               for j in range(3)) for i in range(5)]
    assert torch.allclose(net(X), torch.tensor(ref, dtype=torch.float64), rtol=1e-13, atol=1e-13)
    assert torch.allclose(U.norm(dim=1), torch.ones(3, dtype=torch.float64), atol=1e-14)


def test_project_and_state_dict_round_trip():
    net = QuadraticActivationNet(3, 2, activation=PAPER_ACTIVATION)
    with torch.no_grad():
        net.U.mul_(3.0)
    assert net.max_norm_error() == pytest.approx(2.0)
    net.project_()
    assert net.max_norm_error() < 1e-14
    other = QuadraticActivationNet(3, 2, activation=(1.0, 0.0, 0.0))
    other.load_state_dict(net.state_dict())
    assert other.abc == pytest.approx(PAPER_ACTIVATION)


def test_width_zero_net_predicts_zero():
    net = QuadraticActivationNet(3, 0)
    assert torch.equal(net(torch.ones(4, 3, dtype=torch.float64)), torch.zeros(4, dtype=torch.float64))


@pytest.mark.parametrize("loss", ["squared", "l1", "huber"])
def test_loss_gradient_conjugate_and_torch_agree(loss):
    rng = np.random.default_rng(1)
    yhat, y = rng.standard_normal(20) * 2, rng.standard_normal(20)
    f = loss_value(yhat, y, loss, delta=0.7)
    assert float(torch_loss(torch.from_numpy(yhat), torch.from_numpy(y), loss, delta=0.7)) == pytest.approx(f, 1e-13)
    w = loss_grad(yhat, y, loss, delta=0.7)
    # Fenchel–Young: ℓ(ŷ) + ℓ*(w) >= wᵀŷ for all w, with equality at w ∈ ∂ℓ(ŷ)
    assert f + loss_conjugate(w, y, loss, delta=0.7) == pytest.approx(w @ yhat, abs=1e-12)
    for _ in range(20):
        w2 = np.clip(rng.standard_normal(20), -0.7, 0.7)
        assert f + loss_conjugate(w2, y, loss, delta=0.7) >= w2 @ yhat - 1e-12
    if loss != "l1":  # smooth: the gradient matches central finite differences (error O(h²) ≈ 1e-10)
        h, i = 1e-5, 3
        e = np.zeros(20)
        e[i] = h
        fd = (loss_value(yhat + e, y, loss, delta=0.7) - loss_value(yhat - e, y, loss, delta=0.7)) / (2 * h)
        assert fd == pytest.approx(w[i], abs=1e-8)


def test_objective_adds_the_l1_penalty():
    net = QuadraticActivationNet.from_neurons(np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([0.5, -1.5]),
                                              activation=(1.0, 0.0, 0.0))
    X, y = np.array([[1.0, 1.0], [2.0, 0.0]]), np.array([0.0, 1.0])
    # predictions: 0.5·x1² − 1.5·x2² → [−1, 2]
    assert objective(net, X, y, beta=0.2) == pytest.approx(0.5 * (1 + 1) + 0.2 * 2.0)


@pytest.mark.parametrize("X, y, match", [
    (np.ones((3, 2)), np.ones(4), r"y must have shape \(3,\)"),
    (np.ones(3), np.ones(3), "X must be a 2-D array"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones(2), "X must be finite"),
    (np.ones((2, 2)), np.array([1.0, np.inf]), "y must be finite"),
])
def test_bad_data_is_rejected_at_the_door(X, y, match):
    net = QuadraticActivationNet(2, 1)
    with pytest.raises(ValueError, match=match):
        objective(net, X, y, beta=0.1)


@pytest.mark.parametrize("kwargs, match", [
    ({"beta": 0.0}, "beta must be a finite number > 0"),
    ({"beta": -1.0}, "beta must be a finite number > 0"),
    ({"beta": 0.1, "loss": "hinge"}, "loss must be one of"),
])
def test_bad_objective_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        objective(QuadraticActivationNet(2, 1), np.ones((2, 2)), np.ones(2), **kwargs)


@pytest.mark.parametrize("activation", [(1.0, 2.0), (0.0, 0.0, 0.0), (1.0, float("nan"), 0.0), "abc"])
def test_bad_activation(activation):
    with pytest.raises(ValueError, match="activation"):
        QuadraticActivationNet(2, 1, activation=activation)
