"""The five explicit.* claims end to end at smoke scale: verdicts recomputed from the stored numbers, plots."""

from __future__ import annotations

import json
import math

import pytest

from netoptima.claims import verdict_in_range
from netoptima.cli import main
from netoptima.explicit import claims as C

IDS = ["explicit.better_optima", "explicit.lm_near_optimal", "explicit.mnist_no_training",
       "explicit.random_init_moves_toward", "explicit.warm_start_faster"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("explicit-smoke")
    assert main(["reproduce", "explicit", "--scale", "smoke", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    return {i: json.loads((out / "claims" / i / "evidence.json").read_text()) | {"_dir": out / "claims" / i}
            for i in IDS}


def test_every_claim_ran_and_plotted(smoke):
    for ev in smoke.values():
        assert ev["verdict"] in ("reproduced", "partly", "not reproduced"), ev["detail"]
        assert ev["artifacts"] and all((ev["_dir"] / a).stat().st_size > 5000 for a in ev["artifacts"])
        assert "Rule:" in ev["detail"]


def test_lm_near_optimal_verdict_and_numbers(smoke):
    ev = smoke["explicit.lm_near_optimal"]
    runs, thr = ev["data"]["runs"], ev["data"]["threshold"]
    assert len(runs) == len(C.SETTINGS)
    for r in runs:
        assert r["explicit"]["train"] < r["uniform"]  # the explicit solution beats log N
        assert r["gap_train"] > -1e-6  # L-BFGS starts at the explicit solution and never ends above it
    g_train, g_test = max(ev["data"]["gap_train"].values()), max(ev["data"]["gain_test"].values())
    want = "not reproduced" if g_test > thr else "reproduced" if g_train <= thr else "partly"
    assert ev["verdict"] == want


def test_random_init_verdict(smoke):
    ev = smoke["explicit.random_init_moves_toward"]
    ps = ev["data"]["per_seed"]
    worst = max(p["ratio"] for p in ps)
    ok = all(p["rises_before_min"] == 0 and p["dmin"] < p["dmin_control"] for p in ps)
    assert ev["verdict"] == ("reproduced" if worst <= 0.5 and ok else "partly" if worst <= 0.8 else "not reproduced")
    assert all(p["d0"] > 0.5 for p in ps)  # a random init is far from the explicit solution


def test_warm_start_verdict(smoke):
    ev = smoke["explicit.warm_start_faster"]
    faster = []
    for t in ev["data"]["targets"].values():
        w, c = t["warm_epochs"], t["cold_epochs"]
        faster.append(w is not None and (c is None or (w < c and t["warm_seconds"] < t["cold_seconds"])))
    assert ev["verdict"] == ("reproduced" if all(faster) else "partly" if any(faster) else "not reproduced")
    assert ev["data"]["targets"]["T1 explicit loss"]["warm_epochs"] == 0  # the warm start starts on target


def test_mnist_verdict_and_accuracy(smoke):
    ev = smoke["explicit.mnist_no_training"]
    acc = ev["data"]["explicit"]["explicit"]["test_acc"]
    assert 0.6 < acc < 0.95  # naive Bayes on 1,000 real MNIST digits: far above chance, below a trained model
    assert ev["verdict"] == verdict_in_range(acc, *C.MNIST_BAND, partly=C.MNIST_PARTLY)


def test_better_optima_verdict(smoke):
    ev = smoke["explicit.better_optima"]
    d = ev["data"]
    want = ("reproduced" if d["warm_max"] < d["cold4_min"] else "partly" if d["warm_max"] < d["cold_min"]
            else "not reproduced")
    assert ev["verdict"] == want
    assert math.isfinite(d["d_single"]) and d["d_single"] < 1e-2  # convex: both starts meet (20 L-BFGS iterations)
