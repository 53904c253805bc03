"""fit_global (column generation + exact TRS oracle) against the SDP; its Lasso, polish and compression."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse

from netoptima.convex.data import planted_demo
from netoptima.convex.model import RELU_FIT_ACTIVATION, features_np, objective
from netoptima.convex.sdp import fit_sdp
from netoptima.convex.solver import (
    compress,
    fit_global,
    fit_one_vs_all,
    lasso,
    polish,
    polish_objective,
    predict_one_vs_all,
)

ACT = RELU_FIT_ACTIVATION


@pytest.mark.parametrize("seed, n, d", [(0, 60, 8), (1, 40, 5)])
def test_fit_global_reaches_the_sdp_optimum_with_a_certificate(seed, n, d):
    X, y, _, _ = planted_demo(n, d, neurons=4, power=1, activation=ACT, seed=seed)
    sdp = fit_sdp(X, y, activation=ACT, beta=0.1, solver="SCS", tol=1e-10)
    res = fit_global(X, y, activation=ACT, beta=0.1, tol=1e-7, max_iter=200, polish_steps=100)
    assert res.converged, res.history[-1]
    cert = res.certificate
    assert cert.lower_bound <= sdp.value + 1e-9  # SCS's value is itself within ~1e-10 of the optimum
    assert cert.objective == pytest.approx(sdp.value, rel=1e-7)
    assert objective(res.net, X, y, beta=0.1) == pytest.approx(cert.objective, rel=1e-12)
    assert res.net.width <= 2 * (d + 1)
    gaps = [h["relative_gap"] for h in res.history]
    assert gaps[0] > 0.5 and gaps[-1] <= 1e-7


def test_fit_global_huber_matches_the_sdp():
    X, y, _, _ = planted_demo(40, 4, neurons=3, power=1, activation=ACT, seed=3)
    sdp = fit_sdp(X, y, activation=ACT, beta=0.1, loss="huber", delta=0.5, solver="CLARABEL", tol=1e-8)
    res = fit_global(X, y, activation=ACT, beta=0.1, loss="huber", delta=0.5, tol=1e-6, max_iter=200,
                     polish_steps=100)
    assert res.converged
    assert res.certificate.objective == pytest.approx(sdp.value, rel=1e-6)


def _lasso_reference(A, y, beta, signs):
    """Independent slow route: L-BFGS-B on γ >= 0 to high accuracy."""
    AS = A * signs

    def fg(g):
        r = AS @ g - y
        return 0.5 * r @ r + beta * g.sum(), AS.T @ r + beta

    res = scipy.optimize.minimize(fg, np.zeros(A.shape[1]), jac=True, method="L-BFGS-B",
                                  bounds=[(0, None)] * A.shape[1], options={"ftol": 1e-16, "gtol": 1e-12,
                                                                            "maxiter": 20_000})
    return signs * res.x, res.fun


@pytest.mark.parametrize("seed", range(5))
def test_sign_constrained_lasso_matches_a_reference(seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((30, 8))
    A[:, 7] = A[:, 6] + 1e-3 * rng.standard_normal(30)  # nearly collinear columns, as from nearby neurons
    y = rng.standard_normal(30)
    signs = rng.choice([-1.0, 1.0], 8)
    alpha = lasso(A, y, 0.5, signs=signs)
    ref, fref = _lasso_reference(A, y, 0.5, signs)
    f = 0.5 * np.sum((A @ alpha - y) ** 2) + 0.5 * np.abs(alpha).sum()
    assert np.all(signs * alpha >= 0)
    assert f <= fref + 1e-10  # the active-set solve is at least as good as the slow reference
    assert f == pytest.approx(fref, abs=1e-8)
    warm = lasso(A, y, 0.5, signs=signs, alpha0=ref)  # a warm start gives the same optimum
    assert 0.5 * np.sum((A @ warm - y) ** 2) + 0.5 * np.abs(warm).sum() == pytest.approx(f, abs=1e-10)


def test_polish_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((12, 4)), rng.standard_normal(12)
    s = np.array([1.0, -1.0, 1.0])
    p = np.concatenate([rng.standard_normal(12), np.abs(rng.standard_normal(3)) * s])
    for loss in ("squared", "huber"):
        kw = {"beta": 0.3, "abc": ACT, "loss": loss, "delta": 0.8}
        _, g = polish_objective(p, X, y, s, **kw)
        h = 1e-6
        fd = np.array([(polish_objective(p + h * e, X, y, s, **kw)[0] - polish_objective(p - h * e, X, y, s, **kw)[0])
                       / (2 * h) for e in np.eye(p.size)])
        assert np.allclose(g, fd, atol=1e-7, rtol=1e-6)  # central differences: O(h²) truncation, O(ε/h) rounding


def test_polish_never_increases_the_objective_and_keeps_unit_norms():
    X, y, _, _ = planted_demo(40, 5, neurons=3, power=1, activation=ACT, seed=4)
    rng = np.random.default_rng(0)
    U = rng.standard_normal((4, 5))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    alpha = np.array([0.5, -0.3, 0.2, 0.1])

    def obj(U, a):
        return 0.5 * np.sum((features_np(X, U, ACT) @ a - y) ** 2) + 0.1 * np.abs(a).sum()

    U2, a2 = polish(X, y, U, alpha, beta=0.1, activation=ACT, max_iter=30)
    assert obj(U2, a2) < obj(U, alpha)
    assert np.allclose(np.linalg.norm(U2, axis=1), 1.0, atol=1e-12)
    assert np.all(np.sign(a2[a2 != 0]) == np.sign(alpha[a2 != 0]))


def test_compress_keeps_predictions_and_penalty():
    rng = np.random.default_rng(5)
    d = 3
    U = rng.standard_normal((13, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    alpha = rng.standard_normal(13)
    U2, a2 = compress(U, alpha)
    assert (a2 > 0).sum() <= d + 1 and (a2 < 0).sum() <= d + 1
    X = rng.standard_normal((20, d))
    assert np.allclose(features_np(X, U2, ACT) @ a2, features_np(X, U, ACT) @ alpha, atol=1e-11)
    assert np.abs(a2).sum() == pytest.approx(np.abs(alpha).sum(), rel=1e-12)


def test_one_vs_all_on_separable_toy_data():
    rng = np.random.default_rng(0)
    centers = np.eye(3) * 3
    labels = np.repeat(np.arange(3), 15)
    X = centers[labels] + 0.3 * rng.standard_normal((45, 3))
    fits = fit_one_vs_all(X, labels, activation=ACT, beta=0.1, tol=1e-4, max_iter=50)
    assert sorted(fits) == [0, 1, 2]
    assert all(f.converged for f in fits.values())
    pred = predict_one_vs_all({k: f.net for k, f in fits.items()}, X)
    assert (pred == labels).mean() == 1.0


@pytest.mark.parametrize("kwargs, match", [
    ({"beta": -0.1}, "beta must be a finite number > 0"),
    ({"beta": 0.1, "loss": "l1"}, "use fit_sdp"),
    ({"beta": 0.1, "max_iter": 0}, "max_iter must be an integer >= 1"),
])
def test_fit_global_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_global(np.ones((3, 2)), np.ones(3), activation=ACT, **kwargs)


def test_warm_start_from_a_backprop_net_only_improves_it():
    from netoptima.convex.backprop import fit_backprop

    X, y, _, _ = planted_demo(40, 5, neurons=3, power=1, activation=ACT, seed=6)
    bp = fit_backprop(X, y, activation=ACT, beta=0.1, width=6, lr=1e-2, steps=200, seed=0)
    start = objective(bp.net, X, y, beta=0.1)
    res = fit_global(X, y, activation=ACT, beta=0.1, tol=1e-7, max_iter=200, init=bp.net)
    assert res.history[0]["objective"] == pytest.approx(start, rel=1e-12)  # iteration 0 certifies the warm start
    assert res.converged and res.certificate.objective < start
    cold = fit_global(X, y, activation=ACT, beta=0.1, tol=1e-7, max_iter=200)
    assert res.certificate.objective == pytest.approx(cold.certificate.objective, rel=1e-7)


@pytest.mark.parametrize("loss", ["squared", "huber"])
def test_newton_dense_hessian_matches_finite_differences_of_the_riemannian_gradient(loss):
    # Riemannian Hessian on a product of spheres: Hess f[ξ] = P_u D(grad f)[ξ] (Absil et al. 2008, eq. 5.15);
    # central differences along the retraction u(t) = (u + tξ)/‖u + tξ‖ have O(h²) ≈ 1e-10 relative error, so
    # 1e-6 leaves room for rounding (f ~ 1e2, h = 1e-5 → ~1e-9)
    from netoptima.convex._newton import _Problem

    rng = np.random.default_rng(3)
    n, d, k = 60, 7, 4
    X, y = rng.normal(size=(n, d)), rng.normal(size=n)
    U = rng.normal(size=(k, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    alpha = rng.normal(size=k)
    prob = _Problem(X, y, 0.3, (0.2, 0.5, 0.4), loss, 1.5)
    prob.at(U, alpha)
    H = prob.dense_hessian()
    xi = rng.normal(size=(k, d))
    xi -= (xi * U).sum(1, keepdims=True) * U
    eta = rng.normal(size=k)
    h = 1e-5

    def grad(t):
        Ut = U + t * xi
        Ut /= np.linalg.norm(Ut, axis=1, keepdims=True)
        _, gU, ga = _Problem(X, y, 0.3, (0.2, 0.5, 0.4), loss, 1.5).at(Ut, alpha + t * eta)
        return gU, ga

    (gp, ap), (gm, am) = grad(h), grad(-h)
    dU, da = (gp - gm) / (2 * h), (ap - am) / (2 * h)
    dU -= (dU * U).sum(1, keepdims=True) * U
    fd = np.concatenate([dU.ravel(), da])
    Hv = H @ np.concatenate([xi.ravel(), eta])
    assert np.abs(Hv - fd).max() <= 1e-6 * np.abs(fd).max()


def test_newton_hessian_buffers_are_not_stale_across_points_and_widths():
    # the upper-triangle Hessian reuses its work arrays: after moving to another point (and another width) the
    # result must equal a fresh problem's bit for bit up to BLAS rounding (1e-12 relative)
    from netoptima.convex._newton import _Problem

    rng = np.random.default_rng(4)
    n, d = 50, 6
    X, y = rng.normal(size=(n, d)), rng.normal(size=n)
    prob = _Problem(X, y, 0.3, (0.2, 0.5, 0.4), "squared", 1.0)
    for k in (4, 4, 3, 5):
        U = rng.normal(size=(k, d))
        U /= np.linalg.norm(U, axis=1, keepdims=True)
        alpha = rng.normal(size=k)
        prob.at(U, alpha)
        fresh = _Problem(X, y, 0.3, (0.2, 0.5, 0.4), "squared", 1.0)
        fresh.at(U, alpha)
        H, ref = prob.dense_hessian(), fresh.dense_hessian()
        assert np.abs(H - ref).max() <= 1e-12 * np.abs(ref).max()


def test_burer_monteiro_objective_with_csr_data_equals_the_dense_one():
    # product_form turns mostly-zero data (MNIST) into CSR; the objective must not see the difference beyond
    # summation order (float64: 1e-12 relative)
    from netoptima.convex._bm import SPARSE_MAX_DENSITY, bm_objective, product_form

    rng = np.random.default_rng(11)
    n, d, r = 500, 300, (3, 2)
    X = rng.normal(size=(n, d)) * (rng.random((n, d)) < 0.15)  # 15% nonzero, like MNIST's 19%
    y = rng.normal(size=n)
    Xs = product_form(X)
    assert scipy.sparse.issparse(Xs) and np.array_equal(Xs.toarray(), X)
    assert not scipy.sparse.issparse(product_form(rng.normal(size=(n, d))))  # dense data stays dense
    assert not scipy.sparse.issparse(product_form(X[:20, :20]))  # small: not worth it
    assert 0.15 < SPARSE_MAX_DENSITY < 1
    p = rng.normal(size=(d + 1) * sum(r))
    kw = {"beta": 0.3, "abc": ACT, "loss": "squared", "delta": 1.0}
    (f, g), (fs, gs) = bm_objective(p, X, y, r, **kw), bm_objective(p, Xs, y, r, **kw)
    assert fs == pytest.approx(f, rel=1e-12)
    assert np.abs(gs - g).max() <= 1e-12 * np.abs(g).max()


@pytest.mark.parametrize("r", [(3, 2), (4, 0), (0, 2)])
def test_burer_monteiro_objective_matches_the_decoded_network_and_finite_differences(r):
    # the stacked (issue 16) evaluation of the factor objective: its value must equal the objective of the network
    # that the neural decomposition reads off the factors (an independent path: eigendecomposition + features),
    # and its gradient central differences (O(h²) truncation ~1e-10 at h = 1e-6, rounding ~1e-10: 1e-6 relative)
    from netoptima.convex._bm import _split, bm_objective, factors_to_neurons

    rng = np.random.default_rng(5)
    n, d = 30, 4
    X, y = rng.normal(size=(n, d)), rng.normal(size=n)
    p = rng.normal(size=(d + 1) * sum(r))
    for loss in ("squared", "huber"):
        kw = {"beta": 0.3, "abc": ACT, "loss": loss, "delta": 0.8}
        f, g = bm_objective(p, X, y, r, **kw)
        Ys = []
        for V, t in _split(p, d, r):  # the feasible factors that p stands for: ‖V‖_F = ‖t‖ after rescaling
            nV, nt = np.linalg.norm(V), np.linalg.norm(t)
            Ys.append(np.concatenate([V / nV, (t / nt)[None, :]]) * np.sqrt(nV * nt) if t.size else
                      np.zeros((d + 1, 0)))
        U, alpha = factors_to_neurons(Ys)
        yhat = features_np(X, U, ACT) @ alpha
        res = yhat - y
        fit = (0.5 * res @ res if loss == "squared" else
               float(np.sum(np.where(np.abs(res) <= 0.8, 0.5 * res ** 2, 0.8 * (np.abs(res) - 0.4)))))
        assert f == pytest.approx(fit + 0.3 * np.abs(alpha).sum(), rel=1e-10)
        h = 1e-6
        fd = np.array([(bm_objective(p + h * e, X, y, r, **kw)[0] - bm_objective(p - h * e, X, y, r, **kw)[0])
                       / (2 * h) for e in np.eye(p.size)])
        assert np.allclose(g, fd, atol=1e-6 * np.abs(fd).max(), rtol=1e-6)
