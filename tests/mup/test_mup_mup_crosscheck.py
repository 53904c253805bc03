"""Cross-check with microsoft/mup: same initial weights -> same outputs and same SGD updates (SP and μP)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from netoptima.mup import MLP, param_groups

mup = pytest.importorskip("mup")

from netoptima.mup.mup_twin import mup_effective_weights, mup_twin  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny matmuls: one thread is fastest on a shared box


def _pair(p: str, n: int, depth: int, dtype: torch.dtype, lr: float = 0.2):
    model = MLP(20, n, 5, depth=depth, parametrization=p, base_width=64,
                generator=torch.Generator().manual_seed(n + depth), dtype=dtype)
    twin = mup_twin(model)
    return model, twin, torch.optim.SGD(param_groups(model, lr)), mup.MuSGD(twin.parameters(), lr=lr)


def _max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().abs().max() / b.detach().abs().max())


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("n", [48, 64, 100, 1000])
@pytest.mark.parametrize("p", ["sp", "mup"])
def test_same_outputs_and_sgd_updates_as_mup(p, n, depth):
    # float64: outputs and the updates ΔW themselves agree to roundoff (measured <= 2e-14 relative; 1e-12 allowed),
    # so every per-layer learning rate and multiplier is the same as mup's, not merely close.
    model, twin, opt, muopt = _pair(p, n, depth, torch.float64)
    g = torch.Generator().manual_seed(7)
    X = torch.randn(16, 20, generator=g, dtype=torch.float64)
    Y = torch.randn(16, 5, generator=g, dtype=torch.float64)
    assert _max_rel(model(X), twin(X)) <= 1e-12
    W0 = model.effective_weights()
    for _ in range(3):  # the first update, and two more on the moved weights
        for m, o in ((model, opt), (twin, muopt)):
            o.zero_grad()
            F.mse_loss(m(X), Y).backward()
            o.step()
        for a, b, w0 in zip(model.effective_weights(), mup_effective_weights(twin), W0, strict=True):
            assert (b - w0).abs().max() > 0
            assert _max_rel(a - w0, b - w0) <= 1e-12
    assert _max_rel(model(X), twin(X)) <= 1e-12


@pytest.mark.parametrize("n", [64, 100, 1000])
@pytest.mark.parametrize("p", ["sp", "mup"])
def test_same_outputs_and_first_step_as_mup_float32(p, n):
    # The 1e-6, in float32: outputs and weights after the first step agree within a few float32 ulps
    # (measured <= 3e-7 relative). The update ΔW itself is not compared in float32: W+ΔW − W loses the digits
    # of ΔW below ulp(W) (that is the float64 test above).
    model, twin, opt, muopt = _pair(p, n, 3, torch.float32)
    g = torch.Generator().manual_seed(7)
    X, Y = torch.randn(16, 20, generator=g), torch.randn(16, 5, generator=g)
    assert _max_rel(model(X), twin(X)) <= 1e-6
    for m, o in ((model, opt), (twin, muopt)):
        F.mse_loss(m(X), Y).backward()
        o.step()
    for a, b in zip(model.effective_weights(), mup_effective_weights(twin), strict=True):
        assert _max_rel(a, b) <= 1e-6
    assert _max_rel(model(X), twin(X)) <= 1e-6


def test_crosscheck_can_fail_ntp_is_not_mup():
    # negative control: NTP's first update differs from mup's μP update on the same weights by a factor ~n/n0
    ntp = MLP(20, 512, 5, depth=3, parametrization="ntp", generator=torch.Generator().manual_seed(0),
              dtype=torch.float64)
    mu = MLP(20, 512, 5, depth=3, parametrization="mup", generator=torch.Generator().manual_seed(1),
             dtype=torch.float64)
    with torch.no_grad():  # μP's model with NTP's effective weights
        for a, b in zip(mu.layers, ntp.layers, strict=True):
            a.weight.copy_(b.effective_weight() / a.multiplier)
    twin = mup_twin(mu)
    X, Y = torch.randn(8, 20, dtype=torch.float64), torch.randn(8, 5, dtype=torch.float64)
    assert _max_rel(ntp(X), twin(X)) < 1e-12  # same function...
    W0 = ntp.effective_weights()
    for m, o in ((ntp, torch.optim.SGD(param_groups(ntp, 0.1))), (twin, mup.MuSGD(twin.parameters(), lr=0.1))):
        F.mse_loss(m(X), Y).backward()
        o.step()
    d_ntp = ntp.effective_weights()[0] - W0[0]
    d_mup = mup_effective_weights(twin)[0] - W0[0]
    assert _max_rel(d_ntp, d_mup) > 0.5  # ...but a different input-layer learning rate (η vs η·n/n0)


@pytest.mark.parametrize("p", ["ntp", "mf"])
def test_twin_refuses_what_mup_does_not_implement(p):
    with pytest.raises(ValueError, match="mup implements only 'sp' and 'mup'"):
        mup_twin(MLP(4, 8, 2, depth=2, parametrization=p))
