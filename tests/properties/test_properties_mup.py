"""Property-based tests of ``netoptima.mup``' public functions (issue 17)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from _harness import FAST, SLOW, arrays, bad_ints, bad_reals, failed, outcome, rejects, tensors
from hypothesis import given
from hypothesis import strategies as st

import netoptima.mup as mup
from netoptima.conventions import TrainingDiverged
from netoptima.data import DataUnavailable

pytestmark = pytest.mark.usefixtures("one_thread")

PARAM = st.sampled_from(list(mup.PARAMETRIZATIONS) + ["xx", None])


@FAST
@given(PARAM, st.one_of(st.integers(2, 5), bad_ints(low=2)))
def test_abc_tables(p, depth):
    a = outcome(mup.abc, p)
    layers = outcome(mup.layer_abc, p, depth)
    exps = outcome(mup.abc_exponents, p, depth)
    if not failed(layers):
        assert len(layers[0]) == depth and not failed(a) and not failed(exps)


@FAST
@given(st.one_of(st.integers(1, 4), bad_ints(low=1)), st.one_of(st.integers(1, 8), bad_ints(low=1)),
       st.one_of(st.integers(2, 4), bad_ints(low=2)), PARAM, st.sampled_from(["relu", "tanh", "gelu", "x"]),
       st.sampled_from([None, torch.float64, torch.int64]))
def test_mlp_constructor_and_param_groups(d, width, depth, p, act, dtype):
    net = outcome(mup.MLP, d, width, 2, depth=depth, parametrization=p, activation=act, dtype=dtype,
                  generator=torch.Generator().manual_seed(0))
    if failed(net):
        return
    assert net(torch.ones(3, d, dtype=net.layers[0].weight.dtype)).shape == (3, 2)
    groups = mup.param_groups(net, 0.1)
    assert all(g["lr"] > 0 and math.isfinite(g["lr"]) for g in groups)
    rejects(mup.param_groups, net, -1.0, name="lr")


@FAST
@given(st.one_of(st.integers(1, 4), bad_ints(low=1)), st.one_of(st.integers(1, 4), bad_ints(low=1)),
       st.one_of(st.floats(-2, 2), bad_reals()), st.one_of(st.floats(0, 2), bad_reals(0.0)))
def test_scaled_linear(i, o, mult, std):
    layer = outcome(mup.ScaledLinear, i, o, multiplier=mult, std=std)
    if not failed(layer):
        x = torch.ones(2, i)
        assert torch.allclose(layer(x), mult * x @ layer.weight.T)


@FAST
@given(st.sampled_from([10**6, 2**40]))
def test_huge_widths_are_refused(width):
    rejects(mup.MLP, 10, width, 10, depth=3, name="GiB")
    rejects(mup.ScaledLinear, width, width, multiplier=1.0, std=1.0, name="GiB")


@SLOW
@given(tensors(max_dims=3, max_side=5), tensors(max_dims=3, max_side=5), st.one_of(st.integers(1, 3), bad_ints(1)),
       st.one_of(st.floats(1e-3, 0.5), bad_reals(0.0, None, True)), st.one_of(st.none(), st.integers(-1, 6)))
def test_train_sgd_on_arbitrary_data(X, Y, steps, lr, batch_size):
    net = mup.MLP(3, 8, 2, depth=3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = outcome(mup.train_sgd, net, X, Y, steps=steps, lr=lr, batch_size=batch_size, allowed=(TrainingDiverged,))
    if not failed(out):
        assert len(out.losses) == steps and all(math.isfinite(v) for v in out.losses)


@FAST
@given(tensors(max_dims=3, max_side=5), tensors(max_dims=3, max_side=5))
def test_feature_change_and_gram(h, h0):
    out = outcome(mup.feature_change, h, h0)
    if not failed(out):
        assert out.shape == (h.shape[0],) and bool(torch.isfinite(out).all()) and bool((out >= 0).all())
    lam = outcome(mup.feature_gram_min_eig, h)
    if not failed(lam):
        assert math.isfinite(lam) and lam >= -1e-6 * max(1.0, float(h.double().abs().max()) ** 2 * h.shape[1])


@FAST
@given(tensors(max_dims=4, max_side=5))
def test_standardize(X):
    out = outcome(mup.standardize, X)
    if not failed(out):
        rms = out.double().pow(2).mean(1).sqrt()
        assert bool(torch.isfinite(out).all()) and torch.allclose(rms, torch.ones_like(rms), atol=1e-3)


@FAST
@given(st.one_of(arrays(max_dims=2, max_side=6), st.lists(st.floats(-10, 10), max_size=6)),
       st.one_of(arrays(max_dims=2, max_side=6), st.lists(st.one_of(st.none(), st.floats(0, 10)), max_size=6)),
       st.one_of(st.floats(-10, 10), bad_reals()))
def test_best_lr_and_regret(log2_lrs, losses, x):
    best = outcome(mup.best_log2_lr, log2_lrs, losses)
    if not failed(best):
        grid = np.asarray(log2_lrs, float)
        assert grid.min() <= best <= grid.max() or (math.isnan(best) and not any(
            v is not None and math.isfinite(v) for v in np.asarray(losses, dtype=object).reshape(-1)))
    r = outcome(mup.lr_regret, log2_lrs, losses, x)
    if not failed(r):
        assert r >= 1 - 1e-12 or math.isinf(r)


@SLOW
@given(PARAM, st.lists(st.one_of(st.integers(1, 16), bad_ints(1)), max_size=3),
       st.one_of(st.integers(1, 2), bad_ints(low=1)))
def test_coord_check_and_slopes(p, widths, steps):
    X = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    Y = torch.tensor([0, 1, 1, 0]) if p != "sp" else torch.randn(4, 2)  # "sp": float targets must be refused
    recs = outcome(mup.coord_check, p, widths, steps=steps, data=(X, Y), quiet=True, allowed=(TrainingDiverged,))
    if not failed(recs):
        assert recs and all(math.isfinite(r["l1"]) for r in recs)
        if len(set(widths)) > 1:
            assert all(math.isfinite(v) for v in mup.coord_slopes(recs).values())
    outcome(mup.coord_slopes, [{"x": 1}])


@FAST
@given(st.sampled_from(["mnist", "cifar10", "x"]), st.one_of(st.integers(1, 8), bad_ints(low=1)),
       st.sampled_from(["train", "test", "x"]), st.one_of(st.integers(0, 5), bad_ints(low=0)))
def test_load_images(dataset, n, split, seed):
    out = outcome(mup.load_images, dataset, n, split=split, seed=seed, allowed=(DataUnavailable, FileNotFoundError))
    if not failed(out):
        X, Y = out
        assert X.shape[0] == n == Y.shape[0] and bool(torch.isfinite(X).all())


@FAST
@given(st.sampled_from([None, 3, torch.nn.Linear(2, 2), "mlp"]))
def test_mup_twin_of_a_non_mlp(model):
    rejects(mup.mup_twin, model, name="model")


@FAST
@given(st.sampled_from([10**9, 2**62]), PARAM)
def test_absurd_depths_are_refused_not_listed_for_minutes(depth, p):
    rejects(mup.layer_abc, p, depth)
    rejects(mup.abc_exponents, p, depth)


@FAST
@given(st.sampled_from([None, 3, [{"x": 1}], [{"params": []}], "groups"]))
def test_sgd_step_of_malformed_groups(groups):
    rejects(mup.sgd_step, groups, name="groups")


@FAST
@given(st.sampled_from([[], [{"x": 1}], {"mup": []}, None, 3]))
def test_plot_coord_check_of_malformed_records(records):
    with tempfile.TemporaryDirectory() as tmp:
        rejects(mup.plot_coord_check, records, Path(tmp) / "a.png", name="records")
