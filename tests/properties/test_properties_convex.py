"""Property-based tests of ``netoptima.convex``' public functions (issue 17)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _harness import FAST, SLOW, arrays, bad_ints, bad_reals, failed, finite_matrices, outcome, poison, rejects
from hypothesis import given
from hypothesis import strategies as st

import netoptima.convex as cx
from netoptima.conventions import TrainingDiverged

pytestmark = pytest.mark.usefixtures("one_thread")

ACT = cx.RELU_FIT_ACTIVATION
ACTS = st.one_of(st.sampled_from([ACT, cx.PAPER_ACTIVATION, (1.0, 0.0, 0.0)]),
                 st.sampled_from([(0, 0, 0), (1.0, 2.0), "abc", None, (np.nan, 0, 0), (1, "x", 0), torch.ones(3)]))
LOSS = st.sampled_from(["squared", "l1", "huber", "hinge", None])


def _net(d, width=3, seed=0):
    return cx.QuadraticActivationNet(d, width, activation=ACT, generator=torch.Generator().manual_seed(seed))


@FAST
@given(st.one_of(st.integers(1, 5), bad_ints(low=1)), st.one_of(st.integers(0, 5), bad_ints(low=0)), ACTS,
       st.one_of(st.floats(0.1, 3.0), bad_reals(0.0, None, True)),
       st.sampled_from([torch.float64, torch.float32, torch.int64, None]))
def test_net_constructor_unit_neurons_or_an_error(d, width, act, init_scale, dtype):
    net = outcome(cx.QuadraticActivationNet, d, width, activation=act, init_scale=init_scale, dtype=dtype)
    if failed(net):
        return
    assert net.U.shape == (width, d) and net.alpha.shape == (width,) and net.max_norm_error() < 1e-6


@FAST
@given(st.one_of(finite_matrices(n=(1, 6), d=(3, 3)), arrays(max_dims=3, max_side=5)),
       st.one_of(arrays(max_dims=2, max_side=6), st.integers(1, 6).map(np.ones)),
       st.one_of(st.floats(1e-3, 10.0), bad_reals(0.0, None, True)), LOSS,
       st.one_of(st.floats(0.1, 3.0), bad_reals(0.0, None, True)))
def test_objective_and_certificate_on_arbitrary_data(X, y, beta, loss, delta):
    net = _net(3)
    obj = outcome(cx.objective, net, X, y, beta=beta, loss=loss, delta=delta)
    cert = outcome(cx.certificate, net, X, y, beta=beta, loss=loss, delta=delta)
    assert failed(obj) == failed(cert), (obj, cert)
    if failed(obj):
        return
    assert np.isfinite(obj) and obj >= 0
    assert cert.objective == pytest.approx(obj, rel=1e-9, abs=1e-12)
    assert cert.lower_bound <= cert.objective + 1e-7 * max(1.0, abs(cert.objective)) and cert.gap >= -1e-7


@FAST
@given(finite_matrices(n=(2, 6), d=(3, 3)), st.sampled_from([np.nan, np.inf, -np.inf]), st.integers(0, 100),
       st.sampled_from(["U", "alpha"]))
def test_non_finite_weights_or_data_are_named(X, value, where, which):
    y = np.ones(X.shape[0])
    rejects(cx.objective, _net(3), poison(X, value, where), y, beta=1.0, name="X")
    rejects(cx.certificate, _net(3), X, poison(y, value, where), beta=1.0, name="y")
    net = _net(3)
    with torch.no_grad():
        getattr(net, which).view(-1)[where % getattr(net, which).numel()] = value
    rejects(cx.certificate, net, X, y, beta=1.0, name="finite")


@SLOW
@given(finite_matrices(n=(2, 8), d=(1, 3), scale=2.0), st.sampled_from(["adam", "sgd", "lbfgs"]),
       st.one_of(st.floats(1e-3, 0.1), bad_reals(0.0, None, True)), st.one_of(st.integers(1, 30), bad_ints(low=1)),
       st.one_of(st.integers(1, 4), bad_ints(low=0)), st.one_of(st.none(), st.integers(-1, 10)))
def test_fit_backprop_projected_result_or_an_error(X, optimizer, lr, steps, width, batch_size):
    y = np.sin(X.sum(1))
    res = outcome(cx.fit_backprop, X, y, activation=ACT, beta=0.1, width=width, optimizer=optimizer, lr=lr,
                  steps=steps, batch_size=batch_size, record_every=5, allowed=(TrainingDiverged,))
    if failed(res):
        return
    assert res.net.U.shape == (width, X.shape[1]) and res.net.max_norm_error() < 1e-6
    assert np.isfinite(res.objectives).all()
    assert res.objectives[-1] == pytest.approx(cx.objective(res.net, X, y, beta=0.1), rel=1e-6)


@SLOW
@given(finite_matrices(n=(3, 8), d=(1, 3), scale=2.0), st.one_of(st.floats(0.05, 2.0), bad_reals(0.0, None, True)))
def test_fit_global_is_certified_or_an_error(X, beta):
    y = np.cos(X.sum(1))
    res = outcome(cx.fit_global, X, y, activation=ACT, beta=beta, tol=1e-5, max_iter=60, polish_steps=30)
    if failed(res):
        return
    assert res.certificate.gap >= -1e-7 and res.net.max_norm_error() < 1e-6
    if res.converged:
        assert res.certificate.relative_gap <= 1e-5 + 1e-9


@SLOW
@given(finite_matrices(n=(3, 6), d=(1, 2), scale=2.0), st.one_of(st.floats(0.05, 2.0), bad_reals(0.0, None, True)),
       LOSS)
def test_fit_sdp_and_decomposition_match(X, beta, loss):
    pytest.importorskip("cvxpy")
    y = np.cos(X.sum(1))
    res = outcome(cx.fit_sdp, X, y, activation=ACT, beta=beta, loss=loss, allowed=(cx.SolverFailed,))
    if failed(res):
        return
    net = cx.neural_decomposition(res.Z, res.Z_prime, activation=ACT)
    assert cx.objective(net, X, y, beta=beta, loss=loss) == pytest.approx(res.value, rel=1e-3, abs=1e-4)


@FAST
@given(arrays(max_dims=3, max_side=4), arrays(max_dims=3, max_side=4), st.one_of(st.floats(0, 1e-3), bad_reals(0.0)),
       ACTS)
def test_neural_decomposition_of_arbitrary_blocks(Z, Zp, tol, act):
    outcome(cx.neural_decomposition, Z, Zp, tol, activation=act)


def test_sdp_lift_too_large_is_named():
    X = np.ones((3, 200))
    with pytest.raises(cx.LiftedProblemTooLarge):
        cx.fit_sdp(X, np.ones(3), activation=ACT, beta=1.0)


@FAST
@given(st.one_of(st.integers(1, 50), bad_ints(low=1)), st.one_of(st.integers(1, 6), bad_ints(low=1)),
       st.one_of(st.integers(0, 4), bad_ints(low=0)), st.one_of(st.floats(0, 1), bad_reals(0.0)),
       st.one_of(st.integers(1, 4), bad_ints(low=1)), ACTS)
def test_planted_demo_shapes_or_an_error(n, d, neurons, noise, power, act):
    out = outcome(cx.planted_demo, n, d, neurons=neurons, noise=noise, power=power, activation=act)
    if not failed(out):
        X, y, U, a = out
        assert X.shape == (n, d) and y.shape == (n,) and U.shape == (neurons, d) and a.shape == (neurons,)
        assert np.isfinite(y).all() or power > 2


@FAST
@given(finite_matrices(n=(1, 4), d=(2, 2)))
def test_predict_one_vs_all_is_a_label_per_row(X):
    good = {0: _net(2, seed=0), 1: _net(2, seed=1)}
    pred = cx.predict_one_vs_all(good, X)
    assert pred.shape == (X.shape[0],) and set(pred.tolist()) <= {0, 1}


@pytest.mark.parametrize("nets", [None, 3, np.ones(3), {}, {0: "net"}, "three"])
def test_predict_one_vs_all_on_bad_nets(nets):
    rejects(cx.predict_one_vs_all, nets, np.ones((2, 2)), name="nets")


def test_predict_one_vs_all_with_a_net_of_another_dimension():
    rejects(cx.predict_one_vs_all, {0: _net(3)}, np.ones((2, 2)), name="input dimension d = 3")


def test_save_load_round_trip_and_bad_paths(tmp_path):
    net = _net(3)
    back = cx.load_net(cx.save_net(net, tmp_path / "n.pt"))
    assert torch.equal(back.U, net.U)
    rejects(cx.load_net, tmp_path / "missing.pt", name="does not exist")
    rejects(cx.load_net, tmp_path, name="cannot read")


@FAST
@given(st.sampled_from([(10**9, 10**3, 5), (10, 10, 10**12), (10**7, 10**4, 0)]))
def test_planted_demo_refuses_sizes_beyond_memory(sizes):
    n, d, neurons = sizes
    rejects(cx.planted_demo, n, d, neurons=neurons, name="GiB")
    rejects(cx.QuadraticActivationNet, d * 10**4, n * 10**4, name="GiB")
