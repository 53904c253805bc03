"""ntk.width_convergence end to end at smoke scale: computed verdict, plot, report."""

from __future__ import annotations

import json

import pytest

from netoptima.cli import main
from netoptima.ntk.claims import SLOPE_BAND, gram_error


def test_gram_error_shrinks_with_width():
    small = gram_error({"n": 16, "width": 64, "seed": 0})
    large = gram_error({"n": 16, "width": 16384, "seed": 0})
    # the error is a mean over m i.i.d. neurons: 256x the width should cut it by ~16x (allow 4x..64x)
    assert 4 < small["rel_error"] / large["rel_error"] < 64
    assert small["lambda_min_inf"] == pytest.approx(large["lambda_min_inf"], rel=1e-12)
    assert small["lambda_min_inf"] > 0


def test_width_convergence_smoke_end_to_end(tmp_path, capsys):
    assert main(["reproduce", "ntk.width_convergence", "--scale", "smoke", "--out", str(tmp_path),
                 "--workers", "1", "--quiet"]) == 0
    ev = json.loads((tmp_path / "claims" / "ntk.width_convergence" / "evidence.json").read_text())
    slope, lam = ev["data"]["slope"], ev["data"]["lambda_min_inf"]
    assert -0.8 < slope < -0.25  # m^-1/2 with 2 seeds on 32 points: noisy but clearly decaying
    low, high = SLOPE_BAND
    assert ev["verdict"] == ("reproduced" if low <= slope <= high and lam > 0 else "partly")
    assert len(ev["data"]["runs"]) == 6 and ev["runs_executed"] == 6
    assert (tmp_path / "claims" / "ntk.width_convergence" / "gram_error.png").stat().st_size > 1000
    assert "data:image/png;base64," in (tmp_path / "report.html").read_text()
    assert "ntk.width_convergence" in capsys.readouterr().out
