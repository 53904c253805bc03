"""Every cogo claim computes a verdict at smoke scale, and the claims share their training runs."""

from __future__ import annotations

import json

import pytest
import torch

from netoptima.claims import VERDICTS, run_claim, select
from netoptima.sweep import Runner


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # smoke-size GEMMs: a second thread only adds contention
    yield
    torch.set_num_threads(old)


def test_the_four_claims_are_registered():
    ids = {c.id for c in select(["cogo"])}
    assert ids == {"cogo.match_rate", "cogo.orders", "cogo.weight_decay_low_order", "cogo.decoupling"}
    for c in select(["cogo"]):
        assert set(c.budget) == {"smoke", "small", "paper"}


def test_smoke_scale_gives_computed_verdicts_and_plots(tmp_path):
    out = tmp_path / "claims"
    evidence = {}
    for c in select(["cogo"]):
        runner = Runner(out / c.id, scale="smoke", quiet=True, runs_dir=out / "runs")  # shared, as the CLI does
        ev = run_claim(c, "smoke", runner)
        assert ev.verdict in VERDICTS and ev.verdict != "not run", (c.id, ev.detail, ev.data.get("traceback"))
        assert "reproduced iff" in ev.detail.lower()  # the verdict rule is written out
        for a in ev.artifacts:
            assert (out / c.id / a).stat().st_size > 1000
        json.dumps(ev.data)
        evidence[c.id] = (ev, runner)
    # cogo.orders and cogo.weight_decay_low_order train the same batches: the second adopts the first's runs
    assert evidence["cogo.weight_decay_low_order"][1].resumed >= 1
    ev = evidence["cogo.match_rate"][0]
    assert 0.0 <= ev.data["summary"]["match_pooled"] <= 1.0
