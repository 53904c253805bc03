"""Optimizers against PyTorch's SGD (the notebook's) and an independent two-pole filter; training loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from netoptima.conventions import TrainingDiverged
from netoptima.dynamics import GD, HeavyBall, HigherMomentum, Nesterov, train_full_batch
from netoptima.dynamics.train import fit_exponential_rate, fit_power_exponent

pytestmark = pytest.mark.usefixtures("one_thread")

DT = torch.float64


def problem(seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16, dtype=DT), nn.Tanh(), nn.Linear(16, 1, dtype=DT))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=DT) * 0.5)
    return model, torch.randn(10, 4, generator=g, dtype=DT), torch.randn(10, generator=g, dtype=DT)


def trajectory(model: nn.Module, X: torch.Tensor, y: torch.Tensor, opt: torch.optim.Optimizer, steps: int,
               before_step=None) -> list[torch.Tensor]:
    out = []
    for k in range(1, steps + 1):
        if before_step is not None:
            before_step(opt, k)
        opt.zero_grad()
        ((model(X).squeeze(-1) - y) ** 2).mean().backward()
        opt.step()
        out.append(torch.cat([p.detach().reshape(-1).clone() for p in model.parameters()]))
    return out


def assert_same_path(a: list[torch.Tensor], b: list[torch.Tensor]) -> None:
    # same arithmetic up to operation order: float64 rounding, ~1e-15 relative per step over 30 steps
    assert max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True)) < 1e-12


def test_gd_and_heavy_ball_equal_torch_sgd():
    for ours, ref in [(lambda p: GD(p, 0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
                      (lambda p: HeavyBall(p, 0.1, 0.8), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.8))]:
        m1, X, y = problem()
        m2, _, _ = problem()
        assert_same_path(trajectory(m1, X, y, ours(m1.parameters()), 30),
                         trajectory(m2, X, y, ref(m2.parameters()), 30))


@pytest.mark.parametrize("r", [2.0, 3.0, 10.0])
def test_nesterov_equals_the_notebooks_sgd_with_momentum_reset_every_epoch(r):
    def reset(opt, epoch):  # the notebook: param_group['momentum'] = (epoch-1)/(epoch+nesterov_r-1)
        for group in opt.param_groups:
            group["momentum"] = (epoch - 1) / (epoch + r - 1)

    m1, X, y = problem(1)
    m2, _, _ = problem(1)
    ref = torch.optim.SGD(m2.parameters(), lr=0.05, momentum=r / 10, nesterov=True)
    assert_same_path(trajectory(m1, X, y, Nesterov(m1.parameters(), 0.05, r), 30),
                     trajectory(m2, X, y, ref, 30, before_step=reset))


def test_nesterov_restart_starts_the_schedule_again():
    m1, X, y = problem(2)
    opt = Nesterov(m1.parameters(), 0.05, 3.0)
    trajectory(m1, X, y, opt, 5)
    assert opt.momentum() == pytest.approx(5 / 8)  # next step k = 6: (6 − 1)/(6 + 3 − 1)
    opt.restart()
    assert opt.momentum() == 0.0
    m2, _, _ = problem(2)
    m2.load_state_dict(m1.state_dict())
    fresh = Nesterov(m2.parameters(), 0.05, 3.0)
    assert_same_path(trajectory(m1, X, y, opt, 10), trajectory(m2, X, y, fresh, 10))


def test_higher_momentum_equals_the_two_pole_filter():
    b1, b2, lr = 0.2, 0.5, 0.05
    # the notebook's form: poles a, b of z² − β1 z − β2, two chained one-pole buffers (started from rest)
    a = (b1 + math.sqrt(b1 * b1 + 4 * b2)) / 2
    b = (b1 - math.sqrt(b1 * b1 + 4 * b2)) / 2
    m1, X, y = problem(3)
    m2, _, _ = problem(3)
    ours = trajectory(m1, X, y, HigherMomentum(m1.parameters(), lr, b1, b2), 30)
    params = list(m2.parameters())
    q = [torch.zeros_like(p) for p in params]
    buf = [torch.zeros_like(p) for p in params]
    ref = []
    for _ in range(30):
        for p in params:
            p.grad = None
        ((m2(X).squeeze(-1) - y) ** 2).mean().backward()
        with torch.no_grad():
            for p, qi, bi in zip(params, q, buf, strict=True):
                qi.mul_(b).add_(p.grad)
                bi.mul_(a).add_(qi)
                p.add_(bi, alpha=-lr)
        ref.append(torch.cat([p.detach().reshape(-1).clone() for p in params]))
    assert_same_path(ours, ref)


@pytest.mark.parametrize(("make", "match"), [
    (lambda p: GD(p, 0.0), "lr must be"),
    (lambda p: GD(p, -1e-3), "lr must be"),
    (lambda p: HeavyBall(p, 0.1, 1.0), r"momentum must be a finite number in \[0, 1\)"),
    (lambda p: HeavyBall(p, 0.1, -0.5), "momentum must be"),
    (lambda p: Nesterov(p, 0.1, 0.0), "r must be"),
    (lambda p: Nesterov(p, 0.1, -2), "r must be"),
    (lambda p: HigherMomentum(p, 0.1, 0.2, 1.5), "beta2 must be"),
])
def test_bad_hyperparameters_are_rejected(make, match):
    model, _, _ = problem()
    with pytest.raises(ValueError, match=match):
        make(model.parameters())


def test_train_full_batch_records_losses_and_raises_on_divergence():
    model, X, y = problem(4)
    out = train_full_batch(model, X, y, HeavyBall(model.parameters(), 0.05, 0.5), steps=20, record_errors=True)
    assert out.loss.shape == (21,) and out.errors.shape == (21, 10)
    assert np.allclose(out.loss, 0.5 * (out.errors ** 2).sum(1), rtol=1e-12)
    mse = train_full_batch(model, X, y, GD(model.parameters(), 0.05), steps=0, loss="mse")
    assert mse.loss.shape == (1,) and mse.errors.shape == (2, 10)
    model, X, y = problem(5)
    with pytest.raises(TrainingDiverged) as info:
        train_full_batch(model, X, y * 1e3, GD(model.parameters(), 50.0), steps=200)
    assert info.value.lr == 50.0 and info.value.step > 0
    with pytest.raises(ValueError, match="steps must be"):
        train_full_batch(model, X, y, GD(model.parameters(), 0.1), steps=-1)


def test_rate_fits_recover_known_rates():
    t = np.linspace(1, 50, 200)
    assert fit_exponential_rate(t, 3 * np.exp(-0.37 * t)) == pytest.approx(0.37, rel=1e-10)
    assert fit_power_exponent(t, 2 * t ** -4.2) == pytest.approx(-4.2, rel=1e-10)
    with pytest.raises(ValueError, match="at least two points"):
        fit_exponential_rate([1.0, 2.0], [0.0, -1.0])
