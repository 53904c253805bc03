"""Claim registry, selection and verdict helpers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from netoptima.claims import (
    Claim,
    Judgement,
    NotRun,
    Settings,
    check_scale,
    claim,
    loglog_slope,
    register,
    rejudge,
    run_claim,
    select,
    settings_from_json,
    verdict_in_range,
    worst,
)
from netoptima.sweep import Runner, run_fn


@dataclass(frozen=True, kw_only=True)
class Toy(Settings):
    n: int
    sizes: tuple[int, ...] = (1, 2)


@pytest.fixture(autouse=True)
def _restore_registry(monkeypatch):
    """Claims registered by a test leave the registry with it."""
    import netoptima.claims as claims

    claims.discover()
    monkeypatch.setattr(claims, "_REGISTRY", dict(claims._REGISTRY))


TOY = {"smoke": Toy(n=2, deviation="tiny"), "small": Toy(n=3), "paper": Toy(n=4)}
BUDGET = {"smoke": "1 s", "small": "1 s", "paper": "1 s"}


@run_fn(version=1)
def square(config):
    return {"square": config["i"] ** 2}


def _judge_sum(data, s):
    total = sum(r["square"] for r in data["runs"])
    expected = sum(i * i for i in range(s.n))
    return Judgement("reproduced" if total == expected else "not reproduced", f"sum {total}",
                     f"reproduced iff the sum is {expected}")


def _run_squares(s, runner):
    return {"runs": runner.map(square, [{"i": i} for i in range(s.n)], in_process=True)}


def test_judgement_rejects_unknown_verdicts_and_empty_rules():
    with pytest.raises(ValueError, match="verdict must be one of"):
        Judgement("great", "1", "a rule")
    with pytest.raises(ValueError, match="rule"):
        Judgement("reproduced", "1", " ")


def test_select_by_id_and_part_and_unknown():
    assert [c.id for c in select(["ntk.width_convergence"])] == ["ntk.width_convergence"]
    assert "ntk.width_convergence" in [c.id for c in select(["ntk"])]
    with pytest.raises(ValueError, match="unknown claim or part 'nope'"):
        select(["nope"])


def test_register_validates_ids_settings_and_budget():
    def make(**kw):
        return Claim(**{"id": "test.ok", "paper": "", "statement": "", "paper_value": "", "settings": TOY,
                        "run": _run_squares, "judge": _judge_sum, "budget": BUDGET, **kw})

    with pytest.raises(ValueError, match="part.name"):
        register(make(id="nodot"))
    with pytest.raises(ValueError, match="settings must name exactly the scales"):
        register(make(settings={"small": Toy(n=1)}))
    with pytest.raises(ValueError, match="frozen dataclass subclassing Settings"):
        register(make(settings={**TOY, "paper": {"n": 4}}))
    with pytest.raises(ValueError, match="budget must name all"):
        register(make(budget={"small": "1 s"}))


def test_run_judge_and_rejudge_round_trip(tmp_path):
    judge = claim(id="test.squares", paper="-", statement="-", paper_value="sum", settings=TOY, run=_run_squares,
                  budget=BUDGET)(_judge_sum)
    assert judge is _judge_sum  # the decorator registers and hands the judge back unchanged
    c = select(["test.squares"])[0]
    ev = run_claim(c, "small", Runner(tmp_path, quiet=True))
    assert ev.verdict == "reproduced" and ev.judgement.measured == "sum 5"
    rec = ev.record(c, "small")
    assert rec["settings"] == {"n": 3, "sizes": [1, 2], "deviation": ""} and rec["format"] == 2
    assert rejudge(rec)[1] == ev.judgement
    # the stored data decides: tampered data flips the verdict on re-judging
    rec["data"]["runs"][0]["square"] = 7
    assert rejudge(rec)[1].verdict == "not reproduced"
    assert settings_from_json(c, "smoke", {"n": 9, "sizes": [3]}) == Toy(n=9, sizes=(3,), deviation="tiny")
    with pytest.raises(ValueError, match="does not have"):
        settings_from_json(c, "smoke", {"n": 9, "gone": 1})
    with pytest.raises(ValueError, match="format 2"):
        rejudge({"id": "test.squares"})
    with pytest.raises(ValueError, match="not registered"):
        rejudge({**rec, "id": "test.nope"})


def test_bad_scale_from_python_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="scale must be one of .* got 'huge'"):
        run_claim(select(["ntk.width_convergence"])[0], "huge", Runner(tmp_path, quiet=True))
    assert check_scale("paper") == "paper"


def test_crash_not_run_and_missing_dependency(tmp_path):
    def crash(s, runner):
        raise ZeroDivisionError("oops")

    def missing_input(s, runner):
        raise NotRun("CIFAR-10 files not given")

    claim(id="test.crashes", paper="-", statement="-", paper_value="-", settings=TOY, run=crash,
          budget=BUDGET)(_judge_sum)
    claim(id="test.notrun", paper="-", statement="-", paper_value="-", settings=TOY, run=missing_input,
          budget=BUDGET)(_judge_sum)
    claim(id="test.needs", paper="-", statement="-", paper_value="-", settings=TOY, run=_run_squares,
          needs=("no_such_module_xyz",), budget=BUDGET)(_judge_sum)
    runner = Runner(tmp_path, quiet=True)
    ev = run_claim(select(["test.crashes"])[0], "smoke", runner)
    assert ev.verdict == "not run" and ev.crashed and "ZeroDivisionError: oops" in ev.judgement.detail
    ev = run_claim(select(["test.notrun"])[0], "smoke", runner)
    assert ev.verdict == "not run" and not ev.crashed and "CIFAR-10" in ev.judgement.detail
    ev = run_claim(select(["test.needs"])[0], "smoke", runner)
    assert ev.verdict == "not run" and "no_such_module_xyz" in ev.judgement.detail


def test_cpu_only_claim_says_so_when_another_device_is_asked(tmp_path):
    claim(id="test.cpuonly", paper="-", statement="-", paper_value="-", settings=TOY, run=_run_squares,
          budget=BUDGET, cpu_only="CVXPY runs on the CPU")(_judge_sum)
    runner = Runner(tmp_path, quiet=True, device="cuda")
    ev = run_claim(select(["test.cpuonly"])[0], "smoke", runner)
    assert runner.device == "cpu" and ev.verdict == "reproduced"
    assert any("ran on cpu, not cuda: CVXPY runs on the CPU" in n for n in ev.notes)
    assert all(r["device"] == "cpu" for r in ev.data["runs"])


def test_worst_orders_verdicts():
    assert worst("reproduced", "partly") == "partly"
    assert worst("partly", "not reproduced", "reproduced") == "not reproduced"


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


def test_paper_subset_is_labelled_and_the_full_setting_needs_the_variable(monkeypatch):
    from netoptima.claims import PAPER_FULL_ENV, paper_subset

    sub, full = Settings(deviation="paper setting, subset: 2 of 5 seeds"), Settings(deviation="")
    monkeypatch.delenv(PAPER_FULL_ENV, raising=False)
    assert paper_subset(sub, full) is sub
    monkeypatch.setenv(PAPER_FULL_ENV, "1")
    assert paper_subset(sub, full) is full
    with pytest.raises(ValueError, match="paper setting, subset:"):
        paper_subset(Settings(deviation="2 of 5 seeds"), full)  # an unlabelled subset is refused
