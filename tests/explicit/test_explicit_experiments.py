"""The run functions of the explicit part on tiny configs: properties that hold whatever the verdict."""

from __future__ import annotations

import math

import pytest

from netoptima.explicit.experiments import lm_curve, lm_lbfgs, lm_setting

LM = {"vocab": 48, "train_tokens": 4000, "eval_tokens": 2000, "smoothing": 0.3, "context": 2, "aggregate": "sum",
      "seed": 0, "device": "cpu"}


def test_lm_setting_explicit_beats_uniform_and_lbfgs_never_ends_above_its_start(one_thread):
    r = lm_setting({**LM, "low_smoothing": 0.01, "epochs": 1, "lr": 1e-2, "batch": 256, "lbfgs_iter": 10})
    assert r["explicit"]["train"] < r["uniform"] == pytest.approx(math.log(48))
    assert r["optimum"]["train"] <= r["explicit"]["train"] + 1e-6  # L-BFGS starts at the explicit solution
    assert r["warm_curve"][0]["train"] == pytest.approx(r["explicit"]["train"], abs=1e-6)  # step 0 = explicit


def test_lm_lbfgs_meets_from_both_starts_on_the_convex_single_layer(one_thread):
    ends = [lm_lbfgs({**LM, "lbfgs_iter": 40, "start": st})["train"] for st in ("explicit", "random")]
    assert abs(ends[0] - ends[1]) < 1e-2  # convex in U: the same optimum (up to the iteration cap)


def test_lm_curve_warm_starts_on_the_explicit_solution_and_cold_far_from_it(one_thread):
    cfg = {**LM, "epochs": 1, "evals": 1, "lr": 1e-2, "batch": 256}
    warm, cold = (lm_curve({**cfg, "start": st}) for st in ("warm", "cold"))
    assert warm["curve"][0]["distance"] == pytest.approx(0.0, abs=1e-6)
    assert warm["curve"][0]["train"] == pytest.approx(warm["explicit_train"], abs=1e-6)
    assert cold["curve"][0]["distance"] > 0.5 and cold["curve"][0]["train"] > warm["explicit_train"]
