"""The four mup.* claims end to end at smoke scale: computed verdicts that follow their written rules, plots."""

from __future__ import annotations

import json
import math

import pytest
import torch

from netoptima.claims import VERDICTS, loglog_slope, select
from netoptima.cli import main
from netoptima.mup import claims as C

IDS = ["mup.feature_change", "mup.feature_diversity", "mup.global_convergence", "mup.lr_transfer"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("mup-smoke")
    try:
        assert main(["reproduce", "mup", "--scale", "smoke", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    finally:
        torch.set_num_threads(old)
    return out


def _ev(out, cid):
    return json.loads((out / "claims" / cid / "evidence.json").read_text())


def test_prefix_selects_the_four_claims():
    assert sorted(c.id for c in select(["mup"])) == IDS


def test_every_claim_computes_a_verdict_with_plots(smoke):
    for cid in IDS:
        ev = _ev(smoke, cid)
        assert ev["verdict"] in VERDICTS and ev["verdict"] != "not run", (cid, ev["detail"])
        assert "Rule:" in ev["detail"]
        for a in ev["artifacts"]:
            assert (smoke / "claims" / cid / a).stat().st_size > 1000
    assert "mup.lr_transfer" in (smoke / "report.md").read_text()


def test_feature_change_verdict_follows_its_rule(smoke):
    ev = _ev(smoke, "mup.feature_change")
    runs = ev["data"]["runs"]
    for label in ("SP", "NTP", "μP"):
        rs = [r for r in runs if r["variant"] == label]
        for layer in (0, 1):  # the stored slopes are the fit of the stored runs
            want = loglog_slope([r["width"] for r in rs], [r["change"][layer] for r in rs])
            assert ev["data"]["slopes"][label][layer] == pytest.approx(want, rel=1e-9)
    s = ev["data"]["slopes"]
    flat = all(abs(v) <= C.FLAT for v in s["μP"])
    shrink = all(v <= C.SHRINK for k in ("SP", "NTP") for v in s[k])
    assert (ev["verdict"] == "reproduced") == (flat and shrink)
    # SP at its stable rate and NTP shrink even at smoke scale (kernel regime: n^-1.5 and n^-0.5 at layer 1)
    assert s["SP"][0] < -0.5 and s["NTP"][0] < -0.25
    assert set(ev["data"]["coord_slopes"]) == {"sp", "ntp", "mup", "mf"}


def test_feature_diversity_verdict_follows_its_rule(smoke):
    ev = _ev(smoke, "mup.feature_diversity")
    s = ev["data"]["slopes"]
    assert ev["data"]["mf_minus_mup"] == pytest.approx(s["MF"][-1] - s["μP"][-1])
    # at init the hidden layer of MF is ~n^{-1/2} per coordinate: λ_min(K/n) falls ~1/n faster than μP's (±0.25)
    init = ev["data"]["slopes_init"]
    assert init["MF"][-1] - init["μP"][-1] == pytest.approx(-1.0, abs=0.25)
    collapse = ev["data"]["mf_minus_mup"] <= C.COLLAPSE
    keep = all(v >= -C.FLAT for k in ("SP", "NTP", "μP") for v in s[k]) and all(
        v > C.RANK_TOL for k in ("SP", "NTP", "μP") for v in ev["data"]["lam_rel_at_max_width"][k])
    assert (ev["verdict"] == "reproduced") == (collapse and keep)


def test_global_convergence_verdict_follows_its_rule(smoke):
    ev = _ev(smoke, "mup.global_convergence")
    rows = ev["data"]["summary"]
    ok = (all(not x["diverged"] and x["loss_ratio"] <= C.LOSS_DROP and x["grad_ratio"] <= C.GRAD_DROP
              and x["min_lam_rel"] > C.RANK_TOL for x in rows))
    assert (ev["verdict"] == "reproduced") == ok
    for r in ev["data"]["runs"]:  # Cor. 4.6 bound is an inequality: it can never be below the loss
        assert all(b is None or b >= ls * (1 - 1e-5) for b, ls in zip(r["bound"], r["loss"], strict=True))


def test_lr_transfer_verdict_follows_its_rule(smoke):
    ev = _ev(smoke, "mup.lr_transfer")
    reg = {p: {n: (math.inf if v is None else v) for n, v in d.items()} for p, d in ev["data"]["regret"].items()}
    nmax = str(C.TRANSFER["smoke"]["widths"][-1])
    stays = all(v <= C.REGRET_OK for v in reg["mup"].values())
    drifts = reg["sp"][nmax] >= C.REGRET_BAD and ev["data"]["shift"]["sp"][nmax] <= -C.DRIFT
    assert (ev["verdict"] == "reproduced") == (stays and drifts)
    # at the base width SP and μP are the same net: identical loss curves
    n0 = str(C.TRANSFER["smoke"]["widths"][0])
    assert ev["data"]["losses"]["sp"][n0] == ev["data"]["losses"]["mup"][n0]
