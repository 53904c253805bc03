"""Property-based tests of ``netoptima.dynamics``' public functions (issue 17)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _harness import FAST, SLOW, arrays, bad_reals, failed, finite_matrices, outcome, rejects, tensors
from hypothesis import given
from hypothesis import strategies as st

import netoptima.dynamics as dyn
from netoptima.conventions import TrainingDiverged

pytestmark = pytest.mark.usefixtures("one_thread")

METHOD = st.sampled_from(["gd", "hb", "nag", "adam", "", None])
PSD = finite_matrices(n=(1, 5), d=(1, 5), scale=2.0).map(lambda A: A @ A.T)


def _params():
    return [torch.zeros(3, requires_grad=True)]


@FAST
@given(st.one_of(st.floats(1e-6, 10.0), bad_reals(low=0.0, low_open=True)),
       st.one_of(st.floats(0.0, 0.99), bad_reals(low=0.0, high=1.0)), st.one_of(st.floats(0.1, 5.0), bad_reals(0.0)))
def test_optimizers_accept_good_and_refuse_bad_hyperparameters(lr, beta, r):
    lr_ok = isinstance(lr, float) and 0 < lr < math.inf
    beta_ok = isinstance(beta, float) and 0 <= beta < 1
    r_ok = isinstance(r, float) and 0 < r < math.inf
    for make, ok, name in ((lambda: dyn.GD(_params(), lr), lr_ok, "lr"),
                           (lambda: dyn.HeavyBall(_params(), lr, beta), lr_ok and beta_ok, None),
                           (lambda: dyn.Nesterov(_params(), lr, r), lr_ok and r_ok, None),
                           (lambda: dyn.HigherMomentum(_params(), lr, beta, beta / 2 if beta_ok else beta), lr_ok
                            and beta_ok, None)):
        opt = outcome(make)
        assert failed(opt) != ok, opt
        if failed(opt):
            assert name is None or name in str(opt)
            continue
        p = opt.param_groups[0]["params"][0]
        p.grad = torch.ones(3)
        opt.step()
        assert bool(torch.isfinite(p).all()) and float(p.detach().sum()) < 0  # a descent step on a positive gradient


@FAST
@given(METHOD, st.one_of(st.floats(1e-4, 1.0), bad_reals(low=0.0, low_open=True)),
       st.one_of(st.none(), st.floats(0.0, 0.99), bad_reals(0.0, 1.0)), st.one_of(st.none(), st.floats(0.5, 5.0)),
       st.one_of(st.none(), st.floats(-0.5, 0.5)))
def test_make_optimizer_by_name(name, lr, momentum, r, beta2):
    opt = outcome(dyn.make_optimizer, name, _params(), lr=lr, momentum=momentum, r=r, beta2=beta2)
    if name not in ("gd", "hb", "nag", "hm") or not (isinstance(lr, float) and 0 < lr < math.inf):
        assert failed(opt)
    if name == "hb" and momentum is None or name == "nag" and r is None:
        assert failed(opt)


@FAST
@given(st.one_of(PSD, arrays(max_dims=3, max_side=4)), st.one_of(arrays(max_dims=2, max_side=5),
                                                                   st.integers(1, 5).map(np.ones)),
       st.one_of(arrays(dtypes=(np.float64, np.int64), max_dims=1, max_side=5), st.just(np.linspace(0, 3, 5))),
       st.sampled_from(["gd", "hb", "nag", "x"]))
def test_closed_forms_and_integrator_agree_or_refuse(H, e0, t, method):
    kw = {"gamma": 0.7} if method == "hb" else {"r": 3.0} if method == "nag" else {}
    ref = outcome(dyn.integrate_error_ode, H, e0, t, method=method, **kw)
    steps = np.abs(np.nan_to_num(np.asarray(t, dtype=np.float64))).round()
    pred = outcome(dyn.predicted_error, method, H, e0, steps, 0.01, momentum=0.5, r=3.0)
    if failed(ref):
        return
    assert ref.shape == (np.atleast_1d(t).size, np.asarray(H).shape[0]) and np.isfinite(ref).all()
    from netoptima.dynamics.ode import gd_error, hb_error, nag_error

    closed = {"gd": gd_error, "hb": hb_error, "nag": nag_error}[method](H, e0, t, **kw)
    assert np.allclose(ref, closed, rtol=1e-6, atol=1e-6 * max(1.0, float(np.abs(e0).max())))
    if not failed(pred):
        assert pred.shape == (steps.size, ref.shape[1])


@FAST
@given(st.one_of(arrays(max_dims=2, max_side=5), PSD), st.one_of(st.floats(1e-3, 10.0), bad_reals(0.0, None, True)))
def test_kappa_hb_is_a_rate_or_an_error(eig, gamma):
    out = outcome(dyn.kappa_hb, eig, gamma)
    if not failed(out):
        assert np.isfinite(out) and 0 <= out <= gamma / 2 + 1e-12


@FAST
@given(st.sampled_from(["gd", "hb", "nag"]), PSD, st.integers(0, 20), st.floats(1e-4, 0.5),
       st.one_of(st.integers(-3, -1), st.floats(allow_nan=True), st.just(None)))
def test_linearized_error_shape_or_error(method, H, steps, lr, bad):
    e0 = np.ones(H.shape[0])
    out = dyn.linearized_error(method, H, e0, steps, lr, momentum=0.5, r=3.0)
    assert out.shape == (steps + 1, H.shape[0]) and np.array_equal(out[0], e0)
    rejects(dyn.linearized_error, method, H, e0, bad, lr, momentum=0.5, r=3.0, name="steps")
    if not (isinstance(bad, float) and 0 <= bad < float("inf")):  # a float step count is a valid time
        rejects(dyn.ode_time, bad if not isinstance(bad, int) else [bad], lr, method)


@FAST
@given(arrays(max_dims=2, max_side=6), arrays(max_dims=2, max_side=6))
def test_rate_fits_on_arbitrary_curves(t, loss):
    for fit in (dyn.fit_exponential_rate, dyn.fit_power_exponent):
        out = outcome(fit, t, loss)
        if not failed(out):
            assert np.isfinite(out)


@SLOW
@given(tensors(max_dims=3, max_side=5), tensors(max_dims=2, max_side=5), st.integers(0, 3),
       st.sampled_from(["half_sum", "mse", "l1"]))
def test_train_full_batch_on_arbitrary_data(X, y, steps, loss):
    torch.manual_seed(0)
    d = X.shape[-1] if X.ndim else 1
    model = torch.nn.Sequential(torch.nn.Linear(d, 3, dtype=torch.float64), torch.nn.Tanh(),
                                torch.nn.Linear(3, 1, dtype=torch.float64))
    out = outcome(dyn.train_full_batch, model, X, y, dyn.GD(model.parameters(), 0.01), steps=steps, loss=loss)
    if not failed(out):
        assert out.loss.shape == (steps + 1,) and np.isfinite(out.loss).all()


@SLOW
@given(tensors(dtypes=(np.float32, np.float64), min_dims=2, max_dims=2, max_side=4))
def test_theory_model_needs_finite_unit_rows(X):
    model = dyn.TwoLayerReLUNTK(X.shape[1] or 1, 4, generator=torch.Generator().manual_seed(0), dtype=X.dtype)
    out = outcome(dyn.theory_output, model, X)
    if not failed(out):
        norms = torch.linalg.vector_norm(X.double(), dim=1)
        assert bool(((norms - 1).abs() <= 1e-5).all()) and out.shape == (X.shape[0],)
    outcome(dyn.train_full_batch, model, X, torch.zeros(X.shape[0], dtype=X.dtype), dyn.GD(model.parameters(), 0.1),
            steps=1, allowed=(TrainingDiverged,))


@SLOW
@given(tensors(dtypes=(np.float64,), max_dims=3, max_side=5))
def test_row_space_mlp_on_arbitrary_inputs(X):
    model = dyn.TwoLayerMLP(X.shape[-1] if X.ndim == 2 and X.shape[-1] else 3, 4,
                            generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rs = outcome(dyn.RowSpaceMLP, model, X)
    if not failed(rs):
        assert torch.allclose(rs(X), model(X), atol=1e-8)


@FAST
@given(st.sampled_from([0, -1, 10**7]), st.sampled_from([0, -1, 10**7]))
def test_two_layer_mlp_sizes(d, width):
    rejects(dyn.TwoLayerMLP, d, width)


@FAST
@given(st.one_of(st.floats(1e-3, 1.0), bad_reals(0.0, None, True)), st.one_of(st.floats(0, 1e-3), bad_reals(0.0)))
def test_gram_gauss_newton_hyperparameters(lr, damping):
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    opt = outcome(dyn.GramGaussNewton, model.parameters(), lr, damping, model=model)
    if not (isinstance(lr, float) and 0 < lr < math.inf):
        assert failed(opt) and "lr" in str(opt)


@FAST
@given(st.floats(1e3, 1e12), st.sampled_from(["gd", "hb", "nag"]))
def test_a_stiff_ode_is_refused_not_integrated_for_hours(scale, method):
    """lambda_max · t = 1e7 used to run DOP853 for minutes (1e9: hours); now refused past MAX_ODE_WORK."""
    kw = {"gamma": 0.7} if method == "hb" else {"r": 3.0} if method == "nag" else {}
    H = np.diag([scale, 1.0])
    out = outcome(dyn.integrate_error_ode, H, np.ones(2), [0.0, 1e6 / scale * 10], method=method, **kw)
    assert failed(out) and "too stiff" in str(out)


@FAST
@given(st.sampled_from([10**12, 10**15]), st.sampled_from([1e300, 1e200]))
def test_huge_step_counts_are_refused(steps, lr):
    rejects(dyn.linearized_error, "gd", np.eye(2), np.ones(2), steps, 0.1, name="GiB")
    rejects(dyn.ode_time, 1e10 * (1e308 / lr), lr, "gd", name="overflows")  # steps × lr = 1e318
