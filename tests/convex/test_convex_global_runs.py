"""fit_global's run control and reporting: limits end a run with the certificate of what is returned, the final
certificate is recomputed on the returned network (checked by the independent one), progress, a = 0."""

from __future__ import annotations

import numpy as np
import pytest

from netoptima.convex import certificate, fit_global, fit_sdp, objective, planted_demo
from netoptima.convex.model import RELU_FIT_ACTIVATION, net_arrays
from netoptima.convex.verify import independent_certificate

ACT = RELU_FIT_ACTIVATION


def _check_reported_certificate(res, X, y, beta):
    """The reported certificate is the returned network's own (recomputed), and the independent path agrees."""
    again = certificate(res.net, X, y, beta=beta)
    assert res.certificate.objective == pytest.approx(objective(res.net, X, y, beta=beta), rel=1e-12)
    assert res.certificate.lower_bound == pytest.approx(again.lower_bound, rel=1e-12, abs=1e-12)
    U, alpha = net_arrays(res.net)
    indep = independent_certificate(U, alpha, X, y, beta=beta, activation=ACT)
    assert indep.objective == pytest.approx(res.certificate.objective, rel=1e-12)
    # the independent bound is valid for any μ it stops at: it may only be (slightly) looser
    assert indep.relative_gap >= res.certificate.relative_gap - 1e-9
    assert indep.relative_gap <= res.certificate.relative_gap + 1e-7


@pytest.mark.parametrize("seed, n, d", [(2, 80, 30), (3, 60, 26)])
def test_fit_global_above_the_newton_only_dimension_matches_the_sdp(seed, n, d):
    """d > 24: Burer–Monteiro L-BFGS first, Newton once the gap is small; the SDP's value is the oracle."""
    X, y, _, _ = planted_demo(n, d, neurons=3, power=1, activation=ACT, seed=seed)
    sdp = fit_sdp(X, y, activation=ACT, beta=0.5, solver="SCS", tol=1e-10)
    res = fit_global(X, y, activation=ACT, beta=0.5, tol=1e-7, max_iter=300)
    assert res.converged and res.certificate.relative_gap <= 1e-7
    assert res.certificate.lower_bound <= sdp.value + 1e-8 * abs(sdp.value)
    assert res.certificate.objective == pytest.approx(sdp.value, rel=2e-7)
    _check_reported_certificate(res, X, y, 0.5)


def test_fit_global_cold_start_from_factors_reaches_the_sdp_optimum_at_d40():
    """24 < d <= 73: the first certificate is of the Burer–Monteiro start (width > 0, not the empty net), and the
    run still ends at the SDP's value (SCS at 1e-10: its objective is accurate to ~1e-8 relative, hence 2e-7)."""
    X, y, _, _ = planted_demo(120, 40, neurons=3, power=1, activation=ACT, seed=4)
    sdp = fit_sdp(X, y, activation=ACT, beta=1.0, solver="SCS", tol=1e-10)
    res = fit_global(X, y, activation=ACT, beta=1.0, tol=1e-7, max_iter=300)
    assert res.history[0]["width"] > 0
    assert res.converged and res.certificate.relative_gap <= 1e-7
    assert res.certificate.lower_bound <= sdp.value + 1e-8 * abs(sdp.value)
    assert res.certificate.objective == pytest.approx(sdp.value, rel=2e-7)
    _check_reported_certificate(res, X, y, 1.0)


def test_fit_global_large_d_uses_the_factored_polish_and_certifies():
    """k(d+1) above the dense-Newton size: the Burer–Monteiro polish alone reaches the gap (SDP refused here)."""
    X, y, _, _ = planted_demo(300, 110, neurons=3, power=1, activation=ACT, seed=1, unit_neurons=True)
    res = fit_global(X, y, activation=ACT, beta=1.0, tol=1e-6, max_iter=2000)
    assert res.converged and res.certificate.relative_gap <= 1e-6
    _check_reported_certificate(res, X, y, 1.0)


def test_max_iter_ends_the_run_with_the_certificate_of_the_returned_net():
    X, y, _, _ = planted_demo(60, 10, neurons=4, power=1, activation=ACT, seed=0)
    res = fit_global(X, y, activation=ACT, beta=0.1, tol=1e-9, max_iter=2)
    assert not res.converged and res.iterations == 2
    assert res.certificate.relative_gap > 1e-9
    _check_reported_certificate(res, X, y, 0.1)


def test_time_limit_ends_the_run_without_an_exception():
    X, y, _, _ = planted_demo(200, 60, neurons=4, power=1, activation=ACT, seed=0, unit_neurons=True)
    res = fit_global(X, y, activation=ACT, beta=1.0, tol=1e-12, time_limit=1e-3)
    assert not res.converged and res.iterations == 1  # the first certificate is past the limit
    _check_reported_certificate(res, X, y, 1.0)


def test_callback_and_progress_report_iteration_objective_gap_width(capsys):
    X, y, _, _ = planted_demo(40, 5, neurons=3, power=1, activation=ACT, seed=4)
    seen = []
    res = fit_global(X, y, activation=ACT, beta=0.1, tol=1e-6, callback=seen.append, quiet=False)
    assert [h["iteration"] for h in seen] == list(range(res.iterations))
    assert all({"objective", "relative_gap", "width", "seconds"} <= set(h) for h in seen)
    assert "fit_global" in capsys.readouterr().err  # the tqdm bar, forced on


def test_activation_without_quadratic_term_is_refused_clearly():
    X, y, _, _ = planted_demo(30, 4, neurons=2, power=1, activation=ACT, seed=0)
    with pytest.raises(ValueError, match="no quadratic term"):
        fit_global(X, y, activation=(0.0, 0.5, 0.47), beta=0.1)


@pytest.mark.parametrize("kwargs, match", [({"time_limit": 0.0}, "time_limit"), ({"time_limit": -1.0}, "time_limit")])
def test_bad_time_limit(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_global(np.ones((3, 2)), np.ones(3), activation=ACT, beta=0.1, **kwargs)
