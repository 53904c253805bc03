"""The backprop baseline: descends, stays on the sphere, diverges loudly, never beats the certified optimum."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from netoptima.conventions import TrainingDiverged
from netoptima.convex.backprop import fit_backprop
from netoptima.convex.certificate import certificate
from netoptima.convex.data import planted_demo
from netoptima.convex.model import RELU_FIT_ACTIVATION, objective
from netoptima.convex.solver import fit_global

ACT = RELU_FIT_ACTIVATION


@pytest.fixture(scope="module")
def data():
    X, y, _, _ = planted_demo(40, 5, neurons=3, power=1, activation=ACT, seed=2)
    return X, y


@pytest.mark.parametrize("optimizer, lr", [("adam", 1e-2), ("sgd", 1e-3)])
def test_backprop_descends_and_keeps_unit_norms(data, optimizer, lr):
    X, y = data
    res = fit_backprop(X, y, activation=ACT, beta=0.1, width=12, optimizer=optimizer, lr=lr, steps=400, seed=0,
                       record_every=100)
    assert res.objectives[-1] < res.objectives[0]
    assert res.net.max_norm_error() < 1e-12
    # the recorded objective is the float64 objective of the returned net
    assert res.objectives[-1] == pytest.approx(objective(res.net, X, y, beta=0.1), rel=1e-12)


def test_backprop_is_bounded_below_by_the_certified_optimum(data):
    X, y = data
    best = fit_global(X, y, activation=ACT, beta=0.1, tol=1e-7, max_iter=200, polish_steps=100)
    assert best.converged
    for seed in range(3):
        res = fit_backprop(X, y, activation=ACT, beta=0.1, width=12, optimizer="adam", lr=3e-2, steps=300,
                           seed=seed)
        cert = certificate(res.net, X, y, beta=0.1)
        assert cert.objective >= best.certificate.lower_bound - 1e-9
        assert cert.lower_bound <= best.certificate.objective + 1e-9


def test_same_seed_same_run(data):
    X, y = data
    a = fit_backprop(X, y, activation=ACT, beta=0.1, width=4, lr=1e-2, steps=50, seed=3)
    b = fit_backprop(X, y, activation=ACT, beta=0.1, width=4, lr=1e-2, steps=50, seed=3)
    assert torch.equal(a.net.U, b.net.U) and a.objectives == b.objectives


def test_divergence_names_step_and_learning_rate(data):
    X, y = data
    with pytest.raises(TrainingDiverged, match="learning rate 1e\\+06"):
        fit_backprop(X * 100, y, activation=ACT, beta=0.1, width=4, optimizer="sgd", lr=1e6, steps=200, seed=0)


def test_bad_arguments(data):
    X, y = data
    with pytest.raises(ValueError, match="optimizer must be one of"):
        fit_backprop(X, y, beta=0.1, width=3, optimizer="lbfgs")
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        fit_backprop(X, y, beta=0.1, width=0)
    with pytest.raises(ValueError, match="batch_size"):
        fit_backprop(X, y, beta=0.1, width=2, batch_size=10_000)
    with pytest.raises(ValueError, match="y must have shape"):
        fit_backprop(X, np.ones(3), beta=0.1, width=2)


def test_trainer_contract_device_dtype_and_frozen_result(data):
    X, y = data
    res = fit_backprop(X, y, activation=ACT, beta=0.1, width=4, lr=1e-2, steps=20, seed=0, device="cpu",
                       dtype=torch.float32, quiet=True)
    assert res.net.U.dtype == torch.float32 and res.net.U.device.type == "cpu" and res.steps == 20
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.steps = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="dtype"):
        fit_backprop(X, y, beta=0.1, width=2, steps=2, dtype=torch.int64)


def test_a_finite_blow_up_is_divergence_too(data):
    X, y = data  # SGD at a huge step: the objective grows 1e4-fold before it overflows
    with pytest.raises(TrainingDiverged, match="starting loss"):
        fit_backprop(X, y, activation=ACT, beta=0.1, width=4, optimizer="sgd", lr=1.0, steps=200, seed=0)
