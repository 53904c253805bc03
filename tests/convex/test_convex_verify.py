"""The independent re-certification agrees with the TRS certificate and is a valid bound on random networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from netoptima.convex.certificate import certificate
from netoptima.convex.data import planted_demo
from netoptima.convex.model import RELU_FIT_ACTIVATION, QuadraticActivationNet, features_np, net_arrays
from netoptima.convex.solver import fit_global
from netoptima.convex.verify import independent_certificate

ACT = RELU_FIT_ACTIVATION


@pytest.fixture(scope="module")
def data():
    X, y, _, _ = planted_demo(40, 6, neurons=3, power=1, activation=ACT, seed=1)
    return X, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_trs_certificate_on_random_networks(data, seed):
    X, y = data
    net = QuadraticActivationNet(X.shape[1], 4, activation=ACT, generator=torch.Generator().manual_seed(seed))
    U, alpha = net_arrays(net)
    ind = independent_certificate(U, alpha, X, y, beta=0.1, activation=ACT)
    ref = certificate(net, X, y, beta=0.1)
    assert ind.objective == pytest.approx(ref.objective, rel=1e-12)
    assert ind.dual_max_over_beta == pytest.approx(ref.dual_max / 0.1, rel=1e-6)
    assert ind.lower_bound == pytest.approx(ref.lower_bound, rel=1e-6, abs=1e-9)
    # the bound M is never exceeded by sampled unit vectors (an oracle independent of both)
    Us = np.random.default_rng(seed).standard_normal((20_000, X.shape[1]))
    Us /= np.linalg.norm(Us, axis=1, keepdims=True)
    v = features_np(X, U, ACT) @ alpha - y
    assert np.abs(features_np(X, Us, ACT).T @ v).max() <= ind.dual_max_over_beta * 0.1


def test_certifies_the_global_optimum_and_not_a_truncated_run(data):
    X, y = data
    best = fit_global(X, y, activation=ACT, beta=0.1, tol=1e-8, max_iter=200)
    U, alpha = net_arrays(best.net)
    assert independent_certificate(U, alpha, X, y, beta=0.1, activation=ACT).relative_gap < 1e-6
    early = fit_global(X, y, activation=ACT, beta=0.1, tol=1e-8, max_iter=1)
    U, alpha = net_arrays(early.net)
    assert independent_certificate(U, alpha, X, y, beta=0.1, activation=ACT).relative_gap > 1e-2
