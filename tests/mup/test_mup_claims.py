"""The four mup.* judges on hand-written data (the paper's world and a world where it is wrong), and smoke runs with
the method broken on purpose (μP's parametrization swapped for another) that must not be called reproduced."""

from __future__ import annotations

import dataclasses
import math

import pytest

import netoptima.mup.models as models
from netoptima.claims import discover, run_claim, select
from netoptima.mup.claims import FEATURE_CHANGE, FEATURE_DIVERSITY, judge_feature_change, judge_feature_diversity
from netoptima.mup.claims_training import CONVERGENCE, TRANSFER, judge_global_convergence, judge_lr_transfer
from netoptima.mup.experiments import VARIANTS

IDS = ["mup.feature_change", "mup.feature_diversity", "mup.global_convergence", "mup.lr_transfer"]
WIDTHS = (128, 256, 512, 1024, 2048)


def test_prefix_selects_the_four_claims():
    assert sorted(c.id for c in select(["mup"])) == IDS


# ---- hand-written data ---------------------------------------------------------------------------------------------

def feature_data(change: dict[str, tuple[float, float]], lam: dict[str, tuple[float, float]],
                 joint: dict[str, tuple[float, float]] | None = None, *, nets=(("tanh", 2), ("relu", 2)),
                 bad: dict[tuple[str, int], dict] | None = None) -> dict:
    """Feature runs whose metrics are exact power laws of the width: ``change[label]`` are the width exponents of
    ‖Δx‖/‖x0‖ per layer, ``lam[label]`` those of λ_min(K/n) after training, ``joint[label]`` those of λ_min(J/n)
    of the joint Gram; at init every λ_min(K/n) grows like n^+0.25 and the 2N-probe one like n^+0.5 (the
    finite-size baselines). ``bad[net]`` overrides the exponents of one net (activation, L)."""
    runs = []
    for net in nets:
        ch, lm, jt = change, lam, joint or {}
        if bad and net in bad:
            ch, lm, jt = {**ch, **bad[net].get("change", {})}, {**lm, **bad[net].get("lam", {})}, {
                **jt, **bad[net].get("joint", {})}
        for label, (p, rule) in VARIANTS.items():
            for n in WIDTHS:
                x = n / WIDTHS[0]
                lam_n = [0.05 * x ** e for e in lm.get(label, (0.3, 0.5))]
                runs.append({"parametrization": p, "lr_rule": rule, "width": n, "seed": 0, "dataset": "mnist",
                             "activation": net[0], "depth": net[1] + 1, "base_width": 64, "diverged": False,
                             "change": [0.5 * x ** e for e in ch.get(label, (0.4, 0.4))],
                             "lam_n": lam_n, "lam": [v * n for v in lam_n], "lam_rel": [0.1, 0.1],
                             "joint_n": [0.01 * x ** e for e in jt.get(label, PAPER_JOINT.get(label, (0.5, 0.5)))],
                             "base2_n": [0.02 * x ** 0.5] * 2, "lam0_n": [0.05 * x ** 0.25] * 2,
                             "lam0": [0.05 * x ** 0.25 * n] * 2, "lam0_rel": [0.1] * 2})
    return {"runs": runs, "coord": []}


# joint Gram exponents (raw; the judge subtracts the 2N baseline +0.5): μP flat after it, NTP −1, SP −2, MF −1
PAPER_JOINT = {"SP": (-1.5, -1.5), "NTP": (-0.5, -0.5), "μP": (0.45, 0.5), "MF": (0.4, -0.6)}
PAPER_CHANGE = {"SP": (-1.3, -0.9), "NTP": (-0.5, -0.45), "μP": (0.03, -0.05), "MF": (-0.5, -0.5)}


def test_feature_change_judge_paper_world():
    j = judge_feature_change(feature_data(PAPER_CHANGE, {}), FEATURE_CHANGE["small"])
    assert j.verdict == "reproduced", j


def test_feature_change_judge_mup_exponent_equal_to_sps():
    j = judge_feature_change(feature_data({**PAPER_CHANGE, "μP": PAPER_CHANGE["SP"]}, {}), FEATURE_CHANGE["small"])
    assert j.verdict == "not reproduced", j


def test_feature_change_judge_mf_as_stable_as_mup_is_only_partly():
    j = judge_feature_change(feature_data({**PAPER_CHANGE, "MF": (-0.1, 0.0)}, {}), FEATURE_CHANGE["small"])
    assert j.verdict == "partly" and "only μP" in j.detail, j


def test_feature_change_judge_a_flat_band_only_for_mup_would_be_asymmetric():
    # SP shrinking at −0.2 is inside the neutral zone: it does not count as shrinking (nor μP at 0.2 as flat)
    j = judge_feature_change(feature_data({**PAPER_CHANGE, "SP": (-0.2, -0.2)}, {}), FEATURE_CHANGE["small"])
    assert j.verdict != "reproduced"
    j = judge_feature_change(feature_data({**PAPER_CHANGE, "μP": (0.2, 0.2)}, {}), FEATURE_CHANGE["small"])
    assert j.verdict != "reproduced"


PAPER_LAM = {"SP": (0.3, 0.55), "NTP": (0.3, 0.55), "μP": (0.3, 0.55), "MF": (0.25, -0.75)}


def test_feature_diversity_judge_paper_world():
    j = judge_feature_diversity(feature_data(PAPER_CHANGE, PAPER_LAM), FEATURE_DIVERSITY["small"])
    assert j.verdict == "reproduced", j


def test_feature_diversity_judge_mf_does_not_collapse():
    j = judge_feature_diversity(feature_data(PAPER_CHANGE, {**PAPER_LAM, "MF": PAPER_LAM["μP"]}),
                                FEATURE_DIVERSITY["small"])
    assert j.verdict == "not reproduced", j


def test_feature_diversity_judge_mup_collapses_like_mf():
    j = judge_feature_diversity(feature_data(PAPER_CHANGE, {**PAPER_LAM, "μP": PAPER_LAM["MF"]}),
                                FEATURE_DIVERSITY["small"])
    assert j.verdict == "not reproduced", j


def test_feature_diversity_judge_joint_gram_mup_decays_like_ntp():
    # the third measure alone: λ_min(K) as in the paper, but μP's final features stay as close to its initial
    # ones as NTP's do (dj = −1): the paper's "stable only for μP" fails
    j = judge_feature_diversity(feature_data(PAPER_CHANGE, PAPER_LAM, {**PAPER_JOINT, "μP": PAPER_JOINT["NTP"]}),
                                FEATURE_DIVERSITY["small"])
    assert j.verdict == "not reproduced", j
    assert "joint Gram: not reproduced" in j.detail


def test_feature_diversity_judge_joint_gram_sp_stable_is_not_reproduced():
    # SP's features leave their initial span as much as μP's (dj = 0): "all others decay" fails
    j = judge_feature_diversity(feature_data(PAPER_CHANGE, PAPER_LAM, {**PAPER_JOINT, "SP": (0.5, 0.5)}),
                                FEATURE_DIVERSITY["small"])
    assert j.verdict != "reproduced" and "joint Gram: partly" not in j.detail, j


def test_judges_take_the_worst_depth_and_ignore_the_extra_activation():
    s = dataclasses.replace(FEATURE_CHANGE["small"], hidden_layers=(2, 4))
    nets = (("tanh", 2), ("tanh", 4), ("relu", 2))
    assert judge_feature_change(feature_data(PAPER_CHANGE, {}, nets=nets), s).verdict == "reproduced"
    # the paper wrong at L=4 only: the verdict drops
    j = judge_feature_change(feature_data(PAPER_CHANGE, {}, nets=nets, bad={("tanh", 4): {"change": {
        "μP": PAPER_CHANGE["SP"]}}}), s)
    assert j.verdict == "not reproduced" and "L=4:" in j.measured, j
    # ReLU (outside Assumption 4.3) contradicting the paper is shown, never decides
    j = judge_feature_change(feature_data(PAPER_CHANGE, {}, nets=nets, bad={("relu", 2): {"change": {
        "μP": PAPER_CHANGE["SP"]}}}), s)
    assert j.verdict == "reproduced" and "relu extra at L=2" in j.detail and "would be not reproduced" in j.detail


def convergence_data(final: float, lam_exp: float, widths=(256, 1024)) -> dict:
    """μP runs whose loss goes from 0.14 to ``final`` and whose λ_min(K/n) scales as n^lam_exp."""
    runs = []
    for n in widths:
        lam = 0.02 * (n / widths[0]) ** lam_exp
        loss = [0.14 * (final / 0.14) ** (t / 10) for t in range(11)]
        runs.append({"width": n, "dataset": "mnist", "activation": "tanh", "depth": 3, "base_width": 64,
                     "diverged": False, "t": list(range(0, 101, 10)), "loss": loss,
                     "grad": [0.1 * math.sqrt(v / 0.14) for v in loss], "lam_n": [[2 * lam, lam]] * 11,
                     "lam_rel": [[0.1, 0.06]] * 11, "bound": [v * 2 for v in loss]})
    return {"runs": runs}


def test_global_convergence_judge_paper_world():
    assert judge_global_convergence(convergence_data(1e-8, 0.2), CONVERGENCE["small"]).verdict == "reproduced"


def test_global_convergence_judge_loss_stalls():
    j = judge_global_convergence(convergence_data(0.05, 0.2), CONVERGENCE["small"])
    assert j.verdict == "not reproduced", j


def test_global_convergence_judge_features_collapse_with_width():
    j = judge_global_convergence(convergence_data(1e-8, -1.0), CONVERGENCE["small"])
    assert j.verdict == "not reproduced", j


def transfer_data(mup_drift: float, sp_drift: float, s=TRANSFER["small"]) -> dict:
    """Loss curves exp(0.3 (k − k*)²) with k*(n) = −2 + drift·log2(n/n0); rates 2.5 octaves above k* diverge."""
    runs = []
    for p, drift in (("mup", mup_drift), ("sp", sp_drift)):
        for n in s.widths:
            k_star = -2.2 + drift * math.log2(n / s.widths[0])
            for k in s.log2_lrs:
                for seed in range(s.seeds):
                    loss = None if k > k_star + 2.5 else 0.01 * math.exp(0.3 * (k - k_star) ** 2) * (1 + 0.01 * seed)
                    runs.append({"parametrization": p, "width": n, "log2_lr": k, "seed": seed, "dataset": "mnist",
                                 "activation": "tanh", "depth": 3, "loss": loss, "diverged": loss is None})
    return {"runs": runs}


def test_lr_transfer_judge_paper_world():
    assert judge_lr_transfer(transfer_data(0.0, -1.0), TRANSFER["small"]).verdict == "reproduced"


def test_lr_transfer_judge_mup_drifts_like_sp():
    assert judge_lr_transfer(transfer_data(-1.0, -1.0), TRANSFER["small"]).verdict == "not reproduced"


def test_lr_transfer_band_is_the_same_for_both_sides():
    # issue 14: μP moving 1.34 octaves while SP moves 1 must not be "reproduced" (same band both sides)
    j = judge_lr_transfer(transfer_data(0.335, -0.25), TRANSFER["small"])
    assert j.verdict != "reproduced", j
    assert "+1.34" in j.measured or "+1.3" in j.measured


# ---- the method broken on purpose, at smoke scale --------------------------------------------------------------

def _swap(monkeypatch, what: str, to: str) -> None:
    """Build every ``what`` net with ``to``'s abc-values (the parametrization itself is swapped)."""
    table = models.abc
    monkeypatch.setattr(models, "abc", lambda p: table(to if p == what else p))


@pytest.mark.usefixtures("one_thread")
def test_lr_transfer_with_mup_swapped_for_sp_is_not_reproduced(monkeypatch, runner):
    _swap(monkeypatch, "mup", "sp")
    ev = run_claim(discover()["mup.lr_transfer"], "smoke", runner)
    assert ev.verdict == "not reproduced", ev.judgement


@pytest.mark.usefixtures("one_thread")
def test_feature_diversity_with_mup_swapped_for_mean_field_is_not_reproduced(monkeypatch, runner):
    _swap(monkeypatch, "mup", "mf")
    ev = run_claim(discover()["mup.feature_diversity"], "smoke", runner)
    assert ev.verdict == "not reproduced", ev.judgement


@pytest.mark.usefixtures("one_thread")
def test_feature_diversity_smoke_unbroken_is_reproduced(runner):
    # the control of the test above: the same smoke run with the real μP is not "not reproduced" (it is partly
    # there: after 8 steps μP's joint-Gram slope, −0.3/−0.55, is not yet inside the stable band)
    ev = run_claim(discover()["mup.feature_diversity"], "smoke", runner)
    assert ev.verdict in ("reproduced", "partly"), ev.judgement
    assert "λ_min(K): reproduced" in ev.judgement.detail, ev.judgement


def test_paper_scale_is_a_labelled_subset_of_the_papers_depths_and_the_full_grid_is_reachable(monkeypatch):
    from netoptima.mup.experiments import FULL_ENV, paper_scale

    for settings in (FEATURE_CHANGE, FEATURE_DIVERSITY, CONVERGENCE, TRANSFER):
        s = settings["paper"]
        assert s.deviation.startswith("paper setting, subset:") and s.hidden_layers == (2, 3, 4, 6)
        assert s.activation == "tanh" and s.extra_activation == "relu"
        for scale in ("smoke", "small"):
            assert settings[scale].activation == "tanh"
    for settings in (FEATURE_CHANGE, FEATURE_DIVERSITY):  # the joint Gram needs 2N <= every width
        assert all(2 * s.n_probe <= min(s.widths) for s in settings.values())
    sub = FEATURE_CHANGE["paper"]
    full = dataclasses.replace(sub, deviation="")
    monkeypatch.delenv("NETOPTIMA_PAPER_FULL", raising=False)
    monkeypatch.setenv(FULL_ENV, "1")  # the older μP-only name
    assert paper_scale(sub, full) is full
    monkeypatch.delenv(FULL_ENV)
    assert paper_scale(sub, full) is sub
    monkeypatch.setenv("NETOPTIMA_PAPER_FULL", "1")
    assert paper_scale(sub, full) is full
