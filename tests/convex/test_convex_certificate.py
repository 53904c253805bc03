"""The certificate: lower bound <= SDP value <= objective, tight at the SDP optimum, TRS never exceeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from netoptima.convex.certificate import CorrelationOracle, certificate
from netoptima.convex.data import planted_demo
from netoptima.convex.decomposition import neural_decomposition
from netoptima.convex.model import RELU_FIT_ACTIVATION, QuadraticActivationNet, features_np
from netoptima.convex.sdp import fit_sdp

ACT = RELU_FIT_ACTIVATION


@pytest.fixture(scope="module")
def solved():
    """Spec §3.6-style instances (N(0,1) inputs, planted neurons, β = 0.1) and their SDP optima (SCS eps 1e-10)."""
    out = []
    for seed, (n, d) in enumerate([(60, 8), (40, 5), (30, 3)]):
        X, y, _, _ = planted_demo(n, d, neurons=4, power=1, activation=ACT, seed=seed)
        res = fit_sdp(X, y, activation=ACT, beta=0.1, solver="SCS", tol=1e-10)
        out.append((X, y, res))
    return out


def test_gap_is_tiny_at_the_sdp_decoded_solution(solved):
    for X, y, res in solved:
        net = neural_decomposition(res.Z, res.Z_prime, 1e-10, activation=ACT)
        cert = certificate(net, X, y, beta=0.1)
        # SCS at eps 1e-10 leaves ~1e-9 errors in the residual, and the bound loses them linearly
        assert 0 <= cert.gap < 1e-7 or abs(cert.gap) < 1e-12
        assert cert.lower_bound <= res.value + 1e-9
        assert cert.dual_max / 0.1 == pytest.approx(1.0, abs=1e-6)  # M = β: the residual is dual feasible


@pytest.mark.parametrize("seed", range(6))
def test_lower_bound_below_sdp_value_below_objective(solved, seed):
    """Weak duality on random (far from optimal) networks of several widths."""
    X, y, res = solved[seed % len(solved)]
    gen = torch.Generator().manual_seed(seed)
    for width in (1, 3, 12):
        net = QuadraticActivationNet(X.shape[1], width, activation=ACT, generator=gen, init_scale=2.0)
        cert = certificate(net, X, y, beta=0.1)
        assert cert.lower_bound <= res.value + 1e-9 <= cert.objective + 2e-9
        assert cert.gap >= 0


def test_trs_maximum_is_never_exceeded_by_random_unit_vectors(solved):
    X, y, res = solved[0]
    net = QuadraticActivationNet(X.shape[1], 4, activation=ACT, generator=torch.Generator().manual_seed(0))
    cert = certificate(net, X, y, beta=0.1)
    v = net(torch.from_numpy(X)).detach().numpy() - y
    rng = np.random.default_rng(0)
    U = rng.standard_normal((100_000, X.shape[1]))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    corr = np.abs(features_np(X, U, ACT).T @ v)
    assert corr.max() <= cert.dual_max * (1 + 1e-12)
    u = cert.worst_neuron.numpy()
    attained = abs(features_np(X, u[None], ACT)[:, 0] @ v)
    assert attained == pytest.approx(cert.dual_max, rel=1e-10)  # and the maximiser attains it
    assert attained >= corr.max()


@pytest.mark.parametrize("reduce", [True, False])
def test_row_space_and_dead_column_reductions_are_exact(reduce):
    """n < d (row space) and zero columns (dead pixels): same max as the full d×d problem."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((6, 10))
    X[:, 3] = 0.0
    w = rng.standard_normal(6)
    full = CorrelationOracle(X, ACT, reduce=False).max_abs(w)
    red = CorrelationOracle(X, ACT, reduce=reduce).max_abs(w)
    assert red.upper == pytest.approx(full.upper, rel=1e-11)
    assert np.linalg.norm(red.u) == pytest.approx(1.0, abs=1e-12)
    assert abs(features_np(X, red.u[None], ACT)[:, 0] @ w) == pytest.approx(red.value, rel=1e-10)
    Xbig = np.vstack([X, X, X])  # n >= d with a dead column
    wb = rng.standard_normal(18)
    a = CorrelationOracle(Xbig, ACT, reduce=True)
    assert a.rank == 9
    assert a.max_abs(wb).upper == pytest.approx(CorrelationOracle(Xbig, ACT, reduce=False).max_abs(wb).upper,
                                                 rel=1e-11)


@pytest.mark.parametrize("loss", ["huber", "l1"])
def test_other_losses_give_valid_lower_bounds(solved, loss):
    X, y, _ = solved[1]
    res = fit_sdp(X, y, activation=ACT, beta=0.1, loss=loss, solver="CLARABEL", tol=1e-8)
    net = neural_decomposition(res.Z, res.Z_prime, 1e-10, activation=ACT)
    at_opt = certificate(net, X, y, beta=0.1, loss=loss)
    assert at_opt.lower_bound <= res.value + 1e-7
    if loss == "huber":  # smooth: the residual's clip is the dual optimum, so the bound is tight
        assert at_opt.relative_gap < 1e-4
    rnd = certificate(QuadraticActivationNet(X.shape[1], 3, activation=ACT), X, y, beta=0.1, loss=loss)
    assert rnd.lower_bound <= res.value + 1e-7 <= rnd.objective + 1e-7


def test_certificate_rejects_bad_input(solved):
    X, y, _ = solved[2]
    net = QuadraticActivationNet(X.shape[1], 2, activation=ACT)
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        certificate(net, X, y, beta=0.0)
    with pytest.raises(ValueError, match="does not match"):
        certificate(net, X, y, beta=0.1, activation=(1.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="X must be finite"):
        certificate(net, np.where(X > 1, np.inf, X), y, beta=0.1)
    with torch.no_grad():
        net.U.mul_(2.0)
    with pytest.raises(ValueError, match="unit norm"):
        certificate(net, X, y, beta=0.1)
