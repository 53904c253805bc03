"""The judges of the five explicit.* claims on hand-written data (a world consistent with the paper and one where
the paper is wrong), plus smoke-scale runs whose method is broken on purpose (the verdict must drop)."""

from __future__ import annotations

import torch

from netoptima.claims import discover, run_claim
from netoptima.explicit.claims import (
    BETTER,
    MNIST,
    NEAR,
    TOWARD,
    WARM,
    judge_better,
    judge_mnist,
    judge_near_optimal,
    judge_toward,
    judge_warm,
)
from netoptima.sweep import Runner

S = "small"


# --------------------------------------------------------------------------------------------- lm_near_optimal
def _setting(K, agg, *, explicit=(3.30, 4.50), opt=(3.20, 4.48), warm=(3.25, 4.47), converged=True, drop=0.0):
    """One LM setting: (train, test) CE of the explicit solution, the L-BFGS optimum and warm Adam (valid = test)."""
    loss = lambda tr, te: {"train": tr, "valid": te, "test": te}  # noqa: E731
    return {"context": K, "aggregate": agg, "explicit": loss(*explicit),
            "explicit_low_smoothing": loss(explicit[0] + 0.05, explicit[1] + 0.1),
            "optimum": {**loss(*opt), "converged": converged, "last10_drop": drop},
            "warm_final": loss(*warm), "warm_best": {**loss(*warm), "epoch": 1.0}}


def test_near_optimal_reproduced_when_optimization_gains_little():
    s = NEAR[S]
    j = judge_near_optimal({"runs": [_setting(K, a) for K, a in s.setups]}, s)
    assert j.verdict == "reproduced", j


def test_near_optimal_not_reproduced_when_training_improves_held_out_loss_a_lot():
    s = NEAR[S]  # a world where the explicit solution is 0.6 nats/token above what training reaches, on test too
    j = judge_near_optimal({"runs": [_setting(K, a, opt=(2.6, 3.9), warm=(2.7, 3.95)) for K, a in s.setups]}, s)
    assert j.verdict == "not reproduced", j


def test_near_optimal_partly_for_a_train_gap_or_a_solver_still_moving():
    s = NEAR[S]
    overfit = [_setting(K, a, opt=(2.9, 4.49)) for K, a in s.setups]  # fits train better, not test
    assert judge_near_optimal({"runs": overfit}, s).verdict == "partly"
    moving = [_setting(K, a, converged=False, drop=0.5) for K, a in s.setups]  # gap may be a stopped solver's
    assert judge_near_optimal({"runs": moving}, s).verdict == "partly"
    assert judge_near_optimal({"runs": [_setting(1, "sum")]}, s).verdict == "partly"  # 4 of 5 settings failed


# ------------------------------------------------------------------------------------ random_init_moves_toward
def _cold(seed, dist, ctrl):
    return {"seed": seed, "curve": [{"epoch": i / 2, "distance": d, "distance_control": c}
                                    for i, (d, c) in enumerate(zip(dist, ctrl, strict=True))]}


def test_toward_reproduced_when_the_distance_halves_and_beats_the_control():
    s = TOWARD[S]
    runs = [_cold(k, [1.0, 0.7, 0.5, 0.4], [1.2, 1.0, 0.9, 0.85]) for k in range(s.seeds)]
    assert judge_toward({"runs": runs}, s).verdict == "reproduced"


def test_toward_not_reproduced_when_training_does_not_approach_the_explicit_solution():
    s = TOWARD[S]
    runs = [_cold(k, [1.0, 1.0, 1.01, 1.02], [1.2, 1.0, 0.9, 0.85]) for k in range(s.seeds)]
    assert judge_toward({"runs": runs}, s).verdict == "not reproduced"


def test_toward_at_most_partly_when_the_control_is_as_close_or_training_moves_away_again():
    s = TOWARD[S]  # the distance halves, but to an unrelated target (shuffled text) just as much
    runs = [_cold(k, [1.0, 0.7, 0.5, 0.4], [1.0, 0.6, 0.4, 0.3]) for k in range(s.seeds)]
    assert judge_toward({"runs": runs}, s).verdict == "partly"
    runs = [_cold(k, [1.0, 0.5, 0.4, 0.5], [1.2, 1.0, 0.9, 0.85]) for k in range(s.seeds)]  # passes by, leaves
    assert judge_toward({"runs": runs}, s).verdict == "partly"


# ------------------------------------------------------------------------------------------- warm_start_faster
def _curve(start, seed, train, dt=0.1, explicit=0.01):
    return {"start": start, "seed": seed, "explicit_train": 3.4, "explicit_seconds": explicit,
            "curve": [{"epoch": i, "seconds": dt * i, "train": t} for i, t in enumerate(train)]}


def _warm_data(warm, cold, *, warm_dt=0.1, explicit=0.01):
    return {"warm": [_curve("warm", k, w, warm_dt, explicit) for k, w in enumerate(warm)],
            "cold": [_curve("cold", k, c) for k, c in enumerate(cold)],
            "optimum": {"train": 3.1, "converged": True}}  # targets 3.25 (q = 0.5) and 3.175 (q = 0.25)


def test_warm_reproduced_when_the_warm_start_trains_to_both_targets_first():
    warm = [[3.4, 3.3, 3.24, 3.2, 3.17]] * 2
    cold = [[6.0, 4.0, 3.5, 3.3, 3.26], [6.1, 4.2, 3.6, 3.35, 3.27]]
    assert judge_warm(_warm_data(warm, cold), WARM[S]).verdict == "reproduced"


def test_warm_time_is_epochs_at_the_pooled_rate_plus_the_explicit_formula():
    # warm runs resumed on a loaded machine (3x the wall seconds per epoch) still train in fewer epochs: timed at
    # the median rate of all runs they are faster; an explicit formula that costs more than the epochs saved is not
    warm = [[3.4, 3.3, 3.24, 3.2, 3.17]] * 2  # targets at epochs 2 and 4
    cold = [[6.0, 4.0, 3.5, 3.24, 3.2, 3.17]] * 3  # at epochs 3 and 5
    assert judge_warm(_warm_data(warm, cold, warm_dt=0.3), WARM[S]).verdict == "reproduced"
    # median rate 0.1 s/epoch: 1 epoch saved at each target = 0.1 s; a formula of 0.15 s eats it
    assert judge_warm(_warm_data(warm, cold, explicit=0.15), WARM[S]).verdict == "not reproduced"
    assert judge_warm(_warm_data(warm, cold, explicit=0.05), WARM[S]).verdict == "reproduced"


def test_warm_not_reproduced_when_the_cold_start_is_faster():
    warm = [[3.4, 3.39, 3.38, 3.37, 3.36]] * 2  # the warm start barely moves off the explicit solution
    cold = [[6.0, 3.2, 3.1, 3.1, 3.1]] * 2
    assert judge_warm(_warm_data(warm, cold), WARM[S]).verdict == "not reproduced"


def test_warm_start_loss_at_step_0_is_not_a_target():
    """The warm start sits at the explicit loss at step 0; if it never trains below it, nothing was faster."""
    warm = [[3.4, 3.4, 3.4, 3.4, 3.4]] * 2
    cold = [[6.0, 5.0, 4.0, 3.6, 3.5]] * 2  # the cold start does not get there either
    assert judge_warm(_warm_data(warm, cold), WARM[S]).verdict == "not reproduced"


# ------------------------------------------------------------------------------------------ mnist_no_training
def _mnist(acc, fine_tuned, optimum):
    return {"explicit": {"explicit": {"test_acc": acc, "train_ce": 2.4},
                         "tempered": {"alpha": 0.1, "train_ce": 0.5},
                         "warm_adam": {"test_acc": fine_tuned}, "cold_adam": {"test_acc": 0.85}},
            "optimum": {"test_acc": optimum}}


def test_mnist_reproduced_at_82_percent_with_marginal_gains():
    assert judge_mnist(_mnist(0.82, 0.835, 0.845), MNIST[S]).verdict == "reproduced"


def test_mnist_not_reproduced_when_the_untrained_classifier_is_poor():
    assert judge_mnist(_mnist(0.55, 0.90, 0.92), MNIST[S]).verdict == "not reproduced"


def test_mnist_training_that_adds_7_points_is_contrary_evidence():
    """The small-scale run before the audit: 83.6% untrained, 90.6% after two Adam epochs."""
    j = judge_mnist(_mnist(0.836, 0.906, 0.917), MNIST[S])
    assert j.verdict == "partly" and "90.6" in j.detail


# ---------------------------------------------------------------------------------------------- better_optima
def _better(single_explicit, single_random, warm, cold, cold_long, converged=True):
    s = BETTER[S]
    single = [{"start": st, "train": v, "converged": converged, "last10_drop": 0.0}
              for st, v in (("explicit", single_explicit), ("random", single_random))]
    two = {g: [{"start": g[:4], "train_ce": v, "test_acc": 0.9, "seed": k} for k in range(s.seeds)]
           for g, v in (("warm", warm), ("cold", cold), ("cold_long", cold_long))}
    return {"single": single, "two_layer": two}


def test_better_reproduced_when_both_models_reach_lower_optima_from_the_explicit_start():
    assert judge_better(_better(3.0, 3.2, 0.4, 1.0, 0.8), BETTER[S]).verdict == "reproduced"


def test_better_not_reproduced_when_backprop_reaches_the_same_or_lower_optima():
    assert judge_better(_better(3.12, 3.12, 1.0, 0.6, 0.3), BETTER[S]).verdict == "not reproduced"


def test_better_single_layer_same_optimum_caps_the_verdict():
    """The small-scale run before the audit: both single-layer starts end 1e-5 apart, left out of the verdict."""
    j = judge_better(_better(3.121737, 3.121728, 0.49, 0.97, 0.60), BETTER[S])
    assert j.verdict == "partly" and "same optimum" in j.measured
    unsettled = _better(3.0, 3.2, 0.4, 1.0, 0.8, converged=False)  # random start still moving: not evidence
    for r in unsettled["single"]:
        r["last10_drop"] = 0.1
    assert judge_better(unsettled, BETTER[S]).verdict == "partly"


# ------------------------------------------------------------------------- the method broken on purpose (smoke)
def _fresh(tmp_path, name):
    """A runner with its own runs directory: a broken method must not be served the intact method's records."""
    return Runner(tmp_path / name, workers=1, quiet=True)


def test_noise_instead_of_the_explicit_classifier_drops_the_mnist_verdict(runner, monkeypatch, one_thread, tmp_path):
    c = discover()["explicit.mnist_no_training"]
    assert run_claim(c, "smoke", runner).verdict == "reproduced"

    def noise(F, n, **kw):  # same shapes, no information from the statistics
        g = torch.Generator().manual_seed(1)
        return torch.randn(F.shape, generator=g, dtype=torch.float64), torch.randn(F.shape[1], generator=g)

    monkeypatch.setattr("netoptima.explicit.experiments.classifier_solution", noise)
    broken = run_claim(c, "smoke", _fresh(tmp_path, "broken"))
    assert broken.verdict == "not reproduced", broken.judgement


def test_noise_instead_of_the_explicit_lm_solution_drops_the_lm_verdicts(monkeypatch, one_thread, tmp_path):
    registry = discover()

    def noise(F, **kw):
        return torch.randn(F.shape, generator=torch.Generator().manual_seed(2), dtype=kw.get("dtype", torch.float32))

    monkeypatch.setattr("netoptima.explicit.experiments.explicit_solution", noise)
    broken = _fresh(tmp_path, "broken")  # one runs directory: the noisy claims share their cold starts
    for cid in ("explicit.lm_near_optimal", "explicit.random_init_moves_toward", "explicit.warm_start_faster"):
        ev = run_claim(registry[cid], "smoke", broken)
        assert ev.verdict == "not reproduced", (cid, ev.judgement)


def test_paper_full_switches_the_lm_paper_settings_between_the_labelled_subset_and_the_full_setting(monkeypatch):
    from netoptima.claims import paper_subset
    from netoptima.explicit import claims as ec

    def paper_settings() -> dict:
        return {k: paper_subset(*pair) for k, pair in ec.PAPER_PAIRS.items()}

    monkeypatch.delenv("NETOPTIMA_PAPER_FULL", raising=False)
    subsets = paper_settings()
    assert set(subsets) == {"explicit.lm_near_optimal", "explicit.random_init_moves_toward",
                            "explicit.warm_start_faster", "explicit.better_optima"}
    for s in subsets.values():
        assert s.deviation.startswith("paper setting, subset:") and (s.vocab, s.train_tokens) == (1_000, None)
    monkeypatch.setenv("NETOPTIMA_PAPER_FULL", "1")
    full = paper_settings()
    for k, s in full.items():
        assert (s.vocab, s.train_tokens, s.eval_tokens) == (5_000, None, None)
        assert not s.deviation.startswith("paper setting, subset:")
        # the subset leaves out the vocabulary (and the near-optimal claim's L-BFGS iterations), nothing else
        sub = subsets[k]
        diff = {f for f in ("epochs", "seeds", "lbfgs_iter", "setups", "n_train", "evals")
                if getattr(s, f, None) != getattr(sub, f, None)}
        assert diff == ({"lbfgs_iter"} if k == "explicit.lm_near_optimal" else set())
    assert full["explicit.lm_near_optimal"].lbfgs_iter == 500 and full["explicit.random_init_moves_toward"].seeds == 5
    # runs shared across claims need identical LM data and solver budgets in both settings
    for pick in (subsets, full):
        warm, better = pick["explicit.warm_start_faster"], pick["explicit.better_optima"]
        assert (warm.vocab, warm.lbfgs_iter, warm.context) == (better.vocab, better.lbfgs_iter, better.context)
