"""ntk.width_convergence: the run function, the judge on hand-written data, a broken method, end to end."""

from __future__ import annotations

import json

import pytest
import torch

from netoptima.claims import run_claim, select
from netoptima.cli import main
from netoptima.ntk.claims import WIDTH_CONVERGENCE, judge_width_convergence
from netoptima.ntk.experiments import gram_error

SMALL = WIDTH_CONVERGENCE["small"]


def test_gram_error_shrinks_with_width():
    small = gram_error({"n": 16, "width": 64, "seed": 0, "device": "cpu"})
    large = gram_error({"n": 16, "width": 16384, "seed": 0, "device": "cpu"})
    # the error is a mean over m i.i.d. neurons: 256x the width should cut it by ~16x (allow 4x..64x)
    assert 4 < small["rel_error"] / large["rel_error"] < 64
    assert small["lambda_min_inf"] == pytest.approx(large["lambda_min_inf"], rel=1e-12)
    assert small["lambda_min_inf"] > 0


def _runs(exponent: float, lam: float = 0.1) -> dict:
    """Hand-written data: errors exactly c·m^exponent at every width and seed."""
    return {"runs": [{"n": 256, "width": m, "seed": k, "rel_error": 3.0 * m**exponent, "lambda_min_inf": lam}
                     for m in SMALL.widths for k in range(SMALL.seeds)]}


def test_judge_reproduces_the_paper_rate():
    assert judge_width_convergence(_runs(-0.5), SMALL).verdict == "reproduced"


@pytest.mark.parametrize("exponent, lam", [(0.0, 0.1), (0.2, 0.1), (-0.5, 0.0)])
def test_judge_rejects_a_world_without_convergence(exponent, lam):
    # no convergence (m^0), divergence, or a singular H∞ (λ0 = 0, the theorem's assumption fails)
    assert judge_width_convergence(_runs(exponent, lam), SMALL).verdict == "not reproduced"


def test_judge_calls_another_rate_partly():
    assert judge_width_convergence(_runs(-1.0), SMALL).verdict == "partly"


def test_broken_gram_is_not_reproduced(tmp_path, monkeypatch, runner):
    """Break the method: an empirical Gram computed with the second layer's scale wrong by √2 (a common slip)."""
    import netoptima.ntk.experiments as E

    real = E.ntk_gram
    monkeypatch.setattr(E, "ntk_gram", lambda model, X: 2.0 * real(model, X))
    ev = run_claim(select(["ntk.width_convergence"])[0], "smoke", runner)
    assert ev.verdict != "reproduced"
    assert "slope" in ev.judgement.measured


def test_width_convergence_smoke_end_to_end(tmp_path, capsys):
    assert main(["reproduce", "ntk.width_convergence", "--scale", "smoke", "--out", str(tmp_path),
                 "--workers", "1", "--quiet"]) == 0
    ev = json.loads((tmp_path / "claims" / "ntk.width_convergence" / "evidence.json").read_text())
    assert ev["verdict"] == judge_width_convergence(ev["data"], WIDTH_CONVERGENCE["smoke"]).verdict
    assert len(ev["data"]["runs"]) == 6 and ev["runs_executed"] == 6
    assert all(r["device"] == "cpu" for r in ev["data"]["runs"])
    assert ev["settings"]["widths"] == [64, 256, 1024] and ev["scale"] == "smoke" and ev["deviation"]
    assert (tmp_path / "claims" / "ntk.width_convergence" / "gram_error.png").stat().st_size > 1000
    assert "data:image/png;base64," in (tmp_path / "report.html").read_text()
    assert "ntk.width_convergence" in capsys.readouterr().out
    assert torch.get_num_threads() >= 1
