"""Shared small models: the Du et al. two-layer net, the quadratic activation and the MLP builder."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from netoptima.models import Quadratic, TwoLayerReLUNTK, mlp

DT = torch.float64


def test_two_layer_structure_and_frozen_signs():
    model = TwoLayerReLUNTK(3, 50, generator=torch.Generator().manual_seed(0), dtype=DT)
    assert isinstance(model, nn.Sequential) and [type(m) for m in model] == [nn.Linear, nn.ReLU, nn.Linear]
    assert model.hidden.weight.shape == (50, 3) and model.hidden.weight.requires_grad
    assert model.hidden.bias is None and model.output.bias is None
    out_w = model.output.weight
    assert out_w.shape == (1, 50) and not out_w.requires_grad and out_w.dtype == DT
    assert torch.equal(out_w.abs(), torch.full_like(out_w, 1 / math.sqrt(50)))
    assert set(model.signs.tolist()) == {-1.0, 1.0}
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["hidden.weight"]


def test_two_layer_forward_is_du_formula():
    model = TwoLayerReLUNTK(4, 30, generator=torch.Generator().manual_seed(1), dtype=DT)
    X = torch.randn(5, 4, dtype=DT)
    W, a = model.hidden.weight, model.signs
    expected = torch.relu(X @ W.T) @ a / math.sqrt(30)  # (n,)
    out = model(X)
    assert out.shape == (5, 1)
    assert torch.allclose(out.squeeze(-1), expected, rtol=1e-12, atol=1e-12)


def test_two_layer_reproducible_and_seed_dependent():
    def build(seed: int) -> TwoLayerReLUNTK:
        return TwoLayerReLUNTK(3, 20, generator=torch.Generator().manual_seed(seed), dtype=DT)

    a, b, c = build(7), build(7), build(8)
    for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q)
    assert not torch.equal(a.hidden.weight, c.hidden.weight)


def test_two_layer_hidden_weights_are_standard_normal():
    W = TwoLayerReLUNTK(10, 20_000, generator=torch.Generator().manual_seed(2), dtype=DT).hidden.weight
    # 200 000 N(0, 1) draws: mean within 5/√N, variance within 5·√2/√N
    assert abs(W.mean().item()) < 5 / math.sqrt(W.numel())
    assert abs(W.var().item() - 1) < 5 * math.sqrt(2 / W.numel())


def test_two_layer_default_dtype_and_errors():
    assert TwoLayerReLUNTK(2, 3).hidden.weight.dtype == torch.get_default_dtype()
    with pytest.raises(ValueError, match="width"):
        TwoLayerReLUNTK(2, 0)
    with pytest.raises(ValueError, match="d must"):
        TwoLayerReLUNTK(2.5, 3)
    with pytest.raises(ValueError, match="dtype"):
        TwoLayerReLUNTK(2, 3, dtype=torch.int64)


def test_quadratic_activation():
    x = torch.tensor([-2.0, 0.5, 3.0], dtype=DT)
    assert torch.equal(Quadratic()(x), torch.tensor([4.0, 0.25, 9.0], dtype=DT))


def test_mlp_builder():
    model = mlp([4, 8, 6, 2], activation=nn.Tanh, bias=False, dtype=DT)
    assert [type(m) for m in model] == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert all(m.bias is None for m in model if isinstance(m, nn.Linear))
    assert model(torch.randn(3, 4, dtype=DT)).shape == (3, 2)
    assert isinstance(mlp([3, 1])[0], nn.Linear) and len(mlp([3, 1])) == 1
    assert isinstance(mlp([3, 5, 1], activation=Quadratic)[1], Quadratic)
    for bad in ([3], [3, 0], "34", [3, 2.0]):
        with pytest.raises(ValueError, match="sizes"):
            mlp(bad)
    with pytest.raises(ValueError, match="activation"):
        mlp([3, 2], activation="relu")
    with pytest.raises(ValueError, match="bias"):
        mlp([3, 2], bias=1)
