"""The SDP lift, the forward map net → (Z, Z′), neural decomposition and its round trip, fit_sdp's errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from netoptima.convex.data import planted_demo
from netoptima.convex.decomposition import neural_decomposition, rank_one_decomposition, rank_one_decomposition_factor
from netoptima.convex.model import RELU_FIT_ACTIVATION, QuadraticActivationNet, objective
from netoptima.convex.sdp import (
    LiftedProblemTooLarge,
    SolverFailed,
    fit_sdp,
    lift,
    lifted_objective,
    lifted_predictions,
)

ACT = RELU_FIT_ACTIVATION
G = lambda d: np.diag(np.r_[np.ones(d), -1.0])  # noqa: E731


def _net(d: int, m: int, seed: int) -> QuadraticActivationNet:
    return QuadraticActivationNet(d, m, activation=ACT, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("seed", range(5))
def test_lift_is_feasible_and_preserves_predictions_and_objective(seed):
    net = _net(4, 7, seed)
    X, y, _, _ = planted_demo(15, 4, neurons=2, power=1, activation=ACT, seed=seed)
    Z, Zp = lift(net)
    for M in (Z, Zp):
        assert np.linalg.eigvalsh(M).min() > -1e-12  # PSD
        assert abs(np.trace(M[:-1, :-1]) - M[-1, -1]) < 1e-12  # tr(Z1) = Z4
    pred = net(torch.from_numpy(X)).detach().numpy()
    assert np.allclose(lifted_predictions(Z, Zp, X, ACT), pred, atol=1e-12)
    assert lifted_objective(Z, Zp, X, y, activation=ACT, beta=0.3) == pytest.approx(
        objective(net, X, y, beta=0.3), rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_rank_one_decomposition_reconstructs_and_is_g_orthogonal(seed):
    """Spec §3.2 check: random feasible Z from unit neurons, error ~1e-15."""
    d, m = 5, 4 + seed
    Z, _ = lift(QuadraticActivationNet.from_neurons(np.random.default_rng(seed).standard_normal((m, d)),
                                                     np.abs(np.random.default_rng(seed + 9).standard_normal(m)),
                                                     activation=ACT))
    Y = rank_one_decomposition(Z, 1e-12)
    assert Y.shape[0] == np.linalg.matrix_rank(Z, tol=1e-10) <= d + 1
    assert np.abs(Y.T @ Y - Z).max() < 1e-12 * max(1.0, np.abs(Z).max())
    assert np.abs(np.einsum("ij,jk,ik->i", Y, G(d), Y)).max() < 1e-12 * max(1.0, np.abs(Z).max())


@pytest.mark.parametrize(("d", "m"), [(5, 3), (5, 9), (40, 6)])
def test_rank_one_decomposition_from_a_factor_matches_the_lift(d, m):
    # the factor path (thin SVD of Y, issue 16) against the explicit Z = Y Yᵀ: the same Z back, each term on the
    # cone y ᵀG y = 0, and the same number of terms as the eigendecomposition path keeps (m > d + 1: rank d + 1)
    rng = np.random.default_rng(d + m)
    U = rng.standard_normal((m, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    r = np.sqrt(rng.uniform(0.2, 2.0, m))
    Y = np.concatenate([U.T * r, r[None, :]], axis=0)  # (d+1, m), columns √α_j [u_j; 1]
    Z = Y @ Y.T
    R = rank_one_decomposition_factor(Y, 1e-12)
    assert R.shape[0] == rank_one_decomposition(Z, 1e-12).shape[0] == min(m, d + 1)
    assert np.abs(R.T @ R - Z).max() < 1e-12 * np.abs(Z).max()
    assert np.abs(np.einsum("ij,jk,ik->i", R, G(d), R)).max() < 1e-12 * np.abs(Z).max()


@pytest.mark.parametrize("seed", range(5))
def test_round_trip_network_to_sdp_point_to_network(seed):
    d = 3
    net = _net(d, 11, seed)  # wider than d + 1 per sign: the decomposition must compress it
    X, y, _, _ = planted_demo(20, d, neurons=2, power=1, activation=ACT, seed=seed)
    Z, Zp = lift(net)
    back = neural_decomposition(Z, Zp, 1e-12, activation=ACT)
    assert back.width <= 2 * (d + 1)
    assert back.max_norm_error() < 1e-12
    Xt = torch.from_numpy(X)
    assert torch.allclose(back(Xt), net(Xt), atol=1e-11)
    assert objective(back, X, y, beta=0.2) == pytest.approx(objective(net, X, y, beta=0.2), rel=1e-11)
    Z2, Zp2 = lift(back)
    assert np.abs(Z2 - Z).max() < 1e-11 and np.abs(Zp2 - Zp).max() < 1e-11


@pytest.fixture(scope="module")
def small_instance():
    X, y, _, _ = planted_demo(30, 4, neurons=3, power=1, activation=ACT, seed=5)
    return X, y


@pytest.mark.parametrize("loss", ["squared", "l1", "huber"])
def test_sdp_optimum_is_attained_by_the_decoded_net(small_instance, loss):
    X, y = small_instance
    res = fit_sdp(X, y, activation=ACT, beta=0.1, loss=loss, solver="CLARABEL", tol=1e-8)
    assert res.status == "optimal" and res.solve_time > 0
    net = neural_decomposition(res.Z, res.Z_prime, 1e-10, activation=ACT)
    assert net.width <= 2 * (4 + 1)
    # an interior-point solution is feasible to ~1e-9: the decoded objective matches the value to ~1e-8
    assert objective(net, X, y, beta=0.1, loss=loss) == pytest.approx(res.value, rel=1e-6)
    assert lifted_objective(res.Z, res.Z_prime, X, y, activation=ACT, beta=0.1, loss=loss) == pytest.approx(
        res.value, rel=1e-6)


def test_scs_and_clarabel_agree(small_instance):
    X, y = small_instance
    a = fit_sdp(X, y, activation=ACT, beta=0.1, solver="SCS", tol=1e-9)
    b = fit_sdp(X, y, activation=ACT, beta=0.1, solver="CLARABEL", tol=1e-8)
    assert a.value == pytest.approx(b.value, rel=1e-6)
    assert a.solver == "SCS" and b.solver == "CLARABEL"


def test_sdp_beats_every_network_it_can_represent(small_instance):
    X, y = small_instance
    res = fit_sdp(X, y, activation=ACT, beta=0.1, solver="CLARABEL", tol=1e-9)
    for seed in range(10):
        assert objective(_net(4, 6, seed), X, y, beta=0.1) >= res.value - 1e-7


def test_lifted_problem_too_large_is_refused_up_front():
    X = np.zeros((5, 784))
    X[:, 0] = 1.0
    with pytest.raises(LiftedProblemTooLarge, match=r"615,441.*fit_global"):
        fit_sdp(X, np.ones(5), activation=ACT, beta=1.0)
    assert issubclass(LiftedProblemTooLarge, ValueError)


def test_non_optimal_status_is_named(small_instance):
    X, y = small_instance
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SolverFailed, match=r"SCS ended with status '[a-z_]+'"):
            fit_sdp(X, y, activation=ACT, beta=0.1, solver="SCS", tol=1e-12, max_iters=3)


@pytest.mark.parametrize("kwargs, match", [
    ({"beta": 0.0}, "beta must be a finite number > 0"),
    ({"beta": 0.1, "solver": "MOSEK"}, "solver must be one of"),
    ({"beta": 0.1, "tol": -1.0}, "tol must be a finite number > 0"),
])
def test_fit_sdp_bad_arguments(small_instance, kwargs, match):
    X, y = small_instance
    with pytest.raises(ValueError, match=match):
        fit_sdp(X, y, activation=ACT, **kwargs)


def test_fit_sdp_bad_data():
    with pytest.raises(ValueError, match="X must be finite"):
        fit_sdp(np.array([[np.nan, 1.0]]), np.ones(1), activation=ACT, beta=0.1)
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        fit_sdp(np.ones((2, 2)), np.ones(3), activation=ACT, beta=0.1)
