"""certify.* claims: each judge on hand-written data (a world where the certifier is right, one where it is wrong),
and a method-breaking smoke run (a certifier that inflates its lower bound to the objective)."""

from __future__ import annotations

import dataclasses

import pytest

from netoptima.certification.claims import (
    COGO,
    DEQ,
    QUADRATIC,
    SOFTMAX,
    SQUARED,
    judge_cogo,
    judge_deq,
    judge_quadratic,
    judge_softmax,
    judge_squared,
)
from netoptima.certification.core import make_certificate
from netoptima.claims import run_claim, select


def _net(ref: float, objective: float, lower: float, tol: float = 1e-6, **kw) -> dict:
    certified = objective - lower <= tol * max(1.0, abs(objective))
    return {"objective": objective, "lower_bound": lower, "gap": objective - lower, "certified": certified,
            "reference": ref, **kw}


# ----------------------------------------------------------------------------------------------- quadratic
def _quadratic(decoded_lower: float, short_lower: float) -> dict:
    p = 1.4580761569856944
    dec = _net(p, p + 1e-10, decoded_lower)
    dec.pop("reference")
    nets = [{**_net(p, 8.68, short_lower), "data_seed": 0, "steps": 100},
            {**_net(p, 1.59, 1.33), "data_seed": 0, "steps": 2000}]
    for r in nets:
        r.pop("reference")
    return {"sdp": [{"data_seed": 0, "p_star": p, "decoded": dec}], "nets": nets}


def test_quadratic_judge_reproduces_a_valid_tight_bound():
    assert judge_quadratic(_quadratic(1.4580760177, 0.49), QUADRATIC["smoke"]).verdict == "reproduced"


@pytest.mark.parametrize("decoded_lower, short_lower", [(1.4580760177, 2.0), (1.4580760177, 8.68), (1.47, 0.49)])
def test_quadratic_judge_rejects_a_bound_above_p_star_or_a_false_certificate(decoded_lower, short_lower):
    # a bound above p* on the short net; the short net certified (bound = its objective); a bound above p* at the
    # optimum
    assert judge_quadratic(_quadratic(decoded_lower, short_lower), QUADRATIC["smoke"]).verdict == "not reproduced"


def test_quadratic_judge_calls_a_loose_bound_at_the_optimum_partly():
    assert judge_quadratic(_quadratic(1.2, 0.49), QUADRATIC["smoke"]).verdict == "partly"


# ------------------------------------------------------------------------------------------------- softmax
def _softmax(long_lower: float, sep_lower: float = 0.0, detected: bool | None = True) -> dict:
    ref = 0.3459170978
    runs = [{**_net(ref, 0.62, 0.3459170955), "steps": 20, "separable": False, "weight_decay": 0.0,
             "separable_detected": False},
            {**_net(ref, 0.3459170960, long_lower), "steps": 1500, "separable": False, "weight_decay": 0.0,
             "separable_detected": False},
            {**_net(0.0, 0.024, sep_lower), "steps": 1500, "separable": True, "weight_decay": 0.0,
             "separable_detected": detected},
            {**_net(0.6548601632, 0.6548601632, 0.6548601632), "steps": 1500, "separable": False,
             "weight_decay": 0.05, "separable_detected": None},
            {**_net(0.6548601632, 0.9, 0.6548601632), "steps": 20, "separable": False, "weight_decay": 0.05,
             "separable_detected": None},
            {**_net(0.0, 0.6, 0.0), "steps": 20, "separable": True, "weight_decay": 0.0, "separable_detected": True}]
    return {"runs": runs}


def test_softmax_judge_calls_missing_runs_partly():
    data = _softmax(0.3459170955)
    data["runs"].pop()
    assert judge_softmax(data, SOFTMAX["smoke"]).verdict == "partly"


def test_softmax_judge_reproduces_a_valid_tight_bound():
    assert judge_softmax(_softmax(0.3459170955), SOFTMAX["smoke"]).verdict == "reproduced"


@pytest.mark.parametrize("long_lower, sep_lower, detected", [(0.35, 0.0, True), (0.3459170955, 0.01, True),
                                                             (0.3459170955, 0.0, False)])
def test_softmax_judge_rejects_a_wrong_certifier(long_lower, sep_lower, detected):
    # a bound above L*; a positive bound on separable data (inf = 0); separability missed
    assert judge_softmax(_softmax(long_lower, sep_lower, detected), SOFTMAX["smoke"]).verdict == "not reproduced"


def test_softmax_judge_calls_a_loose_bound_partly():
    assert judge_softmax(_softmax(0.30), SOFTMAX["smoke"]).verdict == "partly"


# ----------------------------------------------------------------------------------------------------- DEQ
def _deq(mse_lower: float, short_lower: float | None = None) -> dict:
    L = 0.2898871289332156
    runs = [{**_net(L, 0.994, L if short_lower is None else short_lower), "loss": "mse", "steps": 20},
            {**_net(L, L, mse_lower), "loss": "mse", "steps": 2000},
            {**_net(0.627832875181, 0.6278328751803, 0.6278328751802), "loss": "cross_entropy", "steps": 2000},
            {**_net(0.627832875181, 1.05, 0.6278328751802), "loss": "cross_entropy", "steps": 20}]
    return {"runs": runs}


def test_deq_judge_reproduces_the_exact_optimum():
    assert judge_deq(_deq(0.2898871289332156), DEQ["smoke"]).verdict == "reproduced"


@pytest.mark.parametrize("mse_lower, short_lower", [(0.2898871289332156 - 1e-6, None), (0.2898871289332156, 0.994)])
def test_deq_judge_rejects_a_wrong_optimum_or_a_false_certificate(mse_lower, short_lower):
    # a closed form off by 1e-6 (a bound, but not the optimum); the early-stopped net certified
    assert judge_deq(_deq(mse_lower, short_lower), DEQ["smoke"]).verdict == "not reproduced"


# ---------------------------------------------------------------------------------------------- squared PL
def _pl(lam_end: float = 1.4, dist_end: float = 2.1, loss_end: float = 0.0, pl_end: float = 0.0) -> dict:
    recs = [{"step": 0, "loss": 0.66, "certified": False, "lambda_min": 0.86, "pl_bound": 3.65,
             "pl_radius_half": 7.0, "distance": 0.0},
            {"step": 50, "loss": 0.016, "certified": False, "lambda_min": 1.3, "pl_bound": 0.046,
             "pl_radius_half": 0.88, "distance": 1.8},
            {"step": 600, "loss": loss_end, "certified": loss_end <= 1e-6, "lambda_min": lam_end,
             "pl_bound": pl_end, "pl_radius_half": 8e-5, "distance": dist_end}]
    return {"runs": [{"width": 512, "records": recs, "parameters": 17409}]}


def test_squared_judge_reproduces_the_pl_prediction():
    assert judge_squared(_pl(), SQUARED["smoke"]).verdict == "reproduced"


@pytest.mark.parametrize("kw", [{"lam_end": 0.3}, {"dist_end": 9.0}, {"loss_end": 0.01, "pl_end": 0.02}])
def test_squared_judge_rejects_a_world_without_pl(kw):
    # λ_min collapsed (the PL* ball assumption fails); the run left the radius; it stalled above zero loss
    assert judge_squared(_pl(**kw), SQUARED["smoke"]).verdict == "not reproduced"


def test_squared_judge_downgrades_a_pl_bound_below_the_loss():
    assert judge_squared(_pl(loss_end=1e-7, pl_end=1e-8), SQUARED["smoke"]).verdict == "partly"


# ---------------------------------------------------------------------------------------------------- CoGO
def _cogo(lower: float = 0.0, objective: float | None = None, certified_late: bool = False) -> dict:
    runs = []
    for steps, loss in ((50, 0.074), (1000, 7.8e-4)):
        obj = loss if objective is None else objective
        runs.append({"steps": steps, "objective": obj, "lower_bound": lower, "gap": obj - lower,
                     "certified": certified_late and steps == 1000, "direct_loss": loss, "reference": 1e-31,
                     "share_sum": obj, "zero_loss_width": 13, "constructions": ["order 8", "order 9", "order 7"]})
    return {"runs": runs}


def test_cogo_judge_reproduces_an_exact_certificate():
    assert judge_cogo(_cogo(), COGO["smoke"]).verdict == "reproduced"


@pytest.mark.parametrize("kw", [{"lower": 1e-4}, {"objective": 0.01}, {"certified_late": True}])
def test_cogo_judge_rejects_a_wrong_certificate(kw):
    # a positive lower bound (the construction reaches 0); a loss that is not the network's; a false certificate
    assert judge_cogo(_cogo(**kw), COGO["smoke"]).verdict == "not reproduced"


# ------------------------------------------------------------------------------------ breaking the method
@pytest.mark.parametrize("cid, module, name", [
    ("certify.quadratic", "netoptima.certification.quadratic", "certify_quadratic"),
    ("certify.softmax", "netoptima.certification.softmax", "certify_softmax"),
    ("certify.deq", "netoptima.certification.deq", "certify_deq"),
    ("certify.squared", "netoptima.certification.squared", "certify_module"),
    ("certify.cogo", "netoptima.certification.cogo", "certify_cogo"),
])
def test_an_inflated_lower_bound_is_not_reproduced(cid, module, name, monkeypatch, runner, one_thread):
    """Break the certifier: its lower bound is inflated to the objective (every network 'certified')."""
    import importlib

    mod = importlib.import_module(module)
    real = getattr(mod, name)

    def inflated(*args, **kwargs):
        c = real(*args, **kwargs)
        details = {k: v for k, v in c.details.items() if k != "reason"}
        return make_certificate(c.objective, c.objective, tol=kwargs.get("tol", 1e-6), method=c.method,
                                assumptions=c.assumptions, details=details)

    monkeypatch.setattr(mod, name, inflated)
    ev = run_claim(select([cid])[0], "smoke", runner)
    assert not ev.crashed, ev.judgement.detail
    assert ev.verdict == "not reproduced", ev.judgement


def test_settings_are_frozen_dataclasses():
    for table in (QUADRATIC, SOFTMAX, DEQ, SQUARED, COGO):
        assert set(table) == {"smoke", "small", "paper"}
        for s in table.values():
            assert dataclasses.is_dataclass(s) and s.deviation
