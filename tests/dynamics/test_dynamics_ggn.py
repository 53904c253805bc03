"""Gram-Gauss-Newton against an explicit-Jacobian oracle (minimum norm, Levenberg-Marquardt), and quadratic rate."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev

from netoptima.conventions import TrainingDiverged
from netoptima.dynamics import GramGaussNewton
from netoptima.dynamics.experiments import ggn_residual_run, smooth_wide_net

pytestmark = pytest.mark.usefixtures("one_thread")

DT = torch.float64


def net(c: int = 1, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 30, dtype=DT), nn.Tanh(), nn.Linear(30, 20, dtype=DT), nn.Softplus(),
                         nn.Linear(20, c, dtype=DT))


def explicit_jacobian(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    jac = jacrev(lambda p: functional_call(model, p, (X,)).reshape(-1))(params)
    return torch.cat([j.reshape(j.shape[0], -1) for j in jac.values()], dim=1)  # (n·c, #params)


def flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])


def ggn_step(model: nn.Module, X: torch.Tensor, Y: torch.Tensor, *, lr: float, damping: float,
             with_model: bool) -> torch.Tensor:
    opt = GramGaussNewton(model.parameters(), lr=lr, damping=damping, model=model if with_model else None)

    def closure():
        f = model(X)
        return f, f - Y

    before = flat(model)
    opt.step(closure, inputs=X)
    return flat(model) - before


# float64; the oracle is an SVD least-squares solve of the same system, so agreement is at rounding level
# times the condition number of J (≲ 1e3 here): 1e-10 absolute on steps of size O(1)
@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("with_model", [True, False])
def test_one_step_is_the_minimum_norm_solution_of_the_linearised_system(c, with_model):
    model = net(c)
    g = torch.Generator().manual_seed(1)
    X, Y = torch.randn(6, 5, generator=g, dtype=DT), torch.randn(6, c, generator=g, dtype=DT)
    J = explicit_jacobian(model, X)
    e = (model(X) - Y).detach().reshape(-1)
    oracle = -torch.linalg.lstsq(J, e[:, None], driver="gelsd").solution[:, 0]  # min ‖Δ‖ s.t. JΔ = −e
    delta = ggn_step(model, X, Y, lr=1.0, damping=0.0, with_model=with_model)
    assert (delta - oracle).abs().max() < 1e-10
    assert (J @ delta + e).abs().max() < 1e-9  # interpolates the linearised model


def test_damped_step_is_levenberg_marquardt():
    model = net(2, seed=3)
    g = torch.Generator().manual_seed(2)
    X, Y = torch.randn(7, 5, generator=g, dtype=DT), torch.randn(7, 2, generator=g, dtype=DT)
    J = explicit_jacobian(model, X)
    e = (model(X) - Y).detach().reshape(-1)
    lam, lr = 0.3, 0.7
    A = J.T @ J + lam * torch.eye(J.shape[1], dtype=DT)  # the p × p system GGN avoids (Woodbury)
    oracle = -lr * torch.linalg.solve(A, J.T @ e)
    assert (ggn_step(model, X, Y, lr=lr, damping=lam, with_model=True) - oracle).abs().max() < 1e-10


def test_singular_gram_still_gives_the_minimum_norm_step():
    model = net(1, seed=4)
    g = torch.Generator().manual_seed(3)
    X = torch.randn(4, 5, generator=g, dtype=DT)
    X = torch.cat([X, X[:1]])  # a repeated input: J loses row rank, G is singular at λ = 0
    Y = torch.randn(5, 1, generator=g, dtype=DT)
    Y[4] = Y[0]
    J = explicit_jacobian(model, X)
    e = (model(X) - Y).detach().reshape(-1)
    oracle = -torch.linalg.pinv(J) @ e
    assert (ggn_step(model, X, Y, lr=1.0, damping=0.0, with_model=True) - oracle).abs().max() < 1e-8


def test_minibatch_steps_use_only_their_batch():
    model = net(1, seed=5)
    g = torch.Generator().manual_seed(4)
    X, Y = torch.randn(12, 5, generator=g, dtype=DT), torch.randn(12, 1, generator=g, dtype=DT)
    Xb, Yb = X[3:7], Y[3:7]
    J = explicit_jacobian(model, Xb)
    e = (model(Xb) - Yb).detach().reshape(-1)
    oracle = -torch.linalg.lstsq(J, e[:, None], driver="gelsd").solution[:, 0]
    assert (ggn_step(model, Xb, Yb, lr=1.0, damping=0.0, with_model=True) - oracle).abs().max() < 1e-10


def test_full_batch_ggn_converges_quadratically_on_a_wide_smooth_net():
    run = ggn_residual_run({"n": 16, "width": 4096, "seed": 0, "steps": 5, "damping": 0.0, "device": "cpu"})
    r = run["residuals"]
    above = [k for k in range(len(r)) if r[k] > 1e-10 * r[0]]
    ratios = [r[k + 1] / r[k] ** 2 for k in above[:-1]]
    assert len(ratios) >= 2
    # quadratic: ‖e_{t+1}‖/‖e_t‖² stays bounded (linear convergence at rate ρ would grow it by 1/ρ per step)
    assert max(ratios) / min(ratios) < 10
    orders = [math.log(r[k + 1] / r[k]) / math.log(r[k] / r[k - 1]) for k in above[1:-1]]
    assert min(orders) > 1.7


def test_wider_smooth_nets_have_a_smaller_quadratic_constant():
    c = {}
    for m in (256, 16384):
        r = ggn_residual_run({"n": 16, "width": m, "seed": 0, "steps": 2, "damping": 0.0, "device": "cpu"})["residuals"]
        c[m] = r[1] / r[0] ** 2
    assert c[16384] < c[256] / 2  # C ∝ 1/√m: 8× expected; 2× leaves room for the finite-n constant


def test_ggn_validates_its_inputs():
    model = net(1)
    X = torch.randn(3, 5, dtype=DT)
    with pytest.raises(ValueError, match="lr must be"):
        GramGaussNewton(model.parameters(), lr=0.0)
    with pytest.raises(ValueError, match="damping must be"):
        GramGaussNewton(model.parameters(), damping=-1.0)
    with pytest.raises(ValueError, match="exactly the model's trainable parameters"):
        GramGaussNewton(list(model.parameters())[:2], model=model)
    opt = GramGaussNewton(model.parameters(), model=model)
    with pytest.raises(ValueError, match="closure must return"):
        opt.step(lambda: model(X))
    with pytest.raises(ValueError, match="residuals must be"):
        opt.step(lambda: (model(X), torch.zeros(3, dtype=DT)), inputs=X)
    with pytest.raises(ValueError, match="inputs must be the batch"):
        opt.step(lambda: (model(X), model(X).detach()), inputs=X[:2])
    with pytest.raises(TrainingDiverged):
        opt.step(lambda: (model(X), torch.full((3, 1), float("nan"), dtype=DT)), inputs=X)


def test_smooth_wide_net_is_ntk_parametrised():
    model = smooth_wide_net(4, 100, seed=0)
    assert not model[2].weight.requires_grad
    assert torch.allclose(model[2].weight.abs(), torch.full((1, 100), 0.1, dtype=DT))
