"""The squared-loss PL certifier against a float64 brute-force Jacobian (torch.func.jacrev) and a GD run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev

from netoptima.certification import certify
from netoptima.models import TwoLayerReLUNTK, mlp

DT = torch.float64


def jacobian(model: nn.Module, X: Tensor) -> Tensor:
    """J = ∂ vec(model(X)) / ∂θ over the trainable parameters, built explicitly (n·c, P)."""
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    jac = jacrev(lambda p: functional_call(model, p, (X,)).reshape(-1))(params)
    return torch.cat([j.reshape(j.shape[0], -1) for j in jac.values()], dim=1)


def oracle(model: nn.Module, X: Tensor, y: Tensor) -> dict[str, float]:
    """λ_min(JJᵀ) from the explicit J (numpy), ‖∇L‖ by autograd, L by a forward pass: all independent."""
    J = jacobian(model, X).numpy()
    eig = np.linalg.eigvalsh(J @ J.T)
    n = X.shape[0]
    params = [p for p in model.parameters() if p.requires_grad]
    out = model(X)
    loss = (out.reshape(-1) - y.reshape(-1)).pow(2).sum() / (2 * n)
    grads = torch.autograd.grad(loss, params)
    g2 = float(sum(float(g.pow(2).sum()) for g in grads))
    return {"lambda_min": float(eig[0]), "lambda_max": float(eig[-1]), "grad_sq": g2, "loss": float(loss.detach()),
            "pl_bound": n * g2 / (2 * float(eig[0])), "rnorm": math.sqrt(2 * n * float(loss.detach()))}


class Residual(nn.Module):
    """Not an nn.Sequential: ntk_gram takes the torch.func path."""

    def __init__(self) -> None:
        super().__init__()
        self.inp, self.hid, self.out = nn.Linear(4, 24, dtype=DT), nn.Linear(24, 24, dtype=DT), nn.Linear(24, 2,
                                                                                                         dtype=DT)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.tanh(self.inp(x))
        return self.out(h + torch.sin(self.hid(h)))


def _model(kind: str) -> tuple[nn.Module, int]:
    torch.manual_seed(1)
    if kind == "tanh_scalar":
        return mlp([4, 32, 32, 1], activation=nn.Tanh, dtype=DT), 1
    if kind == "relu_vector":
        return mlp([4, 40, 3], dtype=DT), 3
    if kind == "frozen_output":
        return TwoLayerReLUNTK(4, 64, generator=torch.Generator().manual_seed(2), dtype=DT), 1
    return Residual(), 2


@pytest.mark.parametrize("kind", ["tanh_scalar", "relu_vector", "frozen_output", "func_path"])
def test_pl_quantities_match_jacobian_oracle(kind: str, one_thread: None) -> None:
    model, c = _model(kind)
    g = torch.Generator().manual_seed(5)
    n = 10
    X = torch.randn(n, 4, generator=g, dtype=DT)
    y = torch.randn(n, c, generator=g, dtype=DT).squeeze(-1)
    ref = oracle(model, X, y)
    cert = certify(model, X, y)
    d = cert.details
    assert cert.method == "squared_loss_pl"
    assert ref["lambda_min"] > 1e-8 * ref["lambda_max"]  # the oracle sees a non-singular Gram
    assert d["lambda_min"] == pytest.approx(ref["lambda_min"], rel=1e-8, abs=1e-10 * ref["lambda_max"])
    assert d["grad_norm"] ** 2 == pytest.approx(ref["grad_sq"], rel=1e-10)
    assert cert.objective == pytest.approx(ref["loss"], rel=1e-12)
    assert d["pl_bound"] == pytest.approx(ref["pl_bound"], rel=1e-6)
    assert d["pl_bound"] >= cert.objective
    assert d["pl_radius"] == pytest.approx(ref["rnorm"] / math.sqrt(ref["lambda_min"]), rel=1e-6)
    assert cert.lower_bound == 0.0 and cert.gap == cert.objective and not cert.certified
    assert d["trainable_parameters"] == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_pl_bound_holds_along_a_gd_run(one_thread: None) -> None:
    torch.manual_seed(0)
    model = mlp([3, 48, 1], activation=nn.Tanh, dtype=DT)
    g = torch.Generator().manual_seed(1)
    n = 12
    X = torch.randn(n, 3, generator=g, dtype=DT)
    y = torch.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    checked, losses = 0, []
    for _ in range(40):
        with torch.no_grad():
            measured = float((model(X).squeeze(-1) - y).pow(2).sum()) / (2 * n)
        cert = certify(model, X, y)
        assert cert.objective == pytest.approx(measured, rel=1e-12)
        assert cert.lower_bound <= cert.objective
        if cert.details["lambda_min"] > cert.details["singular_threshold"]:
            lam = oracle(model, X, y)["lambda_min"]
            assert cert.details["lambda_min"] == pytest.approx(lam, rel=1e-7)
            assert cert.details["pl_bound"] >= measured * (1 - 1e-12)
            checked += 1
        losses.append(measured)
        opt.zero_grad()
        ((model(X).squeeze(-1) - y).pow(2).sum() / (2 * n)).backward()
        opt.step()
    assert checked >= 35  # over-parametrized (P = 241 ≫ n = 12): the Gram stays non-singular
    assert losses[-1] < 0.5 * losses[0]  # the run trains; the bound was checked on a moving loss


def test_early_stopped_network_is_not_certified_and_an_interpolating_one_is(one_thread: None) -> None:
    torch.manual_seed(3)
    model = mlp([3, 64, 1], activation=nn.Tanh, dtype=DT)
    g = torch.Generator().manual_seed(4)
    X = torch.randn(16, 3, generator=g, dtype=DT)
    y = torch.randn(16, generator=g, dtype=DT)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(5):
        opt.zero_grad()
        ((model(X).squeeze(-1) - y).pow(2).sum() / 32).backward()
        opt.step()
    early = certify(model, X, y)
    assert not early.certified and early.gap > 1e-3
    assert "not at a global minimum" in early.details["reason"]
    # a zero-loss point: the last layer solved exactly on the 64 features (independent numpy solve)
    with torch.no_grad():
        F = torch.cat([model[:-1](X), torch.ones(16, 1, dtype=DT)], dim=1).numpy()
        sol = np.linalg.lstsq(F, y.numpy(), rcond=None)[0]
        model[-1].weight.copy_(torch.from_numpy(sol[:-1])[None])
        model[-1].bias.copy_(torch.from_numpy(sol[-1:]))
    done = certify(model, X, y)
    assert done.certified and done.objective < 1e-20 and "reason" not in done.details


def test_singular_gram_is_reported_not_raised(one_thread: None) -> None:
    torch.manual_seed(0)
    model = mlp([2, 32, 1], dtype=DT)
    X = torch.randn(6, 2, dtype=DT)
    X[1] = X[0]  # a repeated input with a different target: JJᵀ is singular and L* > 0
    y = torch.arange(6, dtype=DT)
    cert = certify(model, X, y)
    assert not cert.certified
    assert cert.details["reason"].startswith("not certifiable at this point: λ_min(JJᵀ) = ")
    assert cert.details["lambda_min"] <= cert.details["singular_threshold"]
    assert cert.details["pl_bound"] is None
    X[1] = X[0] + 1e-10  # nearly repeated: λ_min ~ 1e-20 · scale, below the rounding of the Gram
    assert certify(model, X, y).details["reason"].startswith("not certifiable at this point")


def test_rcond_decides_what_counts_as_singular(one_thread: None) -> None:
    torch.manual_seed(0)
    model, X, y = mlp([2, 32, 1], dtype=DT), torch.randn(6, 2, dtype=DT), torch.randn(6, dtype=DT)
    ok = certify(model, X, y)
    ratio = ok.details["lambda_min"] / ok.details["lambda_max"]
    assert ratio > 1e-6 and ok.details["pl_bound"] is not None
    assert certify(model, X, y, rcond=ratio * 0.99).details["pl_bound"] == ok.details["pl_bound"]
    strict = certify(model, X, y, rcond=ratio * 1.01)
    assert strict.details["pl_bound"] is None and strict.details["reason"].startswith("not certifiable")


def test_eigensolver_failure_is_an_honest_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(G: Tensor) -> Tensor:
        raise torch.linalg.LinAlgError("failed to converge")

    monkeypatch.setattr(torch.linalg, "eigvalsh", broken)
    torch.manual_seed(0)
    cert = certify(mlp([2, 16, 1], dtype=DT), torch.randn(4, 2, dtype=DT), torch.randn(4, dtype=DT))
    assert not cert.certified and "did not converge" in cert.details["reason"]


def test_too_few_parameters_and_weight_decay_say_no_global_bound(one_thread: None) -> None:
    torch.manual_seed(0)
    X, y = torch.randn(20, 2, dtype=DT), torch.randn(20, dtype=DT)
    small = mlp([2, 2, 1], dtype=DT)  # P = 9 < n = 20
    cert = certify(small, X, y)
    assert not cert.certified and "too few trainable parameters" in cert.details["reason"]
    assert "lambda_min" not in cert.details

    model = mlp([2, 64, 1], dtype=DT)
    wd = 1e-2
    cert = certify(model, X, y, weight_decay=wd)
    with torch.no_grad():
        expected = float((model(X).squeeze(-1) - y).pow(2).sum()) / 40 + wd / 2 * sum(
            float(p.pow(2).sum()) for p in model.parameters())
    assert cert.objective == pytest.approx(expected, rel=1e-12)
    assert not cert.certified and "weight decay" in cert.details["reason"]
    assert "global bound" in cert.details["reason"]


def test_float32_model_and_float64_copy(one_thread: None) -> None:
    torch.manual_seed(0)
    model = mlp([3, 32, 1], activation=nn.Tanh)  # float32
    X, y = torch.randn(8, 3, dtype=DT), torch.randn(8, dtype=DT)  # converted to the model's dtype
    c32 = certify(model, X, y)
    c64 = certify(model, X, y, float64=True)
    assert next(model.parameters()).dtype == torch.float32  # the model itself is untouched
    assert c64.details["dtype"] == "float64" and c32.details["dtype"] == "float32"
    assert c32.objective == pytest.approx(c64.objective, rel=1e-5)
    assert c32.details["lambda_min"] == pytest.approx(c64.details["lambda_min"], rel=1e-3)
