"""Property-based tests of ``netoptima.ntk`` and ``netoptima.models`` (issue 17)."""

from __future__ import annotations

import math

import numpy as np
import torch
from _harness import FAST, bad_ints, failed, finite_matrices, outcome, rejects, tensors
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import netoptima.models as models
import netoptima.ntk as ntk


@FAST
@given(tensors(max_dims=3, max_side=5))
def test_unit_normalize_gives_unit_rows_or_an_error(X):
    out = outcome(ntk.unit_normalize, X)
    if failed(out):
        return
    assert out.shape == X.shape and out.dtype == X.dtype
    norms = torch.linalg.vector_norm(out.double(), dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-2 if X.dtype == torch.float16 else 1e-5), norms


@FAST
@given(tensors(max_dims=3, max_side=5))
def test_relu_ntk_infinite_is_psd_with_half_diagonal_or_an_error(X):
    unit = outcome(ntk.unit_normalize, X)
    out = outcome(ntk.relu_ntk_infinite, X if failed(unit) else unit)
    if failed(out):
        return
    H = out.double()
    assert H.shape == (X.shape[0], X.shape[0]) and torch.allclose(H, H.T)
    assert torch.allclose(H.diagonal(), torch.full((X.shape[0],), 0.5, dtype=H.dtype), atol=1e-3)
    assert float(torch.linalg.eigvalsh(H).min()) >= -1e-3


@FAST
@given(st.lists(st.integers(1, 5), min_size=2, max_size=4), st.sampled_from([nn.ReLU, nn.Tanh, models.Quadratic]),
       st.booleans(), st.sampled_from([torch.float32, torch.float64]), st.data())
def test_ntk_gram_layerwise_equals_func_and_is_psd(sizes, act, bias, dtype, data):
    torch.manual_seed(0)
    model = models.mlp(sizes, activation=act, bias=bias, dtype=dtype)
    X = torch.from_numpy(data.draw(finite_matrices(n=(1, 5), d=(sizes[0], sizes[0]), scale=3.0))).to(dtype)
    G = ntk.ntk_gram(model, X, method="layerwise")
    G2 = ntk.ntk_gram(model, X, method="func")
    c = sizes[-1]
    assert G.shape == (X.shape[0] * c,) * 2 and G.dtype == dtype
    tol = 1e-3 if dtype == torch.float32 else 1e-9
    assert torch.allclose(G, G2, rtol=tol, atol=tol * float(G.abs().max().clamp_min(1)))
    assert float(torch.linalg.eigvalsh(G.double()).min()) >= -tol * float(G.abs().max().clamp_min(1)) * G.shape[0]


@FAST
@given(tensors(max_dims=3, max_side=5), st.sampled_from(["auto", "layerwise", "func", "fast", None, 1]))
def test_ntk_gram_on_arbitrary_input_is_a_gram_or_an_error(X, method):
    torch.manual_seed(0)
    model = models.mlp([max(X.shape[-1], 1) if X.ndim else 1, 3, 1],
                       dtype=X.dtype if X.dtype == torch.float32 else None)
    out = outcome(ntk.ntk_gram, model, X, method=method)
    if not failed(out):
        assert X.ndim == 2 and X.is_floating_point() and bool(torch.isfinite(X).all())
        assert out.shape == (X.shape[0], X.shape[0]) and bool(torch.isfinite(out).all())


@FAST
@given(st.sampled_from([None, 3, "model", torch.ones(2)]))
def test_ntk_gram_of_a_non_model_is_an_error(model):
    rejects(ntk.ntk_gram, model, torch.ones(3, 2), name="model")


@FAST
@given(st.sampled_from([nn.Identity(), nn.Linear(2, 2).requires_grad_(False)]))
def test_ntk_gram_without_trainable_parameters(model):
    G = outcome(ntk.ntk_gram, model, torch.ones(3, 2))
    if not failed(G):
        assert torch.count_nonzero(G) == 0  # J has no columns: G = J Jᵀ = 0


@FAST
@given(st.one_of(st.lists(st.integers(-2, 4), max_size=4), st.lists(bad_ints(low=1), min_size=1, max_size=2),
                 st.sampled_from([None, "34", 3, (3,), np.array([2, 3])])),
       st.sampled_from([None, torch.float32, torch.float64, torch.int64, "float64"]))
def test_mlp_builds_exactly_the_sizes_or_refuses(sizes, dtype):
    out = outcome(models.mlp, sizes, dtype=dtype)
    if failed(out):
        return
    lin = [m for m in out if isinstance(m, nn.Linear)]
    assert [lin[0].in_features] + [m.out_features for m in lin] == [int(s) for s in sizes]


@FAST
@given(st.one_of(st.integers(1, 6), bad_ints(low=1)), st.one_of(st.integers(1, 6), bad_ints(low=1)),
       st.sampled_from([None, torch.float32, torch.float64, torch.float16, "x"]))
def test_two_layer_relu_ntk_constructor(d, width, dtype):
    out = outcome(models.TwoLayerReLUNTK, d, width, dtype=dtype)
    if failed(out):
        return
    assert out.hidden.weight.shape == (width, d) and set(out.signs.tolist()) <= {-1.0, 1.0}
    y = out(torch.ones(2, d, dtype=out.hidden.weight.dtype))
    assert y.shape == (2, 1)


@FAST
@given(st.sampled_from([10**6, 10**7, 2**40]))
def test_huge_models_are_refused_not_allocated(size):
    rejects(models.TwoLayerReLUNTK, size, size, name=f"width={size}")
    rejects(models.mlp, [size, size], name="GiB")


@FAST
@given(tensors(max_dims=3, max_side=4))
def test_quadratic_activation_squares(x):
    out = outcome(models.Quadratic(), x)
    if not failed(out):
        assert out.shape == x.shape
        if x.is_floating_point():
            ok = torch.isfinite(x)
            assert torch.equal(out[ok], (x * x)[ok]) and not math.isnan(float(out.sum())) or not bool(ok.all())


def test_ntk_bad_matrix_inputs_are_named():
    rejects(ntk.unit_normalize, [[1.0, 0.0]], name="X")
    rejects(ntk.relu_ntk_infinite, torch.ones(2, 2), name="unit-norm")
