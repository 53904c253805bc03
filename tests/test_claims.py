"""Claim registry, selection and verdict helpers."""

from __future__ import annotations

import math

import pytest

from netoptima.claims import (
    Claim,
    Evidence,
    claim,
    loglog_slope,
    register,
    run_claim,
    select,
    verdict_in_range,
)
from netoptima.sweep import Runner


def test_evidence_rejects_unknown_verdicts():
    with pytest.raises(ValueError, match="verdict must be one of"):
        Evidence(measured=1, verdict="great")


def test_select_by_id_and_part_and_unknown():
    assert [c.id for c in select(["ntk.width_convergence"])] == ["ntk.width_convergence"]
    assert "ntk.width_convergence" in [c.id for c in select(["ntk"])]
    with pytest.raises(ValueError, match="unknown claim or part 'nope'"):
        select(["nope"])


def test_register_validates_ids():
    def run(scale, runner):
        return Evidence(measured=0, verdict="reproduced")

    with pytest.raises(ValueError, match="part.name"):
        register(Claim(id="nodot", paper="", statement="", paper_value="", run=run))


def test_crash_and_missing_dependency_become_not_run(tmp_path):
    @claim(id="test.crashes", paper="-", statement="-", paper_value="-")
    def crashes(scale, runner):
        raise ZeroDivisionError("oops")

    @claim(id="test.needs", paper="-", statement="-", paper_value="-", needs=("no_such_module_xyz",))
    def needs(scale, runner):
        return Evidence(measured=0, verdict="reproduced")

    runner = Runner(tmp_path, quiet=True)
    ev = run_claim(crashes, "smoke", runner)
    assert ev.verdict == "not run" and "ZeroDivisionError: oops" in ev.detail and ev.data["crashed"]
    ev = run_claim(needs, "smoke", runner)
    assert ev.verdict == "not run" and "no_such_module_xyz" in ev.detail


def test_verdict_in_range():
    assert verdict_in_range(-0.5, -0.6, -0.4) == "reproduced"
    assert verdict_in_range(-0.7, -0.6, -0.4, partly=(-1.0, 0.0)) == "partly"
    assert verdict_in_range(0.3, -0.6, -0.4, partly=(-1.0, 0.0)) == "not reproduced"
    assert verdict_in_range(math.nan, -1, 1) == "not reproduced"


def test_loglog_slope_recovers_power_law():
    x = [2.0**k for k in range(6, 12)]
    assert loglog_slope(x, [3 * v**-0.5 for v in x]) == pytest.approx(-0.5, abs=1e-12)
    with pytest.raises(ValueError, match="two distinct"):
        loglog_slope([4, 4], [1, 2])


def test_a_broken_part_does_not_hide_the_others(monkeypatch, tmp_path):
    import netoptima.claims as claims

    monkeypatch.setattr(claims, "PARTS", claims.PARTS + ("fakepart",))
    monkeypatch.setattr(claims, "BROKEN_PARTS", {})
    import netoptima

    # a part whose claims module raises on import, on an extra search path of the package

    monkeypatch.setattr(netoptima, "__path__", list(netoptima.__path__) + [str(tmp_path / "netoptima")])
    (tmp_path / "netoptima" / "fakepart").mkdir(parents=True)
    (tmp_path / "netoptima" / "fakepart" / "__init__.py").write_text("")
    (tmp_path / "netoptima" / "fakepart" / "claims.py").write_text("raise RuntimeError('broken on purpose')")
    assert "ntk.width_convergence" in claims.discover()
    assert claims.BROKEN_PARTS == {"fakepart": "RuntimeError: broken on purpose"}
    with pytest.raises(ValueError, match="part 'fakepart' could not be loaded: RuntimeError: broken on purpose"):
        claims.select(["fakepart"])
