"""The notebook's TwoLayerMLP (bitwise against its own construction), the row-space trick, the theory model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from netoptima.dynamics import RowSpaceMLP, TwoLayerMLP, TwoLayerReLUNTK, make_optimizer, theory_output
from netoptima.dynamics.train import train_full_batch
from netoptima.ntk import unit_normalize

pytestmark = pytest.mark.usefixtures("one_thread")


def notebook_construction(d: int, m: int, seed: int) -> nn.Sequential:
    """The notebook's cell, verbatim in behaviour: default Linear inits, then the N(0, 1/m) / U(-1, 1) re-draws."""
    torch.manual_seed(seed)
    layers = nn.Sequential(nn.Linear(d, m), nn.ReLU(), nn.Linear(m, 1, bias=False))
    with torch.no_grad():
        layers[0].weight = nn.Parameter(nn.init.normal_(torch.empty(m, d), 0, 1 / m))
        layers[2].weight = nn.Parameter(nn.init.uniform_(torch.empty(1, m), -1, 1))
    return layers


def test_two_layer_mlp_is_the_notebooks_model_bit_for_bit():
    ref = notebook_construction(784, 300, 218)
    ours = TwoLayerMLP(784, 300, generator=torch.Generator().manual_seed(218))
    assert torch.equal(ours.hidden.weight, ref[0].weight) and torch.equal(ours.hidden.bias, ref[0].bias)
    assert torch.equal(ours.output.weight, ref[2].weight) and ours.output.bias is None
    assert all(p.requires_grad for p in ours.parameters())  # both layers trained
    X = torch.rand(5, 784)
    assert torch.equal(ours(X), ref(X))
    # std 1/m as written (not 1/√m): the sample std of 235k draws is within 1% of 1/300
    assert ours.hidden.weight.std().item() == pytest.approx(1 / 300, rel=0.01)


def test_two_layer_mlp_global_rng_matches_too():
    torch.manual_seed(7)
    a = TwoLayerMLP(20, 10)
    ref = notebook_construction(20, 10, 7)
    assert torch.equal(a.hidden.weight, ref[0].weight) and torch.equal(a.output.weight, ref[2].weight)


@pytest.mark.parametrize(("name", "hp"), [("gd", {}), ("hb", {"momentum": 0.9}), ("nag", {"r": 3}),
                                          ("hm", {"momentum": 0.2, "beta2": 0.5})])
def test_row_space_training_equals_training_the_model_as_written(name, hp):
    g = torch.Generator().manual_seed(0)
    X = torch.rand(12, 50, generator=g, dtype=torch.float64)  # n < d, like 60 MNIST images
    y = torch.randint(0, 10, (12,), generator=g).to(torch.float64)
    model = TwoLayerMLP(50, 200, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    fast = RowSpaceMLP(model, X)
    ref = train_full_batch(model, X, y, make_optimizer(name, model.parameters(), lr=1e-3, **hp), steps=40, loss="mse")
    out = train_full_batch(fast, X, y, make_optimizer(name, fast.parameters(), lr=1e-3, **hp), steps=40, loss="mse")
    # identical dynamics, different summation order: float64 rounding only
    assert (abs(out.loss - ref.loss) / ref.loss).max() < 1e-10
    assert torch.allclose(fast.weight(), model.hidden.weight, rtol=0, atol=1e-12)
    assert torch.allclose(fast.out, model.output.weight, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="training inputs it was built with"):
        fast(X.clone())


def test_theory_output_requires_unit_norm_inputs():
    model = TwoLayerReLUNTK(3, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    X = torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="unit-norm rows"):
        theory_output(model, X)
    u = theory_output(model, unit_normalize(X))
    assert u.shape == (4,)
    with pytest.raises(ValueError, match="unit-norm rows"):  # training checks it at the door too
        train_full_batch(model, X, torch.zeros(4, dtype=torch.float64),
                         make_optimizer("gd", model.parameters(), lr=0.1), steps=1)


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="width must be"):
        TwoLayerMLP(4, 0)
    with pytest.raises(ValueError, match="momentum must be"):
        make_optimizer("hb", [torch.zeros(1, requires_grad=True)], lr=0.1, momentum=1.2)
    with pytest.raises(ValueError, match="name must be one of"):
        make_optimizer("adam", [torch.zeros(1, requires_grad=True)], lr=0.1)
