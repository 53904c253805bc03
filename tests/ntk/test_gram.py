"""Empirical NTK Gram (layerwise and func paths against a jacrev oracle) and the analytic H∞ kernel."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev

from netoptima.models import Quadratic, TwoLayerReLUNTK, mlp
from netoptima.ntk import gram, ntk_gram, relu_ntk_infinite, supports_layerwise, unit_normalize

DT = torch.float64


def oracle_gram(model: nn.Module, X: Tensor) -> Tensor:
    """J Jᵀ with J built explicitly: jacrev of the flattened batch output w.r.t. the trainable params."""
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    jac = jacrev(lambda p: functional_call(model, p, (X,)).reshape(-1))(params)
    J = torch.cat([j.reshape(j.shape[0], -1) for j in jac.values()], dim=1)  # (n·c, #params)
    return J @ J.T


def loop_oracle(model: nn.Module, X: Tensor) -> Tensor:
    """J Jᵀ from per-sample autograd gradients (independent of torch.func), scalar outputs only."""
    params = [p for p in model.parameters() if p.requires_grad]
    rows = [torch.cat([g.flatten() for g in torch.autograd.grad(model(X[i:i + 1]).sum(), params)])
            for i in range(X.shape[0])]
    J = torch.stack(rows)  # (n, #params)
    return J @ J.T


def assert_gram_close(G: Tensor, ref: Tensor, rtol: float = 1e-10) -> None:
    assert G.shape == ref.shape and G.dtype == ref.dtype
    assert (G - ref).abs().max() <= rtol * ref.abs().max()


def relu_mlp_bias() -> nn.Module:
    return mlp([5, 16, 12, 1], dtype=DT)


def tanh_vector_nobias() -> nn.Module:
    return mlp([5, 9, 11, 3], activation=nn.Tanh, bias=False, dtype=DT)


def quadratic_mixed_bias() -> nn.Module:
    return nn.Sequential(nn.Linear(5, 8, bias=True, dtype=DT), Quadratic(),
                         nn.Linear(8, 6, bias=False, dtype=DT), Quadratic(),
                         nn.Linear(6, 2, bias=True, dtype=DT))


def du_two_layer() -> nn.Module:
    return TwoLayerReLUNTK(5, 40, generator=torch.Generator().manual_seed(3), dtype=DT)


def all_activations() -> nn.Module:
    # every whitelisted activation, a final activation, consecutive Linears and a nested Sequential
    return nn.Sequential(
        nn.Linear(5, 7, dtype=DT), nn.Sigmoid(), nn.Linear(7, 7, dtype=DT), nn.Softplus(beta=2.0),
        nn.Sequential(nn.Linear(7, 6, dtype=DT), nn.GELU(approximate="tanh"), nn.Linear(6, 6, dtype=DT)),
        nn.SiLU(), nn.Linear(6, 6, dtype=DT), nn.Identity(), nn.Linear(6, 5, dtype=DT), nn.GELU(),
        nn.Linear(5, 4, dtype=DT), nn.ReLU(inplace=True), nn.Linear(4, 2, dtype=DT), nn.Tanh(),
    )


def frozen_middle() -> nn.Module:
    # frozen hidden weight with a trainable bias, frozen first layer: only some terms survive
    model = mlp([5, 8, 8, 2], activation=nn.Tanh, dtype=DT)
    model[0].requires_grad_(False)
    model[2].weight.requires_grad_(False)
    return model


MODELS = [relu_mlp_bias, tanh_vector_nobias, quadratic_mixed_bias, du_two_layer, all_activations,
          frozen_middle]


@pytest.mark.parametrize("build", MODELS, ids=lambda f: f.__name__)
def test_layerwise_matches_jacrev_oracle(build):
    torch.manual_seed(0)
    model = build()
    X = torch.randn(7, 5, dtype=DT)
    assert supports_layerwise(model)
    ref = oracle_gram(model, X)
    G = ntk_gram(model, X, method="layerwise")
    assert_gram_close(G, ref)
    assert torch.equal(ntk_gram(model, X), G)  # "auto" takes the layerwise path
    assert_gram_close(ntk_gram(model, X, method="func"), ref)


@pytest.mark.parametrize("build", MODELS, ids=lambda f: f.__name__)
def test_layerwise_tiles_assemble_the_full_gram(build, monkeypatch):
    # G is built from upper tiles of _TILE samples and mirrored; 3-sample tiles on n = 8 give a ragged edge
    monkeypatch.setattr(gram, "_TILE", 3)
    torch.manual_seed(10)
    model = build()
    X = torch.randn(8, 5, dtype=DT)
    G = ntk_gram(model, X, method="layerwise")
    assert_gram_close(G, oracle_gram(model, X))
    assert torch.equal(G, G.T)  # mirrored tiles are exact transposes


def test_layerwise_beyond_one_default_tile():
    torch.manual_seed(11)
    model = mlp([3, 6, 2], activation=nn.Tanh, dtype=DT)
    X = torch.randn(gram._TILE + 40, 3, dtype=DT)
    assert_gram_close(ntk_gram(model, X), oracle_gram(model, X))


def test_layerwise_flops_counts_the_matmuls():
    # mlp([3, 4, 1]) on n = 5 (one tile, 25 pairs): forward 2·5·(3·4 + 4·1) = 160; hidden layer
    # A Aᵀ with bias 2·25·4 = 200 and Γ Γᵀ 2·25·4 = 200; output layer A Aᵀ with bias 2·25·5 = 250
    assert gram.layerwise_flops(mlp([3, 4, 1]), 5) == 810
    with pytest.raises(ValueError, match="layerwise"):
        gram.layerwise_flops(Residual(), 5)


def test_vector_output_is_sample_major():
    torch.manual_seed(1)
    model = tanh_vector_nobias()
    X = torch.randn(4, 5, dtype=DT)
    G = ntk_gram(model, X)  # (4·3, 4·3)
    assert G.shape == (12, 12)
    i, k, j, l = 2, 1, 3, 0
    gi = torch.autograd.grad(model(X[i:i + 1])[0, k], list(model.parameters()))
    gj = torch.autograd.grad(model(X[j:j + 1])[0, l], list(model.parameters()))
    expected = sum((a * b).sum() for a, b in zip(gi, gj, strict=True))
    assert torch.isclose(G[i * 3 + k, j * 3 + l], expected, rtol=1e-12, atol=0)


def test_du_net_gram_is_the_indicator_formula():
    # H_ij(0) = (1/m) x_iᵀx_j #{r : w_rᵀx_i ≥ 0, w_rᵀx_j ≥ 0} (dynamics.md §1.1), a_r frozen
    torch.manual_seed(2)
    model = du_two_layer()
    X = unit_normalize(torch.randn(6, 5, dtype=DT))
    active = (X @ model.hidden.weight.T > 0).to(DT)  # (n, m)
    H = (X @ X.T) * (active @ active.T) / model.width
    assert_gram_close(ntk_gram(model, X), H, rtol=1e-12)


class Residual(nn.Module):
    """Not an nn.Sequential: f(x) = v·tanh(Wx) + uᵀx, scalar output of shape (n,)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(5, 6, dtype=DT)
        self.v = nn.Parameter(torch.randn(6, dtype=DT))
        self.u = nn.Parameter(torch.randn(5, dtype=DT), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.inner(x)) @ self.v + x @ self.u  # (n,)


class Doubled(nn.Sequential):
    def forward(self, x: Tensor) -> Tensor:
        return 2 * super().forward(x)


def tied_weights() -> nn.Module:
    shared = nn.Linear(4, 4, dtype=DT)
    return nn.Sequential(nn.Linear(5, 4, dtype=DT), nn.Tanh(), shared, nn.Tanh(), shared,
                         nn.Linear(4, 1, dtype=DT))


def hooked() -> nn.Module:
    model = mlp([5, 4, 1], dtype=DT)
    model[1].register_forward_hook(lambda m, inp, out: 3 * out)
    return model


def overridden_forward() -> nn.Module:
    return Doubled(nn.Linear(5, 3, dtype=DT), nn.Tanh(), nn.Linear(3, 2, dtype=DT))


def layernorm() -> nn.Module:
    return nn.Sequential(nn.Linear(5, 4, dtype=DT), nn.LayerNorm(4, dtype=DT), nn.Linear(4, 1, dtype=DT))


@pytest.mark.parametrize("build", [Residual, overridden_forward, tied_weights, hooked, layernorm],
                         ids=lambda f: f.__name__)
def test_unsupported_models_fall_back_to_func(build):
    torch.manual_seed(4)
    model = build()
    X = torch.randn(6, 5, dtype=DT)
    assert not supports_layerwise(model)
    slots = [(m, name, p) for m in model.modules() for name, p in m._parameters.items()]
    G = ntk_gram(model, X)
    # the model keeps its own Parameter objects (functional_call alone breaks a module used twice)
    assert all(m._parameters[name] is p for m, name, p in slots)
    if G.shape[0] == X.shape[0]:  # scalar output: also against plain per-sample autograd
        assert_gram_close(G, loop_oracle(model, X))
    ref = oracle_gram(model, X)
    assert_gram_close(G, ref)
    with pytest.raises(ValueError, match="method='layerwise'"):
        ntk_gram(model, X, method="layerwise")


def test_scalar_output_shapes_and_all_frozen():
    torch.manual_seed(5)
    X = torch.randn(6, 5, dtype=DT)
    assert ntk_gram(Residual(), X).shape == (6, 6)  # (n,) output
    model = mlp([5, 4, 1], dtype=DT).requires_grad_(False)
    for method in ("layerwise", "func"):
        assert torch.equal(ntk_gram(model, X, method=method), torch.zeros(6, 6, dtype=DT))


def test_gram_is_psd_and_works_under_no_grad():
    torch.manual_seed(6)
    model = mlp([5, 32, 32, 1], activation=nn.GELU, dtype=DT)
    X = torch.randn(20, 5, dtype=DT)
    with torch.no_grad():
        G = ntk_gram(model, X)
    assert torch.equal(G, G.T)  # diagonal tiles are symmetrised, off-diagonal ones mirrored
    assert torch.linalg.eigvalsh(G).min() >= -1e-10 * G.abs().max()


def test_ntk_gram_input_errors():
    model = mlp([5, 4, 1], dtype=DT)
    with pytest.raises(ValueError, match=r"shape \(n, 5\).*\(6, 4\)"):
        ntk_gram(model, torch.randn(6, 4, dtype=DT))
    with pytest.raises(ValueError, match=r"\(2, 3, 5\)"):
        ntk_gram(model, torch.randn(2, 3, 5, dtype=DT))
    with pytest.raises(ValueError, match=r"\(n, 5\).*\(2, 3, 5\)"):  # the first Linear fixes d
        ntk_gram(nn.Sequential(nn.Tanh(), nn.Linear(5, 1, dtype=DT)), torch.randn(2, 3, 5, dtype=DT))
    with pytest.raises(ValueError, match="method must be one of .*'magic'"):
        ntk_gram(model, torch.randn(6, 5, dtype=DT), method="magic")
    with pytest.raises(ValueError, match="dtype"):
        ntk_gram(model, torch.randn(6, 5, dtype=torch.float32))
    with pytest.raises(ValueError, match="torch.Tensor"):
        ntk_gram(model, [[0.0] * 5])


# ---------------------------------------------------------------- analytic H∞

def test_relu_ntk_infinite_structure():
    torch.manual_seed(7)
    X = unit_normalize(torch.randn(12, 4, dtype=DT))
    H = relu_ntk_infinite(X)
    assert H.shape == (12, 12) and H.dtype == DT
    assert torch.equal(H, H.T)
    assert torch.allclose(H.diagonal(), torch.full((12,), 0.5, dtype=DT), rtol=0, atol=1e-12)
    assert torch.linalg.eigvalsh(H).min() > 0  # λ0 > 0: no two inputs are parallel
    # closed-form spot checks: orthogonal inputs give 0, antipodal inputs 0, x_iᵀx_j = 1/2 gives 1/6
    e = torch.eye(2, dtype=DT)
    assert relu_ntk_infinite(torch.stack([e[0], e[1], -e[0]]))[0, 1:].abs().max() <= 1e-15
    half = torch.tensor([[1.0, 0.0], [0.5, math.sqrt(3) / 2]], dtype=DT)
    assert math.isclose(relu_ntk_infinite(half)[0, 1].item(), 1 / 6, rel_tol=1e-12)


def test_relu_ntk_infinite_matches_monte_carlo():
    # H∞_ij = E_w[x_iᵀx_j 1{wᵀx_i ≥ 0, wᵀx_j ≥ 0}]; each summand lies in [−1, 1]·Bernoulli(p), so the
    # standard error of an M-sample mean is ≤ |x_iᵀx_j| sqrt(p(1−p)/M) ≤ 0.5/√M. Allow 6 standard errors.
    gen = torch.Generator().manual_seed(8)
    X = unit_normalize(torch.randn(6, 3, generator=gen, dtype=DT))
    M = 400_000
    active = (torch.randn(M, 3, generator=gen, dtype=DT) @ X.T >= 0).to(DT)  # (M, n)
    estimate = (X @ X.T) * (active.T @ active) / M
    assert (estimate - relu_ntk_infinite(X)).abs().max() <= 6 * 0.5 / math.sqrt(M)


def test_wide_du_net_gram_approaches_h_infinity():
    # E[H(0)] = H∞ exactly (a_r² = 1); H(0) is a mean over m i.i.d. neurons, same 0.5/√m standard error.
    gen = torch.Generator().manual_seed(9)
    X = unit_normalize(torch.randn(6, 4, generator=gen, dtype=DT))
    Hinf = relu_ntk_infinite(X)
    m = 200_000
    wide = ntk_gram(TwoLayerReLUNTK(4, m, generator=gen, dtype=DT), X)
    assert (wide - Hinf).abs().max() <= 6 * 0.5 / math.sqrt(m)
    # the average over seeds of narrow nets converges too (here 100 nets of width 2000: 200 000 neurons)
    mean = sum(ntk_gram(TwoLayerReLUNTK(4, 2000, generator=gen, dtype=DT), X) for _ in range(100)) / 100
    assert (mean - Hinf).abs().max() <= 6 * 0.5 / math.sqrt(m)


def test_relu_ntk_infinite_errors():
    X = torch.randn(5, 3, dtype=DT)
    with pytest.raises(ValueError, match="unit_normalize"):
        relu_ntk_infinite(X)
    with pytest.raises(ValueError, match="unit_normalize"):
        relu_ntk_infinite(unit_normalize(X) * (1 + 1e-5))
    relu_ntk_infinite(unit_normalize(X) * (1 + 1e-8))  # within tolerance
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        relu_ntk_infinite(torch.randn(5, dtype=DT))
    with pytest.raises(ValueError, match=r"zero rows \[1\]"):
        unit_normalize(torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=DT))


def test_unit_normalize_rows():
    X = torch.tensor([[3.0, 4.0], [0.0, -2.0]], dtype=DT)
    assert torch.allclose(unit_normalize(X), torch.tensor([[0.6, 0.8], [0.0, -1.0]], dtype=DT))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_inputs_or_weights_are_a_clear_error(bad):
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)).double()
    X = torch.randn(5, 3, dtype=torch.float64)
    X[2, 1] = bad
    with pytest.raises(ValueError, match="X must be finite; it has 1 NaN or infinite"):
        ntk_gram(net, X)
    with torch.no_grad():
        net[0].weight[0, 0] = bad
    with pytest.raises(ValueError, match="0.weight hold NaN or infinite"):
        ntk_gram(net, torch.randn(5, 3, dtype=torch.float64))
