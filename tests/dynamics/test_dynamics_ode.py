"""Limiting ODEs (dynamics.md §1.3): closed forms against numerical integration, rates, time map, recursion."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from netoptima.dynamics import GD, HeavyBall, Nesterov
from netoptima.dynamics.ode import (
    discretization_gap,
    gd_error,
    hb_error,
    hb_gamma,
    integrate_error_ode,
    kappa_hb,
    linearized_error,
    loss_of_error,
    nag_error,
    nag_momentum,
    ode_time,
    predicted_error,
)
from netoptima.dynamics.train import fit_exponential_rate, fit_power_exponent
from netoptima.ntk import relu_ntk_infinite, unit_normalize

pytestmark = pytest.mark.usefixtures("one_thread")


def kernel(n: int = 7, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """H∞ of random unit-norm inputs (the arccos kernel: PSD, λ0 > 0) and a random e0."""
    g = torch.Generator().manual_seed(seed)
    X = unit_normalize(torch.randn(n, 5, generator=g, dtype=torch.float64))
    rng = np.random.default_rng(seed)
    return relu_ntk_infinite(X).numpy(), rng.normal(size=n)


T = np.linspace(0.0, 40.0, 161)


# Closed forms agree with DOP853 at rtol 1e-12 up to the integrator's global error; 1e-8 of ‖e0‖_∞ leaves
# two orders of margin over the largest error seen (2.5e-10, the stiff overdamped case).
@pytest.mark.parametrize("gamma_factor", [0.3, 1.0, 3.0, 10.0])  # under-, critically, over-damped slowest mode
def test_hb_closed_form_matches_integration(gamma_factor):
    H, e0 = kernel()
    lam0 = np.linalg.eigvalsh(H)[0]
    gamma = gamma_factor * 2 * math.sqrt(lam0)
    ref = integrate_error_ode(H, e0, T, method="hb", gamma=gamma)
    assert np.abs(hb_error(H, e0, T, gamma=gamma) - ref).max() <= 1e-8 * np.abs(e0).max()


@pytest.mark.parametrize("r", [1.0, 2.0, 3.0, 6.0, 8.0])
def test_nag_bessel_closed_form_matches_integration(r):
    H, e0 = kernel(seed=1)
    ref = integrate_error_ode(H, e0, T, method="nag", r=r)
    assert np.abs(nag_error(H, e0, T, r=r) - ref).max() <= 1e-8 * np.abs(e0).max()


def test_gd_closed_form_matches_integration_and_expm():
    from scipy.linalg import expm

    H, e0 = kernel(seed=2)
    ref = integrate_error_ode(H, e0, T, method="gd")
    cf = gd_error(H, e0, T)
    assert np.abs(cf - ref).max() <= 1e-8 * np.abs(e0).max()
    assert np.allclose(cf[37], expm(-H * T[37]) @ e0, rtol=0, atol=1e-12)


def test_closed_forms_start_at_e0_at_rest():
    H, e0 = kernel(seed=3)
    t = np.array([0.0, 1e-7])
    for e in (gd_error(H, e0, t), hb_error(H, e0, t, gamma=0.7), nag_error(H, e0, t, r=3)):
        assert np.allclose(e[0], e0, atol=1e-15)
        assert np.abs(e[1] - e0).max() < 1e-6  # ė(0) = 0 for HB/NAG, |He0|·1e-7 for GD


def test_kappa_hb_regimes():
    lam = np.array([0.04, 0.5, 2.0])
    assert kappa_hb(lam, 0.3) == pytest.approx(0.15)  # γ ≤ 2√λ0: every mode underdamped, κ = γ/2
    g = 1.0  # > 2√λ0 = 0.4: the slowest mode is overdamped
    expected = (g - math.sqrt(g * g - 4 * 0.04)) / 2
    assert kappa_hb(lam, g) == pytest.approx(expected, rel=1e-12)
    assert 0.04 / g < expected < 2 * 0.04 / g  # the bracket of dynamics.md §1.3
    H, _ = kernel()
    assert kappa_hb(H, 0.3) == pytest.approx(kappa_hb(np.linalg.eigvalsh(H), 0.3))


def test_hb_and_gd_decay_at_their_predicted_rates():
    H, e0 = kernel(seed=4)
    lam0 = np.linalg.eigvalsh(H)[0]
    t = np.linspace(0, 60 / math.sqrt(lam0), 3000)
    for gamma in (0.5 * math.sqrt(lam0), 6 * math.sqrt(lam0)):  # underdamped and overdamped
        late = t > t[-1] / 2
        rate = fit_exponential_rate(t[late], loss_of_error(hb_error(H, e0, t, gamma=gamma))[late])
        assert rate == pytest.approx(2 * kappa_hb(H, gamma), rel=0.05)  # oscillation wiggles the fit a little
    rate = fit_exponential_rate(t[late], loss_of_error(gd_error(H, e0, t))[late])
    assert rate == pytest.approx(2 * lam0, rel=0.01)


@pytest.mark.parametrize("r", [2.0, 3.0, 6.0])
def test_nag_loss_envelope_decays_like_t_minus_r(r):
    # a single mode: the loss oscillates under the envelope Γ(ν+1)²(2/z)^{2ν}·2/(πz) ∝ t^{−r}; fit the peaks
    H, e0 = np.array([[1.0]]), np.array([1.0])
    t = np.linspace(20, 400, 40001)
    loss = loss_of_error(nag_error(H, e0, t, r=r))
    peaks = np.flatnonzero((loss[1:-1] > loss[:-2]) & (loss[1:-1] > loss[2:])) + 1
    assert fit_power_exponent(t[peaks], loss[peaks]) == pytest.approx(-r, abs=0.05)


def test_time_map_and_hyperparameters():
    assert np.allclose(ode_time([0, 1, 10], 0.04, "gd"), [0, 0.04, 0.4])
    assert np.allclose(ode_time([0, 1, 10], 0.04, "hb"), [0, 0.2, 2.0])
    assert np.allclose(ode_time(10, 0.04, "nag"), 2.0)
    assert hb_gamma(0.04, 0.9) == pytest.approx(0.5)
    assert [nag_momentum(k, 3) for k in (1, 2, 3)] == [0, pytest.approx(1 / 4), pytest.approx(2 / 5)]


def linear_model_errors(method: str, H_root: torch.Tensor, e0: torch.Tensor, steps: int, lr: float,
                        **hp: float) -> np.ndarray:
    """Independent oracle: train w on the linear model u = J w (J Jᵀ = H) with the torch optimizers."""
    n, p = H_root.shape
    w = torch.zeros(p, dtype=torch.float64, requires_grad=True)
    y = -e0  # u(0) = 0, so e0 = −y
    opt = {"gd": lambda: GD([w], lr), "hb": lambda: HeavyBall([w], lr, hp["momentum"]),
           "nag": lambda: Nesterov([w], lr, hp["r"])}[method]()
    out = []
    for k in range(steps + 1):
        opt.zero_grad()
        e = H_root @ w - y
        out.append(e.detach().numpy().copy())
        if k < steps:
            (0.5 * (e * e).sum()).backward()
            opt.step()
    return np.array(out)


@pytest.mark.parametrize(("method", "hp"), [("gd", {}), ("hb", {"momentum": 0.8}), ("nag", {"r": 3.0})])
def test_linearized_recursion_equals_optimizers_on_a_linear_model(method, hp):
    g = torch.Generator().manual_seed(5)
    J = torch.randn(6, 20, generator=g, dtype=torch.float64) / math.sqrt(20)
    e0 = torch.randn(6, generator=g, dtype=torch.float64)
    H = (J @ J.T).numpy()
    ref = linear_model_errors(method, J, e0, 40, 0.3, **hp)
    assert np.abs(linearized_error(method, H, e0.numpy(), 40, 0.3, **hp) - ref).max() < 1e-12


def test_discretization_gap_vanishes_at_the_time_map_order():
    H, e0 = kernel(seed=6)
    lam0, lam_max = np.linalg.eigvalsh(H)[[0, -1]]
    for method, lr, hp, order in [("gd", 0.5 / lam_max, {}, 1.0), ("nag", 0.2 / lam_max, {"r": 3}, 0.5)]:
        gaps = [discretization_gap(method, H, e0, lr * f, 20 / math.sqrt(lam0), **hp) for f in (1, 1 / 16)]
        assert math.log(gaps[0] / gaps[1]) / math.log(16) == pytest.approx(order, abs=0.15)
    gamma = hb_gamma(0.05, 0.9)  # HB: fixed friction, β = 1 − γ√η
    gaps = [discretization_gap("hb", H, e0, lr, 20 / math.sqrt(lam0), momentum=1 - gamma * math.sqrt(lr))
            for lr in (0.05, 0.05 / 16)]
    assert math.log(gaps[0] / gaps[1]) / math.log(16) == pytest.approx(0.5, abs=0.15)


def test_predicted_error_uses_the_time_map():
    H, e0 = kernel(seed=7)
    k = np.arange(5)
    assert np.allclose(predicted_error("hb", H, e0, k, 0.04, momentum=0.9),
                       hb_error(H, e0, 0.2 * k, gamma=0.5))
    assert np.allclose(predicted_error("gd", H, e0, k, 0.04), gd_error(H, e0, 0.04 * k))


@pytest.mark.parametrize(("call", "match"), [
    (lambda H, e: ode_time(3, 0.0, "gd"), "lr must be"),
    (lambda H, e: ode_time(3, 0.1, "adam"), "method must be one of"),
    (lambda H, e: hb_gamma(0.1, 1.0), r"momentum must be in \[0, 1\)"),
    (lambda H, e: hb_gamma(0.1, -0.1), "momentum must be"),
    (lambda H, e: nag_error(H, e, [1.0], r=0), "r must be"),
    (lambda H, e: hb_error(H, e, [1.0], gamma=-1), "gamma must be"),
    (lambda H, e: gd_error(H[:2], e, [1.0]), "H must be a square"),
    (lambda H, e: gd_error(H, e[:3], [1.0]), "e0 must be a finite vector of length"),
    (lambda H, e: gd_error(H, e, [-1.0]), "t must be"),
    (lambda H, e: gd_error(-H, e, [1.0]), "positive semi-definite"),
    (lambda H, e: predicted_error("nag", H, e, [1], 0.1), "needs r"),
    (lambda H, e: linearized_error("hb", H, e, 3, 0.1), "needs momentum"),
    (lambda H, e: integrate_error_ode(H, e, [1.0], method="hb"), "needs gamma"),
])
def test_bad_inputs_are_rejected_with_the_argument_named(call, match):
    H, e0 = kernel()
    with pytest.raises(ValueError, match=match):
        call(H, e0)
