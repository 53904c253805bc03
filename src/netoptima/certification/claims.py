"""Claims ``certify.*``: the certificates of ``netoptima.certify`` against independently computed global optima.

Each claim trains networks with ordinary optimizers (Adam, gradient descent), certifies them, and compares the lower
bound with a global optimum the certifier never sees (the lifted SDP, a CVXPY solve, numpy's least squares). A
verdict fails when a bound is above the optimum, when a network above the optimum is certified, or when the bound
is loose where it should be tight; ``certify.squared`` checks the PL diagnosis along a gradient-descent run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netoptima.certification.claims_common import missing_runs
from netoptima.certification.experiments import (
    deq_trained,
    quadratic_sdp,
    quadratic_trained,
    softmax_reference,
    softmax_trained,
)
from netoptima.claims import Judgement, Settings, claim
from netoptima.sweep import Runner


def _bracket(runs: list[dict[str, Any]], *, tol: float, slack: float) -> tuple[list[str], int, int]:
    """(problems, non-global runs, bound violations) for runs with objective, lower_bound, certified, reference."""
    problems, nonglobal, violations = [], 0, 0
    for r in runs:
        ref, scale = r["reference"], max(1.0, abs(r["reference"]))
        if r["lower_bound"] > ref + slack * scale:
            violations += 1
            problems.append(f"lower bound {r['lower_bound']:.10g} above the optimum {ref:.10g}")
        above = r["objective"] - ref > tol * scale + slack * scale
        nonglobal += above
        if above and r["certified"]:
            problems.append(f"certified a network {r['objective'] - ref:.3g} above the optimum")
    return problems, nonglobal, violations


def _looseness(r: dict[str, Any]) -> float:
    return (r["reference"] - r["lower_bound"]) / max(1.0, abs(r["reference"]))


# --------------------------------------------------------------------------------------------- quadratic
@dataclass(frozen=True, kw_only=True)
class Quadratic(Settings):
    """Planted data (n, d, neurons), β, Adam nets of ``width`` trained for each of ``steps``, seeds."""

    n: int
    d: int
    neurons: int = 2
    beta: float = 0.5
    width: int = 8
    steps: tuple[int, ...]
    lr: float = 1e-2
    seeds: int
    data_seeds: int
    tol: float = 1e-6
    sdp_tol: float = 1e-8
    # the SDP is solved to 1e-8 (its value and the decoded net's objective agree to ~1e-8 relative; 1e-9 stalls
    # Clarabel at "optimal_inaccurate" on some data): a bound more than 1e-6 · max(1, p*) above p* is a violation,
    # 100x above that noise. At n = 100, d = 10 Clarabel stalls at 1e-8 on all three data sets (measured), so the
    # paper scale uses SCS at 1e-10: p* then agrees with fit_global's certified optimum to 2e-12 (data set 0)
    sdp_solver: str = "CLARABEL"
    slack: float = 1e-6
    # at the SDP-decoded optimum the dual point is the optimal one: measured looseness 1e-7 relative at small scale;
    # 1e-4 leaves room for the decoding's rounding yet rejects a bound that is loose at the optimum (Adam nets:
    # 10-70 %). At n = 100, d = 10 (paper) the decoded net is within 1e-10 of p* in objective but its bound is
    # 1.9e-5…7.3e-4 loose (the dual point is the residual: its infeasibility grows like the square root of the
    # primal error), so tightness there is limited by the SDP solve's accuracy and reads partly
    tight_tol: float = 1e-4


QUADRATIC = {
    "smoke": Quadratic(n=20, d=3, steps=(100, 2000), seeds=1, data_seeds=1,
                       deviation="planted n=20, d=3; one Adam net stopped at 100 steps, one at 2000"),
    "small": Quadratic(n=30, d=4, neurons=3, steps=(100, 2000, 5000), seeds=2, data_seeds=2,
                       deviation="planted n=30, d=4; 2 data sets × 2 seeds × 3 stopping points"),
    "paper": Quadratic(n=100, d=10, neurons=5, width=24, steps=(200, 5000, 20000), seeds=3, data_seeds=3,
                       sdp_solver="SCS", sdp_tol=1e-10,
                       deviation="planted (the notebook's n=100) with unit neurons and d=10 so the SDP stays small"),
}


def quadratic_run(s: Quadratic, runner: Runner) -> dict[str, Any]:
    base = {"n": s.n, "d": s.d, "neurons": s.neurons, "beta": s.beta, "tol": s.tol}
    sdp = runner.map(quadratic_sdp, [{**base, "data_seed": k, "sdp_tol": s.sdp_tol, "solver": s.sdp_solver}
                                     for k in range(s.data_seeds)],
                     desc="certify quadratic sdp")
    nets = runner.map(quadratic_trained, [{**base, "data_seed": k, "seed": runner.seed + j, "width": s.width,
                                           "steps": t, "lr": s.lr} for k in range(s.data_seeds)
                                          for j in range(s.seeds) for t in s.steps], desc="certify quadratic adam")
    return {"sdp": sdp, "nets": nets}


@claim(id="certify.quadratic", paper="Bartan & Pilanci (Neural Spectrahedra); netoptima.certify",
       statement="the trust-region dual lower bound of a quadratic-activation net is never above the SDP optimum "
                 "p*, certifies no net above it, and is tight at a global optimum",
       paper_value="lower_bound ≤ p* ≤ objective; gap 0 at the optimum", settings=QUADRATIC, run=quadratic_run,
       needs=("cvxpy",), cpu_only="the SDP is solved by CVXPY (Clarabel or SCS) on the CPU",
       budget={"smoke": "5 s", "small": "60 s", "paper": "20 min"})
def judge_quadratic(data: dict[str, Any], s: Quadratic) -> Judgement:
    rule = (f"reproduced iff every lower bound (Adam nets and the SDP-decoded optimum) is ≤ p* + {s.slack:g}·max(1,"
            f" p*), no net more than tol = {s.tol:g} above p* is certified, and at the SDP-decoded optimum the bound"
            f" is within {s.tight_tol:g}·max(1, p*) of p*; partly if only the tightness fails")
    p_star = {r["data_seed"]: r["p_star"] for r in data["sdp"]}
    runs = [{**r, "reference": p_star[r["data_seed"]]} for r in data["nets"] if r["data_seed"] in p_star]
    decoded = [{**r["decoded"], "reference": r["p_star"]} for r in data["sdp"]]
    if not runs or not decoded:
        return Judgement("not run", "-", rule, "no SDP or no trained net finished")
    problems, nonglobal, violations = _bracket(runs + decoded, tol=s.tol, slack=s.slack)
    tight = max(_looseness(r) for r in decoded)
    adam = sorted(_looseness(r) for r in runs)
    measured = (f"bound ≤ p* on {len(runs) + len(decoded) - violations}/{len(runs) + len(decoded)} nets; looseness "
                f"(p* − bound)/p* {tight:.2g} at the SDP optimum, {adam[0]:.2g}–{adam[-1]:.2g} on Adam nets")
    detail = (f"{nonglobal} of {len(runs) + len(decoded)} nets are above p* (none may be certified); certified: "
              f"{sum(r['certified'] for r in runs + decoded)}")
    if problems:
        return Judgement("not reproduced", measured, rule, detail + "; " + "; ".join(problems[:3]))
    missing = missing_runs(len(data["nets"]) + len(data["sdp"]), s.data_seeds * (s.seeds * len(s.steps) + 1),
                       nonglobal)
    if tight > s.tight_tol or missing:
        return Judgement("partly", measured, rule, detail + missing + ("; the bound is valid but loose at the "
                                                                       "optimum" if tight > s.tight_tol else ""))
    return Judgement("reproduced", measured, rule, detail)


# ------------------------------------------------------------------------------------------------ softmax
@dataclass(frozen=True, kw_only=True)
class Softmax(Settings):
    """Synthetic non-negative features; (kind, λ, separable) cases trained by full-batch Adam for each of
    ``steps``; seeds."""

    n: int
    d: int = 5
    classes: int = 3
    cases: tuple[tuple[str, float, bool], ...] = (("classifier", 0.0, False), ("linear", 0.05, False),
                                                  ("classifier", 0.0, True))
    steps: tuple[int, ...]
    lr: float = 0.05
    seeds: int
    tol: float = 1e-6
    # CVXPY (Clarabel) is run to gap tolerances 1e-9; its value is within ~1e-9 of the optimum (measured 2e-9)
    slack: float = 1e-7
    # looseness allowed at the longest-trained net of each case: the dual is exact at the optimum (λ = 0: Newton
    # solves the problem; λ > 0: zero duality gap at stationarity); 1e-6 is 10x the slack
    tight_tol: float = 1e-6


SOFTMAX = {
    "smoke": Softmax(n=100, steps=(20, 1500), seeds=1, deviation="n=100 synthetic, 3 cases × 2 stopping points"),
    "small": Softmax(n=300, steps=(20, 300, 3000), seeds=3, deviation="n=300 synthetic, 3 cases × 3 × 3 seeds"),
    "paper": Softmax(n=2000, d=20, classes=5, steps=(20, 300, 5000), seeds=5, deviation="synthetic features"),
}


def _problem_key(r: dict[str, Any]) -> tuple:
    return (r["weight_decay"], r["separable"], r["n"], r["d"], r["classes"], r["data_seed"])


def softmax_run(s: Softmax, runner: Runner) -> dict[str, Any]:
    problems = [{"weight_decay": lam, "separable": sep, "n": s.n, "d": s.d, "classes": s.classes,
                 "data_seed": runner.seed + j} for lam, sep in dict.fromkeys((lam, sep) for _, lam, sep in s.cases)
                for j in range(s.seeds)]
    refs = {_problem_key(r): r["reference"] for r in runner.map(softmax_reference, problems,
                                                                desc="certify softmax optimum")}
    configs = [{"kind": kind, "weight_decay": lam, "separable": sep, "n": s.n, "d": s.d, "classes": s.classes,
                "data_seed": runner.seed + j, "seed": runner.seed + j, "steps": t, "lr": s.lr, "tol": s.tol}
               for kind, lam, sep in s.cases for j in range(s.seeds) for t in s.steps]
    runs = runner.map(softmax_trained, configs, desc="certify softmax")
    return {"runs": [{**r, "reference": refs[_problem_key(r)]} for r in runs if _problem_key(r) in refs]}


@claim(id="certify.softmax", paper="Fenchel duality of the softmax layer; Williams & Zhao 2023 (XᵀŶ = XᵀY)",
       statement="the Fenchel dual bound of a single softmax layer is never above the convex optimum, certifies no "
                 "layer above it, is tight at a trained optimum, and is exactly 0 on separable data",
       paper_value="lower_bound ≤ L* ≤ objective; 0 = inf on separable data", settings=SOFTMAX, run=softmax_run,
       needs=("cvxpy",), cpu_only="the reference optimum is a CVXPY (Clarabel) solve on the CPU",
       budget={"smoke": "5 s", "small": "40 s", "paper": "10 min"})
def judge_softmax(data: dict[str, Any], s: Softmax) -> Judgement:
    rule = (f"reproduced iff every bound is ≤ the CVXPY optimum + {s.slack:g}·max(1, L*), no layer more than tol = "
            f"{s.tol:g} above it is certified, the longest-trained layer of each case is within {s.tight_tol:g} of "
            "it, and separable data is detected with bound 0; partly if only the tightness fails")
    runs = data["runs"]
    if not runs:
        return Judgement("not run", "-", rule, "no run finished")
    problems, nonglobal, violations = _bracket(runs, tol=s.tol, slack=s.slack)
    for r in runs:
        if r["separable"] and r["weight_decay"] == 0 and (r["separable_detected"] is not True or r["lower_bound"]):
            problems.append(f"separable data not recognised (detected {r['separable_detected']}, bound "
                            f"{r['lower_bound']:.3g})")
    last = max(r["steps"] for r in runs)
    loose = max(_looseness(r) for r in runs if r["steps"] == last)
    measured = (f"bound ≤ L* on {len(runs) - violations}/{len(runs)} layers; worst looseness at {last} Adam steps "
                f"{loose:.2g}; {sum(r['certified'] for r in runs)} certified")
    detail = f"{nonglobal} of {len(runs)} layers above the optimum (none may be certified)"
    if problems:
        return Judgement("not reproduced", measured, rule, detail + "; " + "; ".join(problems[:3]))
    missing = missing_runs(len(runs), len(s.cases) * s.seeds * len(s.steps), nonglobal)
    if loose > s.tight_tol or missing:
        return Judgement("partly", measured, rule, detail + missing + ("; valid but loose after the longest "
                                                                       "training" if loose > s.tight_tol else ""))
    return Judgement("reproduced", measured, rule, detail)


# ---------------------------------------------------------------------------------------------------- DEQ
@dataclass(frozen=True, kw_only=True)
class Deq(Settings):
    """Synthetic data (n, d, k); DEQLinear trained by gradient descent for each of ``steps``; seeds."""

    n: int
    d: int = 6
    k: int = 3
    losses: tuple[str, ...] = ("mse", "cross_entropy")
    steps: tuple[int, ...]
    lr_mse: float = 0.05  # stable GD steps on this data (0.5 diverges within 3 steps)
    lr_cross_entropy: float = 0.2
    seeds: int
    tol: float = 1e-6
    # the closed form and numpy's lstsq are both float64 least squares: they agree to ~1e-15; 1e-9 is far below
    # any gap worth reporting. CVXPY (cross-entropy reference) is within ~1e-9: slack 1e-7
    exact_tol: float = 1e-9
    slack: float = 1e-7


DEQ = {
    "smoke": Deq(n=40, steps=(20, 2000), seeds=1, deviation="synthetic n=40, d=6; 2 stopping points"),
    "small": Deq(n=200, d=10, steps=(20, 500, 4000), seeds=2, deviation="synthetic n=200, d=10, 2 seeds"),
    "paper": Deq(n=1000, d=20, k=5, steps=(20, 1000, 10000), seeds=5, deviation="synthetic data, not MNIST"),
}

def deq_run(s: Deq, runner: Runner) -> dict[str, Any]:
    lr = {"mse": s.lr_mse, "cross_entropy": s.lr_cross_entropy}
    configs = [{"loss": loss, "n": s.n, "d": s.d, "k": s.k, "data_seed": runner.seed + j, "seed": runner.seed + j,
                "steps": t, "lr": lr[loss], "tol": s.tol} for loss in s.losses for j in range(s.seeds)
               for t in s.steps]
    return {"runs": runner.map(deq_trained, configs, desc="certify deq")}


@claim(id="certify.deq", paper="Kawaguchi 2021 (global optimum of deep equilibrium linear models)",
       statement="the DEQ certificate's L* equals the linear model's optimum computed independently, so the gap of "
                 "a GD-trained DEQ is exact; no network above L* is certified",
       paper_value="L* = min_W (1/n)Σℓ(Wφ(x_i), y_i); gap exact", settings=DEQ, run=deq_run, needs=("cvxpy",),
       cpu_only="the cross-entropy reference is a CVXPY solve on the CPU",
       budget={"smoke": "3 s", "small": "60 s", "paper": "10 min"})
def judge_deq(data: dict[str, Any], s: Deq) -> Judgement:
    rule = (f"reproduced iff the mse bound equals numpy's least-squares optimum within {s.exact_tol:g}·max(1, L*), "
            f"the cross-entropy bound is ≤ the CVXPY optimum + {s.slack:g} and within {s.slack:g} of it, and no net "
            f"more than tol = {s.tol:g} above L* is certified; otherwise not reproduced")
    runs = data["runs"]
    if not runs:
        return Judgement("not run", "-", rule, "no run finished")
    problems, nonglobal, _ = _bracket(runs, tol=s.tol, slack=s.slack)
    errs = [abs(r["lower_bound"] - r["reference"]) / max(1.0, abs(r["reference"])) for r in runs]
    for r, e in zip(runs, errs, strict=True):
        if e > (s.exact_tol if r["loss"] == "mse" else s.slack):
            problems.append(f"{r['loss']}: bound {r['lower_bound']:.10g} vs optimum {r['reference']:.10g}")
    measured = (f"max |bound − L*|/max(1, L*) = {max(errs):.2g} over {len(runs)} nets; "
                f"{sum(r['certified'] for r in runs)} certified, {nonglobal} above L*")
    detail = "gaps: " + ", ".join(f"{r['loss']}@{r['steps']}: {r['gap']:.2g}" for r in runs[:8])
    if problems:
        return Judgement("not reproduced", measured, rule, detail + "; " + "; ".join(problems[:3]))
    missing = missing_runs(len(runs), len(s.losses) * s.seeds * len(s.steps), nonglobal)
    return Judgement("partly" if missing else "reproduced", measured, rule, detail + missing)


# certify.squared and certify.cogo (lower bound 0) live in their own module; importing it registers them
from netoptima.certification.claims_zero import (  # noqa: E402
    COGO,
    SQUARED,
    Cogo,
    Squared,
    judge_cogo,
    judge_squared,
)

__all__ = ["COGO", "DEQ", "QUADRATIC", "SOFTMAX", "SQUARED", "Cogo", "Deq", "Quadratic", "Softmax", "Squared",
           "judge_cogo", "judge_deq", "judge_quadratic", "judge_softmax", "judge_squared"]
